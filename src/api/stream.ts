/**
 * Following a streaming route of the agent API: newline-delimited JSON, one
 * item a line, each line read whole (up to the route's maxLineBytes) and
 * checked against the route's item shape before it is handed on.
 */
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
} from './http.js';
import type { StreamingRoute } from './routes.js';

/** Splits a byte stream into lines, none longer than `max` bytes. */
class Lines {
  private pending: Buffer[] = [];
  private size = 0;

  constructor(private readonly max: number) {}

  /** The lines `chunk` completes; undefined once a line runs past the limit. */
  push(chunk: Buffer): string[] | undefined {
    const out: string[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
      if (this.size + nl - from > this.max) return undefined;
      this.pending.push(chunk.subarray(from, nl));
      out.push(Buffer.concat(this.pending).toString('utf8'));
      this.pending = [];
      this.size = 0;
      from = nl + 1;
    }
    this.size += chunk.length - from;
    if (this.size > this.max) return undefined;
    if (from < chunk.length) this.pending.push(chunk.subarray(from));
    return out;
  }

  /** What came after the last newline. */
  get rest(): string {
    return Buffer.concat(this.pending).toString('utf8');
  }
}

/**
 * Follows a streaming route of `agent`: each item as its line arrives, until
 * the agent ends the stream (resolves) or `signal` aborts (resolves), or the
 * stream fails (rejects). `onOpen` once the agent has answered 200. No
 * timeout: a stream may be quiet for as long as nothing happens.
 */
export function follow<T, Item>(
  agent: AgentAddress,
  route: StreamingRoute<T, Item>,
  params: URLSearchParams,
  signal: AbortSignal,
  onItem: (item: Item) => void,
  onOpen: () => void = () => undefined,
): Promise<void> {
  const query = new URLSearchParams(params);
  query.append(route.stream.param, '1');
  const path = target(route, query);
  const what = `the weft agent's ${route.path} stream`;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return resolve();
    let settled = false;
    const finish = (e?: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      if (e) reject(e);
      else resolve();
    };
    const onAbort = () => finish();
    signal.addEventListener('abort', onAbort, { once: true });
    const req = open(agent, 'GET', path, undefined, (res) => {
      res.on('error', () => undefined);
      res.on('close', () => {
        if (!res.complete) finish(closed());
      });
      if (res.statusCode !== 200)
        return readAll(res, route.maxBytes, (body) =>
          finish(
            body === undefined
              ? tooLarge(answerName(route), route.maxBytes)
              : statusError(path, { status: res.statusCode ?? 0, body }),
          ),
        );
      onOpen();
      const lines = new Lines(route.stream.maxLineBytes);
      let n = 0;
      res.on('data', (chunk: Buffer) => {
        const complete = lines.push(chunk);
        if (!complete) return finish(tooLarge(`a line of ${what}`, route.stream.maxLineBytes));
        for (const line of complete) {
          n++;
          if (settled) return;
          if (!line.trim()) continue;
          try {
            onItem(decoded(route.stream.item, line, `${what} (line ${n})`));
          } catch (e) {
            return finish(e instanceof Error ? e : new Error(String(e)));
          }
        }
      });
      res.on('end', () =>
        finish(
          lines.rest.trim()
            ? new AgentApiError(`${what} ended inside a line`, { kind: 'closed' })
            : undefined,
        ),
      );
    });
    req.on('error', (e) => finish(unreachable(e)));
  });
}
