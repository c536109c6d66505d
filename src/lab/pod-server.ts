/**
 * The lab's pod server: one small process per pod, inside the pod's network
 * namespace. On every declared port number (TCP and UDP, dual-stack) it
 * echoes and answers agnhost netexec's `hostname` and `clientip` (see
 * netexec.ts), and, asked over its control socket, probes other addresses
 * from inside the pod, so `weft lab probe` measures real packets without a
 * process per connection.
 *
 * The control API is HTTP over a unix socket. Unix sockets belong to the
 * filesystem, not to a network namespace, so the lab CLI in the root
 * namespace reaches a server that runs inside a pod:
 *
 *   GET  /healthz   → PodServerHealth
 *   POST /probe     { targets: ProbeTarget[], concurrency? } → { results: ProbeResult[] }
 *   POST /shutdown  → { ok: true }, then the server closes (and its process exits)
 *
 * The shapes on the wire are declared with the client, in probe-client.ts.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, isIP, type Server, type Socket } from 'node:net';
import { hostname as machineHostname } from 'node:os';
import { dirname } from 'node:path';
import { PORT_LIMITS, serveConnection, udpAnswer } from './netexec.js';
import {
  ProbeRequestError,
  parseProbeRequest,
  type PodServerHealth,
  type PortProtocol,
  type ProbeOutcome,
  type ProbeResult,
  type ProbeTarget,
  type ServedPort,
  type UnservedPort,
} from './probe-client.js';

/** A container port as the pod declares it. */
export interface DeclaredPort {
  readonly port: number;
  readonly protocol: PortProtocol;
}

export interface PodServerOptions {
  /** The unix socket path of the control API (created, replacing a stale one). */
  readonly control: string;
  readonly ports: readonly DeclaredPort[];
  /** What `hostname` answers (the pod's hostname); the machine's when absent, as agnhost does. */
  readonly hostname?: string;
  /** TCP connections one port holds at once; PORT_LIMITS.maxConnections when absent. */
  readonly maxConnections?: number;
}

export interface PodServer {
  health(): PodServerHealth;
  /** Resolves once the server has closed, by close() or by `POST /shutdown`. */
  readonly closed: Promise<void>;
  /** Stops listening, aborts running probes, removes the control socket. Idempotent. */
  close(): Promise<void>;
}

const MAX_BODY = 16 << 20;

/** A request the server will not run: answered 400 with this message. */
class BadRequest extends Error {}

export async function startPodServer(opts: PodServerOptions): Promise<PodServer> {
  const numbers = new Set<number>();
  for (const p of opts.ports) {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)
      throw new Error(`port ${String(p.port)}: not a port number (1-65535)`);
    numbers.add(p.port);
  }
  const notServed: UnservedPort[] = opts.ports
    .filter((p) => p.protocol === 'SCTP')
    .map((p) => ({ ...p, reason: 'SCTP sockets are not available on this kernel' }));
  const ports: ServedPort[] = [...numbers]
    .sort((a, b) => a - b)
    .flatMap((port) => [
      { port, protocol: 'TCP' as const },
      { port, protocol: 'UDP' as const },
    ]);
  const health = (): PodServerHealth => ({ ok: true, pid: process.pid, ports, notServed });

  const listeners = new PortListeners(
    opts.hostname ?? machineHostname(),
    opts.maxConnections ?? PORT_LIMITS.maxConnections,
  );
  const prober = new Prober();
  let close: () => Promise<void> = () => Promise.resolve();
  const control = createServer((req, res) => {
    handle(req, res, { health, prober, shutdown: () => void close() }).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, { error: errorText(e) });
      else res.destroy();
    });
  });
  control.on('error', () => undefined);

  let closing: Promise<void> | undefined;
  let markClosed = (): void => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  close = () =>
    (closing ??= (async () => {
      prober.abortAll();
      control.closeAllConnections();
      await Promise.all([
        new Promise<void>((resolve) => control.close(() => resolve())),
        listeners.close(),
      ]);
      await rm(opts.control, { force: true });
      markClosed();
    })());

  try {
    for (const port of numbers) await listeners.listen(port);
    await mkdir(dirname(opts.control), { recursive: true });
    await rm(opts.control, { force: true });
    await new Promise<void>((resolve, reject) => {
      control.once('error', reject).listen(opts.control, () => {
        control.off('error', reject);
        resolve();
      });
    });
    await chmod(opts.control, 0o600);
  } catch (e) {
    await close();
    throw e;
  }
  return { health, closed, close };
}

