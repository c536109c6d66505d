/**
 * HTTP to an agent, the parts every call shares: where the agent answers,
 * the request, a bounded read of the answer, and what can go wrong. The
 * agent's listeners check the client's address, nothing the client sends
 * (docs/security.md), so a request carries no credentials. Imports node:http
 * and pure modules only: weft-cni bundles it.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { ErrorCodes } from '../core/errors.js';
import { sizeText } from '../core/limits.js';
import type { RouteBase } from './routes.js';
import { decodeJson, type Shape } from './shape.js';

/** Where an agent answers: its unix socket, or the URL of one of its HTTP listeners. */
export type AgentAddress =
  | { readonly kind: 'unix'; readonly node: string; readonly socket: string }
  | { readonly kind: 'http'; readonly node: string; readonly url: string };

/** The socket path or the URL, for messages. */
export function addressText(a: AgentAddress): string {
  return a.kind === 'unix' ? a.socket : a.url;
}

export type ApiFailure =
  /** No answer began: no socket, nothing listening, a reset (`code`: ENOENT, ECONNREFUSED, ...). */
  | { readonly kind: 'unreachable'; readonly code: string | undefined }
  | { readonly kind: 'timeout'; readonly ms: number }
  /** The connection closed before the answer was complete. */
  | { readonly kind: 'closed' }
  /** An HTTP status other than 200, with the answer's text. */
  | { readonly kind: 'status'; readonly status: number; readonly body: string }
  | { readonly kind: 'too-large'; readonly limit: number }
  /** An answer weft does not understand: not JSON, or not of the route's shape. */
  | { readonly kind: 'invalid' };

export class AgentApiError extends Error {
  readonly code = ErrorCodes.AGENT_API;

  constructor(
    message: string,
    readonly failure: ApiFailure,
  ) {
    super(message);
    this.name = 'AgentApiError';
  }
}

/** An answer as it came: its status and text (bounded by the route's maxBytes). */
export interface Exchange {
  readonly status: number;
  readonly body: string;
}

export function target(route: RouteBase, params: URLSearchParams | undefined): string {
  const qs = params?.toString();
  return qs ? `${route.path}?${qs}` : route.path;
}

/** The agent's `{"error": ...}`, else the text as it came. */
function errorText(body: string): string {
  try {
    const e = (JSON.parse(body) as { error?: unknown } | null)?.error;
    return typeof e === 'string' ? e : body;
  } catch {
    return body;
  }
}

export function statusError(path: string, answer: Exchange): AgentApiError {
  return new AgentApiError(`${path}: HTTP ${answer.status}: ${errorText(answer.body)}`, {
    kind: 'status',
    ...answer,
  });
}

export function unreachable(e: Error): AgentApiError {
  return new AgentApiError(e.message, {
    kind: 'unreachable',
    code: (e as NodeJS.ErrnoException).code,
  });
}

export function closed(): AgentApiError {
  return new AgentApiError('the connection closed before the answer was complete', {
    kind: 'closed',
  });
}

/** How messages name a route's answer: `the weft agent's /v1/status answer`. */
export function answerName(route: RouteBase): string {
  return `the weft agent's ${route.path} answer`;
}

export function decoded<T>(shape: Shape<T>, text: string, what: string): T {
  const d = decodeJson(text, shape);
  if (!d.ok) throw new AgentApiError(`${what} is invalid: ${d.problem}`, { kind: 'invalid' });
  return d.value;
}

/** Reads `res` whole, at most `max` bytes: its text, or undefined once it runs past `max`. */
export function readAll(
  res: IncomingMessage,
  max: number,
  done: (text: string | undefined) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= max) chunks.push(chunk);
    else if (size - chunk.length <= max) done(undefined);
  });
  res.on('end', () => {
    if (size <= max) done(Buffer.concat(chunks).toString('utf8'));
  });
}

export function tooLarge(what: string, limit: number): AgentApiError {
  return new AgentApiError(`${what} is larger than weft reads (${sizeText(limit)})`, {
    kind: 'too-large',
    limit,
  });
}

/** Sends a request to the agent; `onResponse` gets the answer as it begins. */
export function open(
  agent: AgentAddress,
  method: string,
  path: string,
  body: string | undefined,
  onResponse: (res: IncomingMessage) => void,
): ClientRequest {
  const headers =
    body === undefined
      ? {}
      : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  const req =
    agent.kind === 'unix'
      ? request({ socketPath: agent.socket, path, method, headers, agent: false }, onResponse)
      : request(new URL(path, agent.url), { method, headers, agent: false }, onResponse);
  req.end(body);
  return req;
}
