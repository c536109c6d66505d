import type { LabelSelector } from '../labels.js';
import {
  describeObject,
  DIRECTIONS,
  type ClusterNetworkPolicy,
  type CnpPeer,
  type CnpRule,
} from '../model/types.js';
import { podsText, type LintContext } from './context.js';
import { LintCodes, type Finding } from './finding.js';
import { setKey, stableKey } from '../text.js';

/**
 * ClusterNetworkPolicies of one tier and one priority whose subjects share a
 * pod: which one decides first is implementation-defined. Reported once per
 * pair, on the policy whose name sorts last.
 */
export function checkPriorityTies(ctx: LintContext): Finding[] {
  const groups = new Map<string, ClusterNetworkPolicy[]>();
  for (const cnp of ctx.cluster.clusterNetworkPolicies) {
    const key = `${cnp.tier}/${cnp.priority}`;
    groups.set(key, [...(groups.get(key) ?? []), cnp]);
  }
  const findings: Finding[] = [];
  for (const group of groups.values()) {
    const sorted = [...group].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    sorted.forEach((later, j) => {
      for (const earlier of sorted.slice(0, j)) {
        const f = tieFinding(ctx, earlier, later);
        if (f) findings.push(f);
      }
    });
  }
  return findings;
}

function tieFinding(
  ctx: LintContext,
  a: ClusterNetworkPolicy,
  b: ClusterNetworkPolicy,
): Finding | undefined {
  let overlap: string;
  if (ctx.pods.length > 0) {
    const inA = new Set(ctx.cnpSubject(a.subject));
    const shared = ctx.cnpSubject(b.subject).filter((p) => inA.has(p));
    if (shared.length === 0) return undefined;
    overlap = `both apply to ${podsText(shared)}`;
  } else {
    // Pods unknown: only identical subjects surely overlap.
    if (stableKey(a.subject) !== stableKey(b.subject)) return undefined;
    overlap = 'their subjects are identical';
  }
  return {
    severity: 'warning',
    code: LintCodes.PRIORITY_TIE,
    object: describeObject(b),
    field: 'spec.priority',
    message: `same tier (${b.tier}) and priority (${b.priority}) as ClusterNetworkPolicy ${a.name}, and ${overlap}: which one is evaluated first is implementation-defined`,
    fix: `give one of ${a.name} and ${b.name} a different priority`,
  };
}

function selectorKey(s: LabelSelector): string {
  return setKey(s.requirements);
}

/** Equal for peers that select the same, however their selectors were ordered. */
function peerKey(p: CnpPeer): string {
  switch (p.kind) {
    case 'namespaces':
    case 'nodes':
      return `${p.kind}:${selectorKey(p.selector)}`;
    case 'pods':
      return `pods:${selectorKey(p.namespaceSelector)}:${selectorKey(p.podSelector)}`;
    case 'networks':
      return `networks:${setKey(p.cidrs)}`;
  }
}

function ruleText(rule: CnpRule, direction: string, index: number): string {
  return `${direction}[${index}]${rule.name ? ` "${rule.name}"` : ''}`;
}

/**
 * Rules that an earlier rule of the same policy always decides first: same
 * peers, and the same ports (or no port restriction at all).
 */
export function checkShadowedRules(policies: readonly ClusterNetworkPolicy[]): Finding[] {
  const findings: Finding[] = [];
  for (const cnp of policies) {
    for (const direction of DIRECTIONS) {
      const rules = cnp[direction];
      const peers = rules.map((r) => setKey(r.peers.map(peerKey)));
      const ports = rules.map((r) => (r.ports.kind === 'all' ? 'all' : setKey(r.ports.ports)));
      rules.forEach((rule, j) => {
        const i = rules.findIndex(
          (_, i) => i < j && peers[i] === peers[j] && (ports[i] === 'all' || ports[i] === ports[j]),
        );
        const earlier = rules[i];
        if (!earlier) return;
        findings.push({
          severity: 'warning',
          code: LintCodes.SHADOWED_RULE,
          object: describeObject(cnp),
          field: `spec.${direction}[${j}]`,
          message: `rule ${ruleText(rule, direction, j)} (${rule.action}) matches no traffic that rule ${ruleText(earlier, direction, i)} (${earlier.action}) has not already decided: it never applies`,
          fix: `remove rule ${ruleText(rule, direction, j)}, or move it before ${ruleText(earlier, direction, i)} if it should win`,
        });
      });
    }
  }
  return findings;
}