// ---- the declared ports ------------------------------------------------------

/** TCP and UDP sockets of the declared ports, bound to `::` (IPv4 too) or, without IPv6, to 0.0.0.0. */
class PortListeners {
  private readonly servers: Server[] = [];
  private readonly udp: UdpSocket[] = [];
  private readonly conns = new Set<Socket>();

  constructor(
    private readonly hostname: string,
    private readonly maxConnections: number,
  ) {}

  async listen(port: number): Promise<void> {
    this.servers.push(await dualStack((host) => this.listenTcp(host, port)));
    this.udp.push(await dualStack((host) => listenUdp(host, port, this.hostname)));
  }

  private listenTcp(host: string, port: number): Promise<Server> {
    const server = createTcpServer((s) => {
      this.conns.add(s);
      s.on('close', () => this.conns.delete(s));
      serveConnection(s, this.hostname);
    });
    server.maxConnections = this.maxConnections;
    return new Promise((resolve, reject) => {
      server.once('error', reject).listen({ host, port, ipv6Only: false }, () => {
        server.off('error', reject).on('error', () => undefined);
        resolve(server);
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.conns) s.destroy();
    await Promise.all([
      ...this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      ...this.udp.map((u) => new Promise<void>((resolve) => u.close(() => resolve()))),
    ]);
  }
}

function listenUdp(host: string, port: number, hostname: string): Promise<UdpSocket> {
  const sock = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', ipv6Only: false });
  // A reply that cannot be sent (no route back) is dropped, like the kernel would.
  sock.on('message', (msg, from) =>
    sock.send(udpAnswer(msg, from, hostname), from.port, from.address, () => undefined),
  );
  return new Promise((resolve, reject) => {
    sock.once('error', reject).bind({ address: host, port }, () => {
      sock.off('error', reject).on('error', () => undefined);
      resolve(sock);
    });
  });
}

/** Binds on `::` (dual-stack); where the kernel has no IPv6 at all, on 0.0.0.0. */
async function dualStack<T>(bind: (host: string) => Promise<T>): Promise<T> {
  try {
    return await bind('::');
  } catch (e) {
    const code = errorCode(e);
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw e;
    return bind('0.0.0.0');
  }
}

// ---- control API -------------------------------------------------------------

interface Handlers {
  readonly health: () => PodServerHealth;
  readonly prober: Prober;
  readonly shutdown: () => void;
}

const ROUTES: Readonly<Record<string, string>> = {
  '/healthz': 'GET',
  '/probe': 'POST',
  '/shutdown': 'POST',
};

async function handle(req: IncomingMessage, res: ServerResponse, h: Handlers): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const method = ROUTES[path];
  if (method === undefined) return send(res, 404, { error: `no route ${path}` });
  if (req.method !== method)
    return send(res, 405, { error: `${path} takes ${method}, not ${req.method ?? '?'}` });
  try {
    if (path === '/healthz') return send(res, 200, h.health());
    if (path === '/shutdown') {
      res.once('finish', h.shutdown);
      return send(res, 200, { ok: true });
    }
    const { targets, concurrency } = parseProbeRequest(await readJson(req));
    const batch = { cancelled: false };
    res.once('close', () => (batch.cancelled = !res.writableFinished));
    send(res, 200, { results: await h.prober.run(targets, concurrency, batch) });
  } catch (e) {
    if (e instanceof BadRequest || e instanceof ProbeRequestError)
      return send(res, 400, { error: e.message });
    throw e;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY) return reject(new BadRequest(`request body over ${MAX_BODY} bytes`));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(new BadRequest(`request body is not JSON: ${errorText(e)}`));
      }
    });
  });
}

// ---- probes ------------------------------------------------------------------

/** Runs probe batches; every socket it opens is closed when its probe settles. */
class Prober {
  /** Settles each running probe as aborted (used on close). */
  private readonly running = new Set<() => void>();
  private seq = 0;

