/**
 * Every error weft shows a user carries a stable code, the object it is about,
 * the field inside that object, and what to do about it.
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
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

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
