/**
 * What `lintCluster` reports: advice about objects that parse and compile but
 * probably do not do what their author meant. Unlike an `Issue`, a finding
 * never stops weft from enforcing the policy as written.
 */

export const LintCodes = {
  /** A policy's subject selects no pod: the policy has no effect. */
  SELECTS_NOTHING: 'WEFT_LINT_SELECTS_NOTHING',
  /** A selector names a label key that no object of its kind carries. */
  UNKNOWN_LABEL_KEY: 'WEFT_LINT_UNKNOWN_LABEL_KEY',
  /** A selector requires label values that no object carries for that key. */
  UNKNOWN_LABEL_VALUE: 'WEFT_LINT_UNKNOWN_LABEL_VALUE',
  /** A rule's peer selects no pod (or node): it never matches anything. */
  PEER_SELECTS_NOTHING: 'WEFT_LINT_PEER_SELECTS_NOTHING',
  /** Egress-isolated pods that no rule lets reach DNS. */
  NO_DNS: 'WEFT_LINT_NO_DNS',
  /** A named port that no destination pod declares. */
  UNKNOWN_NAMED_PORT: 'WEFT_LINT_UNKNOWN_NAMED_PORT',
  /** An ipBlock `except` entry covering the whole `cidr`: the peer matches nothing. */
  EXCEPT_COVERS_CIDR: 'WEFT_LINT_EXCEPT_COVERS_CIDR',
  /** Rules for a direction that `policyTypes` does not include. */
  IGNORED_RULES: 'WEFT_LINT_IGNORED_RULES',
  /** Two ClusterNetworkPolicies of one tier and priority with overlapping subjects. */
  PRIORITY_TIE: 'WEFT_LINT_PRIORITY_TIE',
  /** A ClusterNetworkPolicy rule that an earlier rule of the same policy always decides first. */
  SHADOWED_RULE: 'WEFT_LINT_SHADOWED_RULE',
} as const;

export type LintCode = (typeof LintCodes)[keyof typeof LintCodes];

export type Severity = 'warning' | 'info';

export interface Finding {
  readonly severity: Severity;
  readonly code: LintCode;
  /** The object, from `describeObject`: `NetworkPolicy prod/allow-web (policies.yaml:12)`. */
  readonly object: string;
  /** Dotted path inside the object: `spec.ingress[0].from[1].podSelector`. */
  readonly field: string;
  readonly message: string;
  /** What the user should do. */
  readonly fix: string;
}

export function formatFinding(f: Finding): string {
  const where = f.field ? `${f.object}: ${f.field}` : f.object;
  return `${f.severity}: ${where}: ${f.message} (fix: ${f.fix}) [${f.code}]`;
}
