/**
 * The one client of the agent API, over the agent's unix socket or an HTTP
 * listener (--observe, --health). It asks by the routes of routes.ts, reads
 * at most a route's maxBytes of an answer, gives up after a timeout, and
 * checks the answer's shape before handing it on. Every failure is an
 * AgentApiError whose `failure` says what went wrong. Streams: stream.ts.
 * Imports node:http and pure modules only: weft-cni bundles it.
 */
import { encodeCniWireRequest } from '../core/cni/wire.js';
import {
  AgentApiError,
  answerName,
  closed,
  decoded,
  open,
  readAll,
  statusError,
  target,
  tooLarge,
  unreachable,
  type AgentAddress,
  type Exchange,
} from './http.js';
import { AgentRoutes, type JsonRoute, type RouteBase, type TextRoute } from './routes.js';
import type { CniWireRequest, CniWireResponse } from './types.js';

export {
  AgentApiError,
  addressText,
  type AgentAddress,
  type ApiFailure,
  type Exchange,
} from './http.js';

export const DEFAULT_TIMEOUT_MS = 5000;

export interface CallOptions {
  /** The query (routes.ts says which a route takes). */
  readonly params?: URLSearchParams;
  /** From connecting to the answer's last byte (default: the client's). */
  readonly timeoutMs?: number;
}

/** One agent's API. */
export class AgentClient {
  constructor(
    readonly agent: AgentAddress,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  /** Asks `route` and reads its whole answer, whatever its status. */
  exchange(route: RouteBase, o: CallOptions & { readonly body?: string } = {}): Promise<Exchange> {
    const path = target(route, o.params);
    const ms = o.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (done: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        done();
      };
      const fail = (e: AgentApiError) =>
        settle(() => {
          req.destroy();
          reject(e);
        });
      const req = open(this.agent, route.method, path, o.body, (res) => {
        res.on('error', () => undefined);
        readAll(res, route.maxBytes, (body) =>
          body === undefined
            ? fail(tooLarge(answerName(route), route.maxBytes))
            : settle(() => resolve({ status: res.statusCode ?? 0, body })),
        );
        res.on('close', () => {
          if (!res.complete) fail(closed());
        });
      });
      req.on('error', (e) => fail(unreachable(e)));
      const timer = setTimeout(
        () => fail(new AgentApiError(`no answer within ${ms} ms`, { kind: 'timeout', ms })),
        ms,
      );
    });
  }

  /** A JSON answer, checked against the route's shape. */
  get<T>(route: JsonRoute<T>, o: CallOptions = {}): Promise<T> {
    return this.json(route, o);
  }

  private async json<T>(route: JsonRoute<T>, o: CallOptions & { readonly body?: string }) {
    const answer = await this.exchange(route, o);
    if (answer.status !== 200) throw statusError(target(route, o.params), answer);
    return decoded(route.shape, answer.body, answerName(route));
  }

  /** A text answer (metrics). */
  async text(route: TextRoute, o: CallOptions = {}): Promise<string> {
    const answer = await this.exchange(route, o);
    if (answer.status !== 200) throw statusError(target(route, o.params), answer);
    return answer.body;
  }

  /** One CNI invocation (weft-cni): the plugin's stdout and exit code, as the agent ran it. */
  cni(req: CniWireRequest, o: CallOptions = {}): Promise<CniWireResponse> {
    return this.json(AgentRoutes.cni, { ...o, body: encodeCniWireRequest(req) });
  }
}
