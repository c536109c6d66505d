// A pod server's control API: its shapes on the wire and their checking (the
// server, pod-server.ts, imports both), and the lab's calls to it over the
// unix socket.
import { request } from 'node:http';
import { isIP } from 'node:net';
import { ErrorCodes } from '../core/errors.js';

// ---- the control API's contract (the server in pod-server.ts implements it) ----

export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';
export type ProbeProtocol = 'TCP' | 'UDP';

/** A socket the server listens on (both protocols for every declared port number). */
export interface ServedPort {
  readonly port: number;
  readonly protocol: ProbeProtocol;
}

/** A declared port the server cannot serve, and why. */
export interface UnservedPort {
  readonly port: number;
  readonly protocol: PortProtocol;
  readonly reason: string;
}

export interface PodServerHealth {
  readonly ok: true;
  readonly pid: number;
  readonly ports: readonly ServedPort[];
  readonly notServed: readonly UnservedPort[];
}

/** One connection to try from inside the pod. */
export interface ProbeTarget {
  readonly ip: string;
  readonly port: number;
  readonly protocol: ProbeProtocol;
  readonly timeoutMs: number;
}

/**
 * `connected`: the echo came back. `refused`: a RST or an ICMP port
 * unreachable (reachable, nothing listens). `timeout`: no answer — what a
 * policy drop looks like. `error`: anything else (no route, reset, …).
 */
export type ProbeOutcome = 'connected' | 'refused' | 'timeout' | 'error';

export interface ProbeResult {
  readonly ok: boolean;
  readonly outcome: ProbeOutcome;
  /** Why it did not connect (absent when it did). */
  readonly error?: string;
  /** Time from the first packet to the outcome, in milliseconds. */
  readonly ms: number;
}

/** `POST /probe`'s body; unknown fields are a 400. */
export interface ProbeRequest {
  readonly targets: readonly ProbeTarget[];
  /** Probes in flight at once, 1 to MAX_CONCURRENCY (default DEFAULT_CONCURRENCY). */
  readonly concurrency?: number;
}

export const DEFAULT_CONCURRENCY = 256;
export const MAX_CONCURRENCY = 4096;
/** The longest `timeoutMs` a target may ask for. */
export const MAX_TIMEOUT_MS = 60_000;

/** The most targets one request may carry. */
export const MAX_TARGETS = 100_000;

/** A `POST /probe` body that breaks the contract; the message names the field. */
export class ProbeRequestError extends Error {
  override readonly name = 'ProbeRequestError';
  readonly code = ErrorCodes.LAB_PROBE_REQUEST;
}

/**
 * Checks a `POST /probe` body field by field (the server's side of the
 * contract); unknown fields are errors. Throws ProbeRequestError naming the field.
 */
export function parseProbeRequest(body: unknown): {
  targets: ProbeTarget[];
  concurrency: number;
} {
  const top = record(body, 'body', ['targets', 'concurrency']);
  const list = top['targets'];
  if (!Array.isArray(list)) throw new ProbeRequestError('targets: expected an array');
  if (list.length > MAX_TARGETS)
    throw new ProbeRequestError(
      `targets: ${list.length} targets, at most ${MAX_TARGETS} per request`,
    );
  const targets = list.map((raw: unknown, i): ProbeTarget => {
    const where = `targets[${i}]`;
    const t = record(raw, where, ['ip', 'port', 'protocol', 'timeoutMs']);
    const { ip, port, protocol, timeoutMs } = t;
    if (typeof ip !== 'string' || isIP(ip) === 0)
      throw new ProbeRequestError(`${where}.ip: expected an IPv4 or IPv6 address, got ${show(ip)}`);
    if (!validPort(port))
      throw new ProbeRequestError(`${where}.port: expected an integer 1-65535, got ${show(port)}`);
    if (protocol !== 'TCP' && protocol !== 'UDP')
      throw new ProbeRequestError(
        `${where}.protocol: expected "TCP" or "UDP", got ${show(protocol)}`,
      );
    if (!isInt(timeoutMs, 1, MAX_TIMEOUT_MS))
      throw new ProbeRequestError(
        `${where}.timeoutMs: expected an integer 1-${MAX_TIMEOUT_MS}, got ${show(timeoutMs)}`,
      );
    return { ip, port, protocol, timeoutMs };
  });
  const concurrency = top['concurrency'] ?? DEFAULT_CONCURRENCY;
  if (!isInt(concurrency, 1, MAX_CONCURRENCY))
    throw new ProbeRequestError(
      `concurrency: expected an integer 1-${MAX_CONCURRENCY}, got ${show(concurrency)}`,
    );
  return { targets, concurrency };
}