  async run(
    targets: readonly ProbeTarget[],
    concurrency: number,
    batch: { readonly cancelled: boolean },
  ): Promise<ProbeResult[]> {
    const results: ProbeResult[] = new Array<ProbeResult>(targets.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < targets.length; i = next++) {
        const t = targets[i] as ProbeTarget;
        results[i] = batch.cancelled
          ? { ok: false, outcome: 'error', error: 'cancelled: the client went away', ms: 0 }
          : await this.probe(t);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
    return results;
  }

  abortAll(): void {
    for (const abort of [...this.running]) abort();
  }

  private probe(t: ProbeTarget): Promise<ProbeResult> {
    const nonce = Buffer.from(`weft-probe ${process.pid} ${++this.seq}\n`);
    const open = t.protocol === 'TCP' ? openTcp : openUdp;
    const start = performance.now();
    return new Promise((resolve) => {
      let done = false;
      let attempt: Attempt | undefined;
      const settle = (outcome: ProbeOutcome, error?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.running.delete(abort);
        attempt?.close();
        const ms = Math.round((performance.now() - start) * 10) / 10;
        resolve(
          outcome === 'connected' ? { ok: true, outcome, ms } : { ok: false, outcome, error, ms },
        );
      };
      const abort = () => settle('error', 'aborted: the pod server is shutting down');
      const timer = setTimeout(() => settle('timeout', attempt?.timedOut()), t.timeoutMs);
      this.running.add(abort);
      try {
        attempt = open(t, nonce, settle);
      } catch (e) {
        settle('error', errorText(e));
      }
      if (done) attempt?.close();
    });
  }
}

type Settle = (outcome: ProbeOutcome, error?: string) => void;

interface Attempt {
  /** Releases the socket; called exactly once, when the probe settles. */
  close(): void;
  /** What the timeout means at the stage the attempt reached. */
  timedOut(): string;
}

/** Connect, send the nonce, expect it back. */
function openTcp(t: ProbeTarget, nonce: Buffer, settle: Settle): Attempt {
  let connected = false;
  let got = Buffer.alloc(0);
  const sock = connect({ host: t.ip, port: t.port, noDelay: true });
  sock.on('connect', () => {
    connected = true;
    sock.write(nonce);
  });
  sock.on('data', (d: Buffer) => {
    got = Buffer.concat([got, d]);
    if (got.length < nonce.length) return;
    if (got.subarray(0, nonce.length).equals(nonce)) settle('connected');
    else settle('error', 'connected, but the answer is not the echo of what was sent');
  });
  sock.on('error', (e) => settle(refusedOrError(e), errorText(e)));
  sock.on('close', () =>
    settle('error', connected ? 'connected, but closed before the echo' : 'closed'),
  );
  return {
    close: () => sock.destroy(),
    timedOut: () =>
      connected
        ? `connected, but no echo within ${t.timeoutMs} ms`
        : `no answer to connect within ${t.timeoutMs} ms`,
  };
}

/**
 * Send the nonce on a connected UDP socket and expect it back. Connected, so
 * an ICMP port unreachable comes back as ECONNREFUSED.
 */
function openUdp(t: ProbeTarget, nonce: Buffer, settle: Settle): Attempt {
  const sock = createSocket(isIP(t.ip) === 6 ? 'udp6' : 'udp4');
  const peer = isIP(t.ip) === 6 ? `[${t.ip}]:${t.port}` : `${t.ip}:${t.port}`;
  const fail = (e: Error) => settle(refusedOrError(e), `${e.message} (UDP ${peer})`);
  sock.on('error', fail);
  sock.on('message', (msg) => {
    if (msg.equals(nonce)) settle('connected');
  });
  // Without a callback, a failed connect (no route: EINVAL, ENETUNREACH) is an 'error' event.
  sock.once('connect', () => sock.send(nonce, (e) => e && fail(e)));
  sock.connect(t.port, t.ip);
  return {
    close: () => {
      try {
        sock.close();
      } catch {
        // already closed
      }
    },
    timedOut: () => `no echo within ${t.timeoutMs} ms`,
  };
}

function refusedOrError(e: unknown): ProbeOutcome {
  return errorCode(e) === 'ECONNREFUSED' ? 'refused' : 'error';
}

function errorCode(e: unknown): string | undefined {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
