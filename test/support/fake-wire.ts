import type { ServerResponse } from 'node:http';
import type { FakeResourceDef } from './fake-store.js';

/** The fake API server's wire: HTTP errors as Status objects, query checks, watch streams. */

type Raw = Record<string, unknown>;

export type Verb = 'list' | 'watch' | 'patch';

export type Fault = {
  readonly verb?: Verb;
  readonly resource?: string;
  /** Only a LIST request that carries a continue token. */
  readonly continued?: boolean;
} & (
  | {
      readonly kind: 'status';
      readonly code: number;
      readonly reason?: string;
      readonly message?: string;
    }
  /** Close the connection before any response. */
  | { readonly kind: 'reset' }
  /** Hold the response this long, then serve it. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Watch: cut the connection after this many lines (midLine: halfway through the next one). */
  | { readonly kind: 'drop'; readonly afterLines: number; readonly midLine?: boolean }
  /** Watch: answer 200 with a single ERROR event, 410 Expired. */
  | { readonly kind: 'expire' }
  /** Watch: answer 200, then send nothing at all and never end. */
  | { readonly kind: 'silence' }
  /** List: answer 200 and half the body, then nothing more. */
  | { readonly kind: 'stall' }
);

export const LIST_PARAMS = new Set([
  'limit',
  'continue',
  'resourceVersion',
  'timeoutSeconds',
  'watch',
]);
export const WATCH_PARAMS = new Set([
  'watch',
  'resourceVersion',
  'allowWatchBookmarks',
  'timeoutSeconds',
]);
const UNSUPPORTED = new Set([
  'labelSelector',
  'fieldSelector',
  'resourceVersionMatch',
  'sendInitialEvents',
]);
export const BOOLEAN = /^(true|false|1|0)$/;

export class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** One open watch response: lines out in order, the injected cut, the timers. */
export class WatchStream {
  private lines = 0;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  unsubscribe: () => void = () => undefined;
  readonly resource: string;

  constructor(
    def: FakeResourceDef,
    private readonly res: ServerResponse,
    private readonly fault: Fault | undefined,
    private readonly onClose: () => void,
  ) {
    this.resource = def.name;
    res.on('close', () => this.cleanup());
  }

  send(line: string): void {
    if (this.closed) return;
    const f = this.fault;
    if (f?.kind === 'drop' && this.lines === f.afterLines) {
      if (f.midLine) this.res.write(line.slice(0, Math.max(1, line.length >> 1)));
      // Let the partial line reach the client before the connection goes.
      setImmediate(() => this.destroy());
      this.closed = true;
      return;
    }
    this.res.write(`${line}\n`);
    this.lines++;
  }

  every(ms: number, f: () => void): void {
    this.timers.push(setInterval(f, ms));
  }

  endAfter(ms: number): void {
    this.timers.push(setTimeout(() => this.end(), ms));
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
    this.cleanup();
  }

  destroy(): void {
    this.res.socket?.destroy();
    this.cleanup();
  }

  private cleanup(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.unsubscribe();
    this.onClose();
  }
}

export function eventLine(type: string, def: FakeResourceDef, json: string): string {
  return `{"type":"${type}","object":{"kind":"${def.kind}","apiVersion":"${def.apiVersion}",${json.slice(1)}}`;
}

export function status(code: number, reason: string, message: string): Raw {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
}

export function badRequest(message: string): never {
  throw new HttpError(400, 'BadRequest', message);
}

export function checkParams(q: Record<string, string>, allowed: ReadonlySet<string>): void {
  for (const k of Object.keys(q)) {
    if (UNSUPPORTED.has(k)) badRequest(`${k} is not supported by this fake API server`);
    if (!allowed.has(k)) badRequest(`unknown or misplaced query parameter ${JSON.stringify(k)}`);
  }
}

export function positiveInt(name: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1)
    badRequest(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function nonNegativeInt(name: string, v: string): number {
  if (!/^\d+$/.test(v))
    badRequest(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function parseRv(v: string): number {
  if (!/^\d+$/.test(v)) badRequest(`invalid resource version: ${JSON.stringify(v)}`);
  return Number(v);
}

export function decodeContinue(token: string): { rv: number; after: string } {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as {
      rv?: unknown;
      start?: unknown;
    };
    if (typeof t.rv === 'number' && typeof t.start === 'string')
      return { rv: t.rv, after: t.start };
  } catch {
    // Falls through to the error.
  }
  return badRequest('continue key is not valid');
}
