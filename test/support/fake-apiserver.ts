import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { FAKE_RESOURCES, FakeStore, type FakeResourceDef, type LogEvent } from './fake-store.js';
import {
  badRequest,
  BOOLEAN,
  checkParams,
  decodeContinue,
  eventLine,
  HttpError,
  LIST_PARAMS,
  nonNegativeInt,
  parseRv,
  positiveInt,
  status,
  WATCH_PARAMS,
  WatchStream,
  type Fault,
  type Verb,
} from './fake-wire.js';

import { applyNodePatch, patchTarget, readPatch } from './fake-patch.js';

export type { Fault } from './fake-wire.js';

/**
 * A local API server that speaks the list/watch protocol strictly, for the
 * Kubernetes source's tests and benchmark: GET only, the seven collections
 * weft reads (cluster-wide), paginated LISTs of consistent snapshots
 * (limit/continue, a continue token expires with compaction), WATCHes from
 * a resourceVersion (replayed from the log, then live, chunked, one JSON
 * event a line), BOOKMARKs when asked for, 410 for a compacted
 * resourceVersion (an ERROR event, as the watch cache sends it, or the HTTP
 * status), a server-side timeout; and one write, a merge PATCH of a Node
 * (the agent's annotations, see fake-patch.ts). Unknown paths are 404,
 * unknown or unsupported query parameters 400, other methods 405 — never
 * ignored.
 *
 * Faults are queued with inject() and taken by the first request they match.
 */

type Raw = Record<string, unknown>;

export interface RequestRecord {
  readonly verb: Verb | 'other';
  readonly resource?: string;
  readonly query: Readonly<Record<string, string>>;
  /** 0 while it is being answered (or when the connection was reset). */
  status: number;
  /** performance.now() when the request arrived. */
  readonly at: number;
}

export interface FakeApiServerOptions {
  /** Collections served; the rest answer 404 (default: all seven). */
  readonly resources?: readonly string[];
  /** Bookmark period for watches that allow them (default 1000 ms). */
  readonly bookmarkMs?: number;
  /** Require `Authorization: Bearer TOKEN`. */
  readonly token?: string;
  /** Serve HTTPS with this key and certificate; clientCa: require a client certificate it signed. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer; readonly clientCa?: Buffer };
  /** Keep a record of every request (default true). */
  readonly record?: boolean;
}

