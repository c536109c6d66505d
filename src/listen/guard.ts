import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { clientAllowed, refusalMessage, type ClientRule } from '../core/listen/access.js';
import type { HostNames } from '../core/listen/host.js';
import type { ListenerMetrics } from './metrics.js';

/** Connections one TCP listener holds at once; more are closed as they come. */
export const MAX_CONNECTIONS = 512;

/** What a TCP listener checks before it looks at the path. */
export interface Guard {
  /** Its name in messages and metrics: health, observe, ui. */
  readonly listener: string;
  readonly rule: () => ClientRule;
  /** The UI's Host-name check, and the flag that adds a name. */
  readonly hosts?: { readonly names: HostNames; readonly flag: string };
  readonly metrics: ListenerMetrics;
}

function refuse(res: ServerResponse, status: number, error: string): void {
  const text = JSON.stringify({ error });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    connection: 'close',
  });
  res.end(text);
}

/**
 * Applies the access rule, then the Host check, before any routing: a
 * refused client learns nothing of the routes. True when it answered.
 */
export function refused(g: Guard, req: IncomingMessage, res: ServerResponse): boolean {
  const remote = req.socket.remoteAddress ?? '';
  const rule = g.rule();
  if (!clientAllowed(remote, rule)) {
    g.metrics.onRefused(g.listener, 'client');
    refuse(res, 403, refusalMessage(g.listener, remote.replace(/^::ffff:/, ''), rule));
    return true;
  }
  if (g.hosts && !g.hosts.names.allows(req.headers.host, req.socket.localAddress)) {
    g.metrics.onRefused(g.listener, 'host');
    refuse(res, 421, g.hosts.names.refusal(req.headers.host, g.hosts.flag));
    return true;
  }
  return false;
}

/** Connection bounds of a TCP listener: its count, and how long a request's headers may take. */
export function boundConnections(server: Server): Server {
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}
