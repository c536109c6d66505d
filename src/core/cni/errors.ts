/**
 * CNI errors (spec 1.1.0, "Error"): a numeric code, a short message and
 * optional details, printed to stdout as JSON with a non-zero exit. Codes 1-99
 * are the spec's; 100 and above are the plugin's own.
 */
export const CniErrorCodes = {
  /** The config's cniVersion is not one weft supports. */
  INCOMPATIBLE_VERSION: 1,
  /** A config field weft does not know or support; the message names it. */
  UNSUPPORTED_FIELD: 2,
  /** The container (attachment) does not exist or is not known. */
  UNKNOWN_CONTAINER: 3,
  /** A CNI_* environment variable is missing or invalid; the message names it. */
  INVALID_ENVIRONMENT: 4,
  /** Reading or writing failed (stdin, the agent socket, the kernel). */
  IO_ERROR: 5,
  /** The config (or a wire message) is not valid JSON. */
  DECODE_ERROR: 6,
  /** The config is JSON, but a field is missing or has the wrong type or value. */
  INVALID_NETWORK_CONFIG: 7,
  /** A transient failure; the runtime should retry the same command later. */
  TRY_AGAIN_LATER: 11,
  /** STATUS: the plugin cannot serve ADD now (e.g. the agent is not ready). */
  PLUGIN_NOT_AVAILABLE: 50,
  /** STATUS: as 50, and the networking of existing containers may be limited too. */
  PLUGIN_NOT_AVAILABLE_LIMITED: 51,
} as const;

/** weft's own CNI error codes (the spec leaves 100 and up to plugins). */
export const WeftCniCodes = {
  /** CHECK found the endpoint not as ADD left it. */
  CHECK_FAILED: 100,
  /** The node's pod address pool is exhausted. */
  ADDRESSES_EXHAUSTED: 101,
  /** A bug in weft: the message says where. */
  INTERNAL: 999,
} as const;

export type CniErrorCode =
  | (typeof CniErrorCodes)[keyof typeof CniErrorCodes]
  | (typeof WeftCniCodes)[keyof typeof WeftCniCodes];

/** The JSON a plugin prints on failure. */
export interface CniErrorResult {
  readonly cniVersion: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

export class CniError extends Error {
  /** A spec code (CniErrorCodes) or one of weft's own (WeftCniCodes). */
  readonly code: CniErrorCode;
  readonly msg: string;
  readonly details: string | undefined;

  constructor(code: CniErrorCode, msg: string, details?: string) {
    super(details ? `${msg}: ${details}` : msg);
    this.name = 'CniError';
    this.code = code;
    this.msg = msg;
    this.details = details;
  }
}

/** The error result object for `err` in the shape of `cniVersion` (the same in every version). */
export function cniErrorResult(err: CniError, cniVersion: string): CniErrorResult {
  const out: CniErrorResult = { cniVersion, code: err.code, msg: err.msg };
  return err.details === undefined ? out : { ...out, details: err.details };
}

/** The error as the JSON text a plugin prints on stdout. */
export function cniErrorJson(err: CniError, cniVersion: string): string {
  return JSON.stringify(cniErrorResult(err, cniVersion));
}
