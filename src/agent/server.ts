import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ClientRule } from '../core/listen/access.js';
import { boundConnections, refused } from '../listen/guard.js';
import type { ListenerMetrics } from '../listen/metrics.js';
import { STREAM_LIMITS, StreamGate, type StreamLimits } from '../listen/streams.js';

/** A handler that writes its own response; streams open through the listener's gate. */
export type RawHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  streams: StreamGate,
) => void | Promise<void>;

export interface Routes {
  /** `POST /v1/cni`: one CNI invocation, answered as the plugin's stdout and exit code. */
  readonly cni: (
    env: Record<string, string>,
    stdin: string,
  ) => Promise<{ exitCode: number; stdout: string }>;
  readonly status: () => { ready: boolean; message?: string };
  /** Extra `GET` endpoints (path → JSON body). */
  readonly get?: Readonly<Record<string, () => unknown>>;
  // (handlers may return a Promise; it is awaited)
  /** `GET` endpoints that write their own response (streams, text), given the request. */
  readonly raw?: Readonly<Record<string, RawHandler>>;
  /** Whom every TCP listener answers (checked before routing); the unix socket answers root. */
  readonly rule: () => ClientRule;
  readonly metrics: ListenerMetrics;
  /** Stream bounds per TCP listener (default STREAM_LIMITS). */
  readonly streamLimits?: StreamLimits;
}

const MAX_BODY = 1 << 20;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY) reject(new Error('request body over 1 MiB'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * What each TCP listener serves. `health` (--health): health and metrics,
 * for the kubelet and Prometheus. `observe` (--observe): besides, the
 * read-only views `weft observe`, `status`, `endpoints` and `ui` read —
 * flows, status, IR, endpoints by policy, the source. CNI and the raw
 * endpoint records stay on the root-only unix socket.
 */
const TCP_PATHS = {
  health: new Set(['/healthz', '/metrics']),
  observe: new Set([
    '/healthz',
    '/metrics',
    '/v1/status',
    '/v1/flows',
    '/v1/ir',
    '/v1/policy',
    '/v1/endpoints/policy',
    '/v1/source',
  ]),
} as const;

type Listener = 'unix' | keyof typeof TCP_PATHS;

async function handle(
  routes: Routes,
  req: IncomingMessage,
  res: ServerResponse,
  listener: Listener,
  streams: StreamGate,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (
    listener !== 'unix' &&
    !(req.method === 'GET' && path !== undefined && TCP_PATHS[listener].has(path))
  )
    return send(res, 404, { error: `no route ${req.method} ${path} on the ${listener} listener` });
  if (req.method === 'POST' && path === '/v1/cni') {
    const body = JSON.parse(await readBody(req)) as {
      env?: Record<string, string>;
      stdin?: string;
    };
    send(res, 200, await routes.cni(body.env ?? {}, body.stdin ?? ''));
    return;
  }
  if (req.method === 'GET' && path === '/v1/status') return send(res, 200, routes.status());
  if (req.method === 'GET' && path === '/healthz') {
    const s = routes.status();
    return send(res, s.ready ? 200 : 503, s);
  }
  const raw = req.method === 'GET' && path ? routes.raw?.[path] : undefined;
  if (raw) return raw(req, res, streams);
  const extra = req.method === 'GET' && path ? routes.get?.[path] : undefined;
  if (extra) return send(res, 200, await extra());
  send(res, 404, { error: `no route ${req.method} ${path}` });
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * The agent API on a unix socket, and optionally over TCP: health and
 * metrics (`tcp`), and the read-only observation views (`observe`).
 */
export async function listen(
  routes: Routes,
  socket: string,
  tcp?: HostPort,
  observe?: HostPort,
): Promise<Server[]> {
  const make = (listener: Listener) => {
    // Root's own socket: no access rule, and its clients (the local UI, weft observe) share one bound.
    const limits = routes.streamLimits ?? STREAM_LIMITS;
    const streams = new StreamGate(
      listener,
      listener === 'unix' ? { ...limits, maxPerClient: limits.maxStreams } : limits,
      routes.metrics,
    );
    routes.metrics.register(listener);
    const guard = { listener, rule: routes.rule, metrics: routes.metrics };
    const server = createServer((req, res) => {
      if (listener !== 'unix' && refused(guard, req, res)) return;
      handle(routes, req, res, listener, streams).catch((e: unknown) => {
        if (!res.headersSent) send(res, 500, { error: e instanceof Error ? e.message : String(e) });
      });
    });
    return listener === 'unix' ? server : boundConnections(server);
  };
  await mkdir(dirname(socket), { recursive: true });
  await rm(socket, { force: true });
  const unix = make('unix');
  await new Promise<void>((resolve, reject) => unix.once('error', reject).listen(socket, resolve));
  await chmod(socket, 0o600);
  const servers = [unix];
  for (const [listener, at] of [
    ['health', tcp],
    ['observe', observe],
  ] as const) {
    if (!at) continue;
    const t = make(listener);
    await new Promise<void>((resolve, reject) =>
      t.once('error', reject).listen(at.port, at.host, resolve),
    );
    servers.push(t);
  }
  return servers;
}
