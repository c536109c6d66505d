/**
 * Every error weft shows a user carries a stable code from this catalogue.
 * A problem in what the user gave is an Issue (below): the code, the object it
 * is about, the field inside that object, and what to do about it. A failure
 * of what weft works with (a command, the kernel, the API server, a lab pod)
 * is an error class of its own that carries its code as `code`. CNI errors
 * carry the spec's numbers instead (core/cni/errors.ts).
 */
export const ErrorCodes = {
  /** A manifest could not be read as YAML/JSON. */
  MANIFEST_SYNTAX: 'WEFT_MANIFEST_SYNTAX',
  /** A field that the API (or weft) does not know. */
  UNKNOWN_FIELD: 'WEFT_UNKNOWN_FIELD',
  /** A required field is absent. */
  MISSING_FIELD: 'WEFT_MISSING_FIELD',
  /** A field has a value the API rejects. */
  INVALID_FIELD: 'WEFT_INVALID_FIELD',
  /** A valid API field that weft does not enforce (yet). */
  UNSUPPORTED_FIELD: 'WEFT_UNSUPPORTED_FIELD',
  /** Two objects with the same kind, namespace and name. */
  DUPLICATE_OBJECT: 'WEFT_DUPLICATE_OBJECT',
  /** A kind weft does not read. */
  UNKNOWN_KIND: 'WEFT_UNKNOWN_KIND',
  /** A reference to an object that does not exist. */
  NOT_FOUND: 'WEFT_NOT_FOUND',
  /** Bad command-line usage. */
  USAGE: 'WEFT_USAGE',
  /** Address pools exhausted or overlapping. */
  ADDRESS: 'WEFT_ADDRESS',
  /** An input past one of weft's documented limits (core/limits.ts). */
  LIMIT: 'WEFT_LIMIT',

  /** A command weft ran (ip, sysctl ...) exited non-zero or did not start; the message quotes its stderr. */
  EXEC_FAILED: 'WEFT_EXEC_FAILED',
  /** nft refused a command or a transaction, or could not run it; the message says which and why. */
  NFT_REFUSED: 'WEFT_NFT_REFUSED',
  /** A table failed weft's checks before it was sent; nothing reached the kernel. */
  NFT_INVALID: 'WEFT_NFT_INVALID',
  /** A table is over the budget of one transaction (sets, rules, elements, script size); nothing was sent. */
  NFT_BUDGET: 'WEFT_NFT_BUDGET',
  /** The long-lived nft process broke (it exited or stopped answering). */
  NFT_SESSION_BROKEN: 'WEFT_NFT_SESSION_BROKEN',

  /** A kernel flow reader (tcpdump for NFLOG, conntrack) could not start. */
  FLOW_READER_START: 'WEFT_FLOW_READER_START',
  /** A kernel flow reader exited without being asked to. */
  FLOW_READER_EXIT: 'WEFT_FLOW_READER_EXIT',
  /** A kernel flow reader's output broke off in a way it cannot resynchronise from. */
  FLOW_READER_STREAM: 'WEFT_FLOW_READER_STREAM',
  /** A pcap stream, or an NFLOG record in it, is malformed. */
  PCAP_FORMAT: 'WEFT_PCAP_FORMAT',

  /** 410 Gone: the resourceVersion (or continue token) is compacted; the source relists. */
  KUBE_GONE: 'WEFT_KUBE_GONE',
  /** 401 or 403: the credentials are refused or lack a permission. */
  KUBE_AUTH: 'WEFT_KUBE_AUTH',
  /** 404 for an API that is not served (e.g. ClusterNetworkPolicy without its CRD). */
  KUBE_ABSENT: 'WEFT_KUBE_ABSENT',
  /** Any other HTTP status from the API server (5xx, 429 ...). */
  KUBE_HTTP: 'WEFT_KUBE_HTTP',
  /** The connection to the API server failed, was dropped, or went silent. */
  KUBE_CONNECTION: 'WEFT_KUBE_CONNECTION',
  /** The API server sent something that is not the list/watch protocol. */
  KUBE_PROTOCOL: 'WEFT_KUBE_PROTOCOL',

  /** A lab pod server's `POST /probe` body breaks the contract; the message names the field. */
  LAB_PROBE_REQUEST: 'WEFT_LAB_PROBE_REQUEST',
  /** A lab pod server could not be asked, or answered with an error. */
  LAB_POD_SERVER: 'WEFT_LAB_POD_SERVER',
  /** The lab's CNI runtime failed: the conflist, a plugin it runs, or the plugin's result. */
  LAB_CNI_RUNTIME: 'WEFT_LAB_CNI_RUNTIME',
  /** A request to the agent's API failed: unreachable, no answer in time, an HTTP error, too large. */
  AGENT_API: 'WEFT_AGENT_API',
  /** The agent answered something weft does not understand (a field of the wrong shape). */
  AGENT_ANSWER: 'WEFT_AGENT_ANSWER',
  /** The packet tracer was given a packet or a table it cannot answer for (a field the packet lacks). */
  NFT_TRACE: 'WEFT_NFT_TRACE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The codes whose names start with `prefix`, e.g. `CodesOf<'KUBE_'>`: one error class's codes. */
export type CodesOf<Prefix extends string> = (typeof ErrorCodes)[Extract<
  keyof typeof ErrorCodes,
  `${Prefix}${string}`
>];

const CODES: ReadonlySet<unknown> = new Set(Object.values(ErrorCodes));

/** The catalogue code an error carries as `code`; undefined for any other error or value. */
export function errorCode(e: unknown): ErrorCode | undefined {
  if (!(e instanceof Error) || !('code' in e) || !CODES.has(e.code)) return undefined;
  return e.code as ErrorCode;
}

/** One problem in one field of one object. */
export interface Issue {
  readonly code: ErrorCode;
  /** The object, e.g. `NetworkPolicy prod/allow-web` (with `file:line` when known). */
  readonly object: string;
  /** Dotted path inside the object, e.g. `spec.ingress[0].ports[1].endPort`. */
  readonly field: string;
  readonly message: string;
  /** What the user should do. */
  readonly fix?: string;
}

export function formatIssue(issue: Issue): string {
  const where = issue.field ? `${issue.object}: ${issue.field}` : issue.object;
  const fix = issue.fix ? ` (fix: ${issue.fix})` : '';
  return `${where}: ${issue.message}${fix} [${issue.code}]`;
}

export class WeftError extends Error {
  readonly issues: readonly Issue[];
  readonly code: ErrorCode;

  constructor(issues: readonly Issue[]) {
    const first = issues[0];
    if (!first) throw new TypeError('WeftError needs at least one issue');
    const more = issues.length > 1 ? `\n${issues.slice(1).map(formatIssue).join('\n')}` : '';
    super(formatIssue(first) + more);
    this.name = 'WeftError';
    this.issues = issues;
    this.code = first.code;
  }

  static of(issue: Issue): WeftError {
    return new WeftError([issue]);
  }
}
