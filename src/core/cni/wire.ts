/**
 * The bodies of the agent API's CNI route (src/api/routes.ts), between the
 * weft-cni shim and the agent, over the agent's unix socket (HTTP/1.1):
 *
 *   POST /v1/cni     {"env": {CNI_* only}, "stdin": "<raw config>"}
 *                 -> {"exitCode": 0, "stdout": "<what the plugin prints>"}
 *
 * The agent answers every CNI outcome, failures included, with HTTP 200 and a
 * CniWireResponse; another HTTP status means the request itself was wrong.
 * The decoder throws CniError 6 (decode error) naming what was wrong.
 */
import { CniError, CniErrorCodes, cniErrorJson } from './errors.js';
import { isObject, showValue, type JsonObject } from './json-fields.js';

export interface CniWireRequest {
  /** The CNI_* variables of the invocation, and no others. */
  readonly env: Readonly<Record<string, string>>;
  /** stdin exactly as the runtime wrote it (may be empty for VERSION). */
  readonly stdin: string;
}

export interface CniWireResponse {
  /** The exit code the plugin exits with: 0 on success. */
  readonly exitCode: number;
  /** What the plugin prints on stdout, verbatim (a result, an error, or nothing). */
  readonly stdout: string;
}

const CNI_PREFIX = 'CNI_';

/** Only the CNI_* variables of an environment, in order, without unset ones. */
export function cniEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const pairs = Object.entries(env).filter(
    (e): e is [string, string] => e[0].startsWith(CNI_PREFIX) && e[1] !== undefined,
  );
  return Object.fromEntries(pairs);
}

function decodeError(what: string, problem: string): CniError {
  return new CniError(CniErrorCodes.DECODE_ERROR, `${what} is invalid: ${problem}`);
}

function decodeObject(body: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(body) as unknown;
  } catch (e) {
    throw decodeError(what, `not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(value)) throw decodeError(what, `not a JSON object: ${showValue(value)}`);
  return value;
}

function stringField(o: JsonObject, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string')
    throw decodeError(what, `"${key}" must be a string, got ${showValue(v)}`);
  return v;
}

export function encodeCniWireRequest(req: CniWireRequest): string {
  return JSON.stringify({ env: cniEnv(req.env), stdin: req.stdin });
}

/** The request as the agent reads it at `path` (its route, for messages). */
export function decodeCniWireRequest(body: string, path: string): CniWireRequest {
  const what = `the ${path} request`;
  const o = decodeObject(body, what);
  const env = o['env'];
  if (!isObject(env)) throw decodeError(what, `"env" must be an object, got ${showValue(env)}`);
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(CNI_PREFIX))
      throw decodeError(what, `"env" may hold only CNI_* variables, not ${key}`);
    if (typeof value !== 'string')
      throw decodeError(what, `"env.${key}" must be a string, got ${showValue(value)}`);
  }
  return { env: env as Readonly<Record<string, string>>, stdin: stringField(o, 'stdin', what) };
}

export function encodeCniWireResponse(res: CniWireResponse): string {
  return JSON.stringify({ exitCode: res.exitCode, stdout: res.stdout });
}

/** The response for a failed command: the error JSON on stdout, exit 1. */
export function cniErrorResponse(err: CniError, cniVersion: string): CniWireResponse {
  return { exitCode: 1, stdout: cniErrorJson(err, cniVersion) };
}
