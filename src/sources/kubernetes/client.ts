import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { KubeConfig } from './config.js';
import { ErrorCodes } from '../../core/errors.js';
import { KubeError, statusError } from './errors.js';

/**
 * GET requests to the API server with node:http(s) alone: the cluster's CA,
 * a client certificate or a bearer token (asked for before each request, so
 * a rotated token is picked up), keep-alive connections. A status other than
 * 200 becomes a KubeError carrying the API's Status (code, reason, message).
 */
export class KubeClient {
  private readonly agent: HttpAgent;
  private readonly https: boolean;

  constructor(
    readonly config: KubeConfig,
    private readonly userAgent = 'weft-agent',
  ) {
    this.https = config.server.protocol === 'https:';
    this.agent = this.https
      ? new HttpsAgent({
          keepAlive: true,
          keepAliveMsecs: 30_000,
          rejectUnauthorized: !config.insecureSkipTlsVerify,
          ...(config.ca ? { ca: config.ca } : {}),
          ...(config.cert ? { cert: config.cert } : {}),
          ...(config.key ? { key: config.key } : {}),
          ...(config.tlsServerName ? { servername: config.tlsServerName } : {}),
        })
      : new HttpAgent({ keepAlive: true, keepAliveMsecs: 30_000 });
  }

  /** The URL of `path` on the server (a server URL's own path is kept as a prefix). */
  url(path: string, query: Readonly<Record<string, string>> = {}): URL {
    const url = new URL(this.config.server.href);
    url.pathname = url.pathname.replace(/\/$/, '') + path;
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  /**
   * Sends GET and resolves with the response once its headers are in and its
   * status is 200. `headersTimeoutMs` bounds the wait for the headers.
   */
  get(
    path: string,
    query: Readonly<Record<string, string>>,
    signal: AbortSignal,
    headersTimeoutMs: number,
  ): Promise<IncomingMessage> {
    return this.send('GET', path, query, signal, headersTimeoutMs);
  }

  /**
   * Sends a JSON merge patch (RFC 7386) and resolves with the object the
   * server returns; any status but 200 rejects with a KubeError.
   */
  async mergePatch(
    path: string,
    patch: unknown,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<unknown> {
    const body = JSON.stringify(patch);
    const res = await this.send('PATCH', path, {}, signal, timeoutMs, {
      type: 'application/merge-patch+json',
      body,
    });
    const text = await readText(res, 1 << 20, timeoutMs).catch((e: unknown) => {
      throw connectionError(this.config.server, e);
    });
    try {
      return JSON.parse(text);
    } catch {
      throw new KubeError(ErrorCodes.KUBE_PROTOCOL, `PATCH ${path}: the response is not JSON`);
    }
  }

  private async send(
    method: 'GET' | 'PATCH',
    path: string,
    query: Readonly<Record<string, string>>,
    signal: AbortSignal,
    headersTimeoutMs: number,
    content?: { readonly type: string; readonly body: string },
  ): Promise<IncomingMessage> {
    const token = await this.config.token?.token();
    const url = this.url(path, query);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': this.userAgent,
    };
    if (token) headers['Authorization'] = `Bearer ${token}`;
    if (content) {
      headers['Content-Type'] = content.type;
      headers['Content-Length'] = String(Buffer.byteLength(content.body));
    }
    const send = this.https ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(url, { method, agent: this.agent, headers, signal }, (res) => {
        clearTimeout(timer);
        if (res.statusCode === 200) {
          resolve(res);
          return;
        }
        readText(res, 64 * 1024).then(
          (text) => reject(errorFromBody(res.statusCode ?? 0, text)),
          (e: unknown) => reject(connectionError(this.config.server, e)),
        );
      });
      const timer = setTimeout(() => {
        req.destroy(
          new KubeError(
            ErrorCodes.KUBE_CONNECTION,
            `no response from ${this.config.server.origin} within ${headersTimeoutMs} ms`,
          ),
        );
      }, headersTimeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(
          e instanceof KubeError || signal.aborted ? e : connectionError(this.config.server, e),
        );
      });
      req.end(content?.body);
    });
  }

  /** GET and parse the whole body as JSON (a LIST page). */
  async getJson(
    path: string,
    query: Readonly<Record<string, string>>,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<unknown> {
    const res = await this.get(path, query, signal, timeoutMs);
    let text: string;
    try {
      text = await readText(res, Infinity, timeoutMs);
    } catch (e) {
      throw signal.aborted ? e : connectionError(this.config.server, e);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new KubeError(ErrorCodes.KUBE_PROTOCOL, `GET ${path}: the response is not JSON`);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The body as text (kept up to `limit` bytes); fails when cut off or silent for `idleMs`. */
function readText(res: IncomingMessage, limit: number, idleMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (e?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      if (!e) return resolve(Buffer.concat(chunks).toString('utf8'));
      res.destroy();
      reject(e);
    };
    const idle = setTimeout(
      () => finish(new Error(`the response stalled for ${idleMs} ms`)),
      idleMs,
    );
    res.on('data', (c: Buffer) => {
      idle.refresh();
      if (size < limit) chunks.push(c);
      size += c.length;
    });
    res.on('end', () => finish());
    res.on('error', (e) => finish(e));
    res.on('close', () => finish(new Error('the response was cut off')));
  });
}

function errorFromBody(code: number, text: string): KubeError {
  try {
    const status = JSON.parse(text) as { kind?: unknown; reason?: unknown; message?: unknown };
    if (status.kind === 'Status') {
      const reason = typeof status.reason === 'string' ? status.reason : undefined;
      const message = typeof status.message === 'string' ? status.message : '';
      return statusError(code, reason, message);
    }
  } catch {
    // Not a Status: say what came.
  }
  return statusError(code, undefined, text.slice(0, 200).trim() || '(empty body)');
}

export function connectionError(server: URL, e: unknown): KubeError {
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? '';
  const tls =
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code) ||
    /certificate/i.test(err.message ?? '');
  const fix = tls
    ? ' (fix: give the CA that signed the server certificate: certificate-authority in the kubeconfig, ca.crt in cluster)'
    : '';
  return new KubeError(
    ErrorCodes.KUBE_CONNECTION,
    `${server.origin}: ${err.message ?? String(e)}${code && !err.message?.includes(code) ? ` (${code})` : ''}${fix}`,
  );
}