export class FakeApiServer {
  readonly store = new FakeStore();
  readonly requests: RequestRecord[] = [];
  token: string | undefined;
  private readonly served: Set<string>;
  private readonly faults: Fault[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<WatchStream>();
  private server!: Server;
  url = '';

  private constructor(private readonly o: FakeApiServerOptions) {
    this.served = new Set(o.resources ?? Object.keys(FAKE_RESOURCES));
    this.token = o.token;
  }

  static async start(o: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer(o);
    const handler = (req: IncomingMessage, res: ServerResponse) => s.handle(req, res);
    s.server = o.tls
      ? createTlsServer(
          {
            key: o.tls.key,
            cert: o.tls.cert,
            ...(o.tls.clientCa
              ? { ca: o.tls.clientCa, requestCert: true, rejectUnauthorized: true }
              : {}),
          },
          handler,
        )
      : createServer(handler);
    s.server.on(o.tls ? 'secureConnection' : 'connection', (sock: Socket) => {
      s.sockets.add(sock);
      sock.on('close', () => s.sockets.delete(sock));
    });
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    const port = (s.server.address() as AddressInfo).port;
    s.url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return s;
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.end();
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  // ---- mutations (each one a new resourceVersion, seen by every watch) ----

  create(resource: string, obj: Raw): number {
    const key = this.store.keyOf(resource, obj);
    if (this.store.current(resource, key) !== undefined)
      throw new Error(`${resource} ${key} exists`);
    return this.store.write(resource, key, obj);
  }

  update(resource: string, obj: Raw): number {
    const key = this.store.keyOf(resource, obj);
    if (this.store.current(resource, key) === undefined)
      throw new Error(`${resource} ${key} not found`);
    return this.store.write(resource, key, obj);
  }

  remove(resource: string, key: string): number {
    return this.store.write(resource, key, null);
  }

  compact(): void {
    this.store.compact();
  }

  inject(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  /** Faults still waiting for a request. */
  get pendingFaults(): number {
    return this.faults.length;
  }

  /** Stops or starts serving a collection (as a CRD removed or installed); open watches end. */
  serve(resource: string, on: boolean): void {
    if (on) this.served.add(resource);
    else {
      this.served.delete(resource);
      for (const w of this.watches) if (w.resource === resource) w.end();
    }
  }

  /** Every open watch stream (of one resource) breaks, as when the API server restarts. */
  dropWatches(resource?: string): void {
    for (const w of this.watches) if (!resource || w.resource === resource) w.destroy();
  }

  /** Open watch streams (of one resource). */
  openWatches(resource?: string): number {
    return [...this.watches].filter((w) => !resource || w.resource === resource).length;
  }

  countRequests(verb: Verb, resource?: string): number {
    return this.requests.filter((r) => r.verb === verb && (!resource || r.resource === resource))
      .length;
  }

  // ---- the protocol ----

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const def = Object.values(FAKE_RESOURCES).find((d) => d.path === url.pathname);
    const verb: Verb = query['watch'] === 'true' || query['watch'] === '1' ? 'watch' : 'list';
    const patched = req.method === 'PATCH' ? patchTarget(url.pathname) : undefined;
    const entry: RequestRecord = {
      verb: patched !== undefined ? 'patch' : def ? verb : 'other',
      ...(patched !== undefined ? { resource: 'nodes' } : def ? { resource: def.name } : {}),
      query,
      status: 0,
      at: performance.now(),
    };
    if (this.o.record !== false) this.requests.push(entry);
    const record = (status: number) => {
      entry.status = status;
    };
    if (patched !== undefined) {
      void this.patch(req, res, patched).then(record);
      return;
    }
    try {
      if (req.method !== 'GET')
        throw new HttpError(405, 'MethodNotAllowed', `${req.method} is not allowed`);
      if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`) {
        throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      }
      if (!def || !this.served.has(def.name)) {
        throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
      }
      checkParams(query, verb === 'watch' ? WATCH_PARAMS : LIST_PARAMS);
      const fault = this.takeFault(verb, def.name, query['continue'] !== undefined);
      if (fault?.kind === 'reset') {
        record(0);
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'status') {
        const message = fault.message ?? `injected ${fault.code}`;
        throw new HttpError(fault.code, fault.reason ?? 'InternalError', message);
      }
      const serve = () => {
        try {
          if (verb === 'watch') this.watch(def, query, res, fault);
          else this.list(def, query, res, fault?.kind === 'stall');
          record(200);
        } catch (e) {
          record(this.fail(res, e));
        }
      };
      if (fault?.kind === 'delay') setTimeout(serve, fault.ms);
      else serve();
    } catch (e) {
      record(this.fail(res, e));
    }
  }

  private async patch(req: IncomingMessage, res: ServerResponse, name: string): Promise<number> {
    try {
      if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`)
        throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      const fault = this.takeFault('patch', 'nodes', false);
      if (fault?.kind === 'status')
        throw new HttpError(
          fault.code,
          fault.reason ?? 'InternalError',
          fault.message ?? 'injected',
        );
      const obj = applyNodePatch(this.store, name, await readPatch(req));
      const text = JSON.stringify(obj);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(text);
      return 200;
    } catch (e) {
      return this.fail(res, e);
    }
  }

  private fail(res: ServerResponse, e: unknown): number {
    const err = e instanceof HttpError ? e : new HttpError(500, 'InternalError', String(e));
    if (res.headersSent) {
      res.destroy();
      return err.code;
    }
    res.writeHead(err.code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(status(err.code, err.reason, err.message)));
    return err.code;
  }

  private takeFault(verb: Verb, resource: string, continued: boolean): Fault | undefined {
    const watchOnly = (f: Fault) =>
      f.kind === 'drop' || f.kind === 'expire' || f.kind === 'silence';
    const i = this.faults.findIndex(
      (f) =>
        (!f.verb || f.verb === verb) &&
        (!f.resource || f.resource === resource) &&
        (!f.continued || continued) &&
        (verb === 'watch' || !watchOnly(f)),
    );
    return i < 0 ? undefined : this.faults.splice(i, 1)[0];
  }

  private list(
    def: FakeResourceDef,
    q: Record<string, string>,
    res: ServerResponse,
    stall = false,
  ): void {
    const limit = q['limit'] === undefined ? Infinity : positiveInt('limit', q['limit']);
    if (q['watch'] !== undefined && !BOOLEAN.test(q['watch']))
      badRequest('watch must be true or false');
    const rvParam = q['resourceVersion'] ?? '';
    let rv: number;
    let after = '';
    if (q['continue'] !== undefined) {
      if (rvParam !== '' && rvParam !== '0') {
        badRequest('specifying resource version is not allowed when using continue');
      }
      ({ rv, after } = decodeContinue(q['continue']));
      if (rv < this.store.compactedRv) {
        throw new HttpError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
    } else rv = this.snapshotRv(rvParam, limit !== Infinity);
    const { items, more } = this.store.page(def.name, rv, after, limit);
    const meta: Raw = { resourceVersion: String(rv) };
    const last = items[items.length - 1];
    if (more && last)
      meta['continue'] = Buffer.from(JSON.stringify({ rv, start: last.key })).toString('base64');
    const body = `{"kind":"${def.listKind}","apiVersion":"${def.apiVersion}","metadata":${JSON.stringify(meta)},"items":[${items
      .map((i) => i.json)
      .join(',')}]}`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (stall) res.write(body.slice(0, body.length >> 1));
    else res.end(body);
  }

  /** The snapshot a LIST reads: most recent, any, exact (with a limit) or not older than N. */
  private snapshotRv(param: string, paged: boolean): number {
    if (param === '' || param === '0') return this.store.rv;
    const n = parseRv(param);
    if (n > this.store.rv) {
      throw new HttpError(
        504,
        'Timeout',
        `Too large resource version: ${n}, current: ${this.store.rv}`,
      );
    }
    if (!paged) return this.store.rv;
    if (n < this.store.compactedRv) {
      throw new HttpError(
        410,
        'Expired',
        `too old resource version: ${n} (${this.store.compactedRv})`,
      );
    }
    return n;
  }

  private watch(
    def: FakeResourceDef,
    q: Record<string, string>,
    res: ServerResponse,
    fault: Fault | undefined,
  ): void {
    const bookmarks = q['allowWatchBookmarks'];
    if (bookmarks !== undefined && !BOOLEAN.test(bookmarks))
      badRequest('allowWatchBookmarks must be true or false');
    const timeout =
      q['timeoutSeconds'] === undefined
        ? 1800
        : nonNegativeInt('timeoutSeconds', q['timeoutSeconds']);
    const param = q['resourceVersion'] ?? '';
    const from = param === '' || param === '0' ? undefined : parseRv(param);
    if (from !== undefined && from > this.store.rv) {
      throw new HttpError(
        504,
        'Timeout',
        `Too large resource version: ${from}, current: ${this.store.rv}`,
      );
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const stream = new WatchStream(def, res, fault, () => this.watches.delete(stream));
    this.watches.add(stream);
    if (fault?.kind === 'silence') return;
    if (fault?.kind === 'expire' || (from !== undefined && from < this.store.compactedRv)) {
      stream.send(
        JSON.stringify({
          type: 'ERROR',
          object: status(
            410,
            'Expired',
            `too old resource version: ${from ?? 0} (${this.store.compactedRv})`,
          ),
        }),
      );
      stream.end();
      return;
    }
    // Replay and subscription in one tick: no write can fall between them.
    if (from === undefined) {
      for (const o of this.store.page(def.name, this.store.rv, '', Infinity).items)
        stream.send(eventLine('ADDED', def, o.json));
    } else {
      for (const e of this.store.eventsAfter(def.name, from))
        stream.send(eventLine(e.type, def, e.json));
    }
    stream.unsubscribe = this.store.subscribe((e: LogEvent) => {
      if (e.resource === def.name) stream.send(eventLine(e.type, def, e.json));
    });
    if (bookmarks === 'true' || bookmarks === '1') {
      stream.every(this.o.bookmarkMs ?? 1000, () =>
        stream.send(
          JSON.stringify({
            type: 'BOOKMARK',
            object: {
              kind: def.kind,
              apiVersion: def.apiVersion,
              metadata: { resourceVersion: String(this.store.rv) },
            },
          }),
        ),
      );
    }
    stream.endAfter(timeout * 1000);
  }
}
