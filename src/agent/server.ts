import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentRoutes, routeAt, type JsonRoute, type Listener } from '../api/routes.js';
import type {
  AgentReadiness,
  CniWireRequest,
  CniWireResponse,
  StatusDetail,
} from '../api/types.js';
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

/** The JSON routes a handler answers by returning the route's answer. */
type GetRoutes = 'ir' | 'policy' | 'endpointsPolicy' | 'source' | 'endpoints' | 'ipam';
type AnswerOf<K extends GetRoutes> = (typeof AgentRoutes)[K] extends JsonRoute<infer T> ? T : never;

export interface Handlers {
  /** `POST /v1/cni`: one CNI invocation, answered as the plugin's stdout and exit code. */
  readonly cni: (env: Record<string, string>, stdin: string) => Promise<CniWireResponse>;
  /** `GET /v1/status`, and `GET /healthz` (503 while not ready). */
  readonly status: () => AgentReadiness & StatusDetail;
  /** The other JSON routes; one without a handler answers 404. */
  readonly get?: { readonly [K in GetRoutes]?: () => AnswerOf<K> | Promise<AnswerOf<K>> };
  /** The routes that write their own response (the flow stream, metrics text), given the request. */
  readonly raw?: { readonly flows?: RawHandler; readonly metrics?: RawHandler };
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
 * Answers one request. Each TCP listener serves only the GET routes that
 * name it (routes.ts): `health` (--health) health and metrics, for the
 * kubelet and Prometheus; `observe` (--observe) besides, the read-only views
 * `weft observe`, `status`, `endpoints` and `ui` read. CNI and the raw
 * endpoint records stay on the root-only unix socket.
 */
async function handle(
  handlers: Handlers,
  req: IncomingMessage,
  res: ServerResponse,
  listener: Listener,
  streams: StreamGate,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const at = routeAt(req.method, path);
  if (listener !== 'unix' && !(at?.route.method === 'GET' && at.route.listeners.includes(listener)))
    return send(res, 404, { error: `no route ${req.method} ${path} on the ${listener} listener` });
  const noRoute = () => send(res, 404, { error: `no route ${req.method} ${path}` });
  if (!at) return noRoute();
  const { name } = at;
  switch (name) {
    case 'cni': {
      const body = JSON.parse(await readBody(req)) as Partial<CniWireRequest>;
      return send(res, 200, await handlers.cni(body.env ?? {}, body.stdin ?? ''));
    }
    case 'status':
      return send(res, 200, handlers.status());
    case 'healthz': {
      const s = handlers.status();
      return send(res, s.ready ? 200 : 503, s);
    }
    case 'flows':
    case 'metrics': {
      const raw = handlers.raw?.[name];
      return raw ? raw(req, res, streams) : noRoute();
    }
    default: {
      const answer = handlers.get?.[name];
      return answer ? send(res, 200, await answer()) : noRoute();
    }
  }
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
  handlers: Handlers,
  socket: string,
  tcp?: HostPort,
  observe?: HostPort,
): Promise<Server[]> {
  const make = (listener: Listener) => {
    // Root's own socket: no access rule, and its clients (the local UI, weft observe) share one bound.
    const limits = handlers.streamLimits ?? STREAM_LIMITS;
    const streams = new StreamGate(
      listener,
      listener === 'unix' ? { ...limits, maxPerClient: limits.maxStreams } : limits,
      handlers.metrics,
    );
    handlers.metrics.register(listener);
    const guard = { listener, rule: handlers.rule, metrics: handlers.metrics };
    const server = createServer((req, res) => {
      if (listener !== 'unix' && refused(guard, req, res)) return;
      handle(handlers, req, res, listener, streams).catch((e: unknown) => {
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
