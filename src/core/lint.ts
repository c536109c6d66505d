import type { Cluster } from './model/types.js';
import { checkPriorityTies, checkShadowedRules } from './lint/cnp.js';
import { LintContext } from './lint/context.js';
import { checkDns } from './lint/dns.js';
import type { Finding } from './lint/finding.js';
import { checkNamedPorts } from './lint/ports.js';
import { checkIgnoredRules, checkIpBlocks } from './lint/rules.js';
import { checkPeers, checkSubjects } from './lint/selection.js';
import { checkSelectorLabels } from './lint/selectors.js';
import { naturalCompare } from './text.js';

export { formatFinding, LintCodes } from './lint/finding.js';
export type { Finding, LintCode, Severity } from './lint/finding.js';

/**
 * Advice on policies that are valid but probably not what their author meant:
 * selectors that select nothing or name labels nobody carries, pods cut off
 * from DNS, named ports nobody declares, rules that can never apply. Pure;
 * the result is sorted by object, then field, then code, then message.
 */
export function lintCluster(cluster: Cluster): Finding[] {
  const ctx = new LintContext(cluster);
  const findings = [
    ...checkSubjects(ctx),
    ...checkSelectorLabels(ctx),
    ...checkPeers(ctx),
    ...checkDns(ctx),
    ...checkNamedPorts(ctx),
    ...checkIpBlocks(cluster.networkPolicies),
    ...checkIgnoredRules(cluster.networkPolicies),
    ...checkPriorityTies(ctx),
    ...checkShadowedRules(cluster.clusterNetworkPolicies),
  ];
  return findings.sort(compareFindings);
}

export function compareFindings(a: Finding, b: Finding): number {
  return (
    naturalCompare(a.object, b.object) ||
    naturalCompare(a.field, b.field) ||
    naturalCompare(a.code, b.code) ||
    naturalCompare(a.message, b.message)
  );
}