function record(v: unknown, where: string, fields: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ProbeRequestError(`${where}: expected an object`);
  const unknown = Object.keys(v).find((k) => !fields.includes(k));
  if (unknown !== undefined)
    throw new ProbeRequestError(`${where}.${unknown}: unknown field (known: ${fields.join(', ')})`);
  return v as Record<string, unknown>;
}

function validPort(v: unknown): v is number {
  return isInt(v, 1, 65535);
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 60);
}

// ---- the client -----------------------------------------------------------------

export interface ProbeOptions {
  /** Probes in flight at once inside the pod (default 256). */
  readonly concurrency?: number;
  /** Time allowed for the control request beyond the probes' own worst case (default 2000 ms). */
  readonly marginMs?: number;
}

/** The pod server could not be asked, or answered with an error; names the socket. */
export class PodServerError extends Error {
  readonly code = ErrorCodes.LAB_POD_SERVER;

  constructor(
    readonly control: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PodServerError';
  }
}

const DEFAULT_MARGIN_MS = 2000;
const SHORT_TIMEOUT_MS = 5000;

/** Runs `targets` from inside the pod whose server listens on `control`; results in target order. */
export async function probeFrom(
  control: string,
  targets: readonly ProbeTarget[],
  opts: ProbeOptions = {},
): Promise<ProbeResult[]> {
  if (targets.length === 0) return [];
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  const budget = worstCaseMs(targets, concurrency);
  const timeoutMs = budget + Math.ceil(budget / 10) + (opts.marginMs ?? DEFAULT_MARGIN_MS);
  const body: ProbeRequest = {
    targets,
    ...(opts.concurrency === undefined ? {} : { concurrency }),
  };
  const answer = await call(control, 'POST', '/probe', body, timeoutMs);
  const results = (answer as { results?: unknown }).results;
  if (!Array.isArray(results) || results.length !== targets.length)
    throw new PodServerError(
      control,
      `pod server at ${control}: /probe answered ${Array.isArray(results) ? results.length : 'no'} results for ${targets.length} targets`,
    );
  return results as ProbeResult[];
}

/**
 * An upper bound on a batch's duration when every probe runs into its
 * timeout: greedy scheduling on m = min(concurrency, targets) workers
 * finishes within sum/m + (1 - 1/m)·longest (Graham's bound).
 */
export function worstCaseMs(targets: readonly ProbeTarget[], concurrency: number): number {
  let sum = 0;
  let max = 0;
  for (const t of targets) {
    sum += t.timeoutMs;
    max = Math.max(max, t.timeoutMs);
  }
  const m = Math.max(1, Math.min(concurrency, targets.length));
  return Math.ceil(sum / m + (1 - 1 / m) * max);
}

export async function podServerHealth(
  control: string,
  timeoutMs = SHORT_TIMEOUT_MS,
): Promise<PodServerHealth> {
  return (await call(control, 'GET', '/healthz', undefined, timeoutMs)) as PodServerHealth;
}

/** Asks the pod server to close and exit (`weft lab down`). */
export async function podServerShutdown(
  control: string,
  timeoutMs = SHORT_TIMEOUT_MS,
): Promise<void> {
  await call(control, 'POST', '/shutdown', undefined, timeoutMs);
}

function call(
  control: string,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<unknown> {
  const what = `${method} ${path}`;
  return new Promise((resolve, reject) => {
    const fail = (message: string, status?: number) =>
      reject(new PodServerError(control, message, status));
    const text = body === undefined ? '' : JSON.stringify(body);
    const req = request(
      {
        socketPath: control,
        method,
        path,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => fail(`pod server at ${control}: ${what}: ${e.message}`));
        res.on('end', () => {
          clearTimeout(timer);
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            return fail(`pod server at ${control}: ${what} answered with invalid JSON`);
          }
          const status = res.statusCode ?? 0;
          if (status === 200) return resolve(json);
          const error = (json as { error?: unknown } | null)?.error;
          fail(`pod server at ${control}: ${what} answered ${status}: ${String(error)}`, status);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      fail(`pod server at ${control} did not answer ${what} within ${timeoutMs} ms`);
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      fail(unreachable(control, what, e));
    });
    req.end(text);
  });
}

function unreachable(control: string, what: string, e: Error): string {
  const code = 'code' in e ? e.code : undefined;
  switch (code) {
    case 'ENOENT':
      return `pod server control socket ${control} does not exist: is the pod server running?`;
    case 'ECONNREFUSED':
      return `nothing listens on pod server control socket ${control}: the pod server has exited`;
    case 'EACCES':
      return `no permission to use pod server control socket ${control} (run as root)`;
    default:
      return `pod server at ${control}: ${what} failed: ${e.message}`;
  }
}
