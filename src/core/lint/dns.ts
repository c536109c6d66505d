import { formatSelector, matches } from '../labels.js';
import {
  describeObject,
  type ClusterNetworkPolicy,
  type NetworkPolicy,
  type NetworkPolicyPeer,
  type NetworkPolicyRule,
  type Pod,
  type PortsSpec,
} from '../model/types.js';
import { podsText, type LintContext } from './context.js';
import { LintCodes, type Finding } from './finding.js';

const DNS_PORT = 53;

export const DNS_FIX =
  'add an egress rule allowing UDP and TCP port 53 to the cluster DNS: ' +
  '{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, ' +
  'podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}';

/**
 * Whether the ports may include UDP 53. A named port might resolve to 53 on
 * the DNS pods: when unsure, say yes (this check must not cry wolf).
 */
export function portsMayAllowDns(ports: PortsSpec): boolean {
  if (ports.kind === 'all') return true;
  return ports.ports.some((p) => {
    switch (p.kind) {
      case 'protocol':
        return p.protocol === 'UDP';
      case 'range':
        return p.protocol === 'UDP' && p.from <= DNS_PORT && DNS_PORT <= p.to;
      case 'named':
        return p.protocol === 'UDP' || p.protocol === 'any';
    }
  });
}

function peerMayReachDns(ctx: LintContext, np: NetworkPolicy, peer: NetworkPolicyPeer): boolean {
  // Any ipBlock or any namespace selector might cover the DNS servers.
  if (peer.kind === 'ipBlock' || peer.namespaces.kind === 'selector') return true;
  // Pods of the policy's own namespace: only if DNS lives there.
  if (np.namespace === 'kube-system') return true;
  return ctx.npPeerPods(np, peer).some((p) => p.ports.some((cp) => cp.port === DNS_PORT));
}

function ruleMayAllowDns(ctx: LintContext, np: NetworkPolicy, rule: NetworkPolicyRule): boolean {
  if (!portsMayAllowDns(rule.ports)) return false;
  return (
    rule.peers.kind === 'all' || rule.peers.peers.some((peer) => peerMayReachDns(ctx, np, peer))
  );
}

function cnpMayAcceptDns(cnp: ClusterNetworkPolicy): boolean {
  return (
    cnp.tier === 'Admin' &&
    cnp.egress.some((r) => r.action === 'Accept' && portsMayAllowDns(r.ports))
  );
}

/**
 * Pods that NetworkPolicies make egress-isolated while no egress rule that
 * applies to them (from any NetworkPolicy selecting them, or an Admin-tier
 * Accept) can reach DNS on UDP 53: they cannot resolve names.
 */
export function checkDns(ctx: LintContext): Finding[] {
  const egress = ctx.cluster.networkPolicies.filter((np) => np.policyTypes.includes('egress'));
  const withDns = egress.filter((np) => np.egress.some((r) => ruleMayAllowDns(ctx, np, r)));
  const admin = ctx.cluster.clusterNetworkPolicies.filter(cnpMayAcceptDns);
  const adminPods = new Set(admin.flatMap((cnp) => ctx.cnpSubject(cnp.subject)));
  const reachesDns = (pod: Pod): boolean =>
    adminPods.has(pod) ||
    withDns.some((np) => np.namespace === pod.namespace && matches(np.podSelector, pod.labels));
  const findings: Finding[] = [];
  for (const np of egress) {
    let who: string;
    if (ctx.pods.length > 0) {
      const stuck = ctx.npSubject(np).filter((p) => !reachesDns(p));
      if (stuck.length === 0) continue;
      who = `pods selected by this policy (${podsText(stuck)})`;
    } else {
      // Pods unknown: assume any policy of the namespace, or any Admin Accept, may cover them.
      if (admin.length > 0 || withDns.some((o) => o.namespace === np.namespace)) continue;
      who = `pods selected by podSelector ${formatSelector(np.podSelector)}`;
    }
    findings.push({
      severity: 'warning',
      code: LintCodes.NO_DNS,
      object: describeObject(np),
      field: 'spec.egress',
      message: `${who} are egress-isolated and no egress rule lets them reach DNS (UDP port 53): they cannot resolve names`,
      fix: DNS_FIX,
    });
  }
  return findings;
}
