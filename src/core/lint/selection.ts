import { formatSelector } from '../labels.js';
import {
  describeObject,
  DIRECTIONS,
  type ClusterNetworkPolicy,
  type CnpPeer,
  type CnpSubject,
  type NetworkPolicy,
  type NetworkPolicyPeer,
} from '../model/types.js';
import { activeRules, peersField, type LintContext } from './context.js';
import { LintCodes, type Finding } from './finding.js';

/** Policies whose subject selects no pod: they have no effect. */
export function checkSubjects(ctx: LintContext): Finding[] {
  // A cluster without pods (policies linted on their own) tells nothing.
  if (ctx.pods.length === 0) return [];
  const findings: Finding[] = [];
  for (const np of ctx.cluster.networkPolicies) {
    if (ctx.npSubject(np).length > 0) continue;
    findings.push({
      severity: 'warning',
      code: LintCodes.SELECTS_NOTHING,
      object: describeObject(np),
      field: 'spec.podSelector',
      message: `podSelector ${formatSelector(np.podSelector)} selects no pod in namespace ${np.namespace} (hostNetwork pods are never selected): the policy has no effect`,
      fix: `make the selector match the labels of the pods to protect (kubectl get pods -n ${np.namespace} --show-labels)`,
    });
  }
  for (const cnp of ctx.cluster.clusterNetworkPolicies) {
    if (ctx.cnpSubject(cnp.subject).length > 0) continue;
    findings.push({
      severity: 'warning',
      code: LintCodes.SELECTS_NOTHING,
      object: describeObject(cnp),
      field: 'spec.subject',
      message: `subject ${subjectText(cnp.subject)} selects no pod (hostNetwork pods are never selected): the policy has no effect`,
      fix: 'make the subject match the labels of the namespaces and pods to govern (kubectl get ns,pods -A --show-labels)',
    });
  }
  return findings;
}

function subjectText(s: CnpSubject | CnpPeer): string {
  switch (s.kind) {
    case 'namespaces':
    case 'nodes':
      return `${s.kind} ${formatSelector(s.selector)}`;
    case 'pods':
      return `namespaceSelector ${formatSelector(s.namespaceSelector)}, podSelector ${formatSelector(s.podSelector)}`;
    case 'networks':
      return 'networks';
  }
}

function npPeerText(peer: NetworkPolicyPeer & { kind: 'pods' }): string {
  const ns =
    peer.namespaces.kind === 'own'
      ? 'the policy namespace'
      : `namespaceSelector ${formatSelector(peer.namespaces.selector)}`;
  return `${ns}, podSelector ${formatSelector(peer.pods)}`;
}

/** Peers that select no pod (or no node): a possible mistake, or pods that do not exist yet. */
export function checkPeers(ctx: LintContext): Finding[] {
  return [
    ...ctx.cluster.networkPolicies.flatMap((np) => npPeers(ctx, np)),
    ...ctx.cluster.clusterNetworkPolicies.flatMap((cnp) => cnpPeers(ctx, cnp)),
  ];
}

function peerFinding(object: string, field: string, what: string, noun: 'pod' | 'node'): Finding {
  return {
    severity: 'info',
    code: LintCodes.PEER_SELECTS_NOTHING,
    object,
    field,
    message: `peer (${what}) selects no ${noun}: it matches nothing for now`,
    fix: `check the selectors against the ${noun}s' labels, or ignore this if the ${noun}s are yet to come`,
  };
}

function npPeers(ctx: LintContext, np: NetworkPolicy): Finding[] {
  if (ctx.pods.length === 0) return [];
  const findings: Finding[] = [];
  for (const direction of DIRECTIONS) {
    activeRules(np, direction).forEach((rule, i) => {
      if (rule.peers.kind === 'all') return;
      rule.peers.peers.forEach((peer, j) => {
        if (peer.kind !== 'pods' || ctx.npPeerPods(np, peer).length > 0) return;
        const field = `spec.${direction}[${i}].${peersField(direction)}[${j}]`;
        findings.push(peerFinding(describeObject(np), field, npPeerText(peer), 'pod'));
      });
    });
  }
  return findings;
}

function cnpPeers(ctx: LintContext, cnp: ClusterNetworkPolicy): Finding[] {
  const findings: Finding[] = [];
  for (const direction of DIRECTIONS) {
    cnp[direction].forEach((rule, i) => {
      rule.peers.forEach((peer, j) => {
        const field = `spec.${direction}[${i}].${peersField(direction)}[${j}]`;
        if (peer.kind === 'networks') return;
        if (peer.kind === 'nodes') {
          if (ctx.nodes.length > 0 && ctx.nodesMatching(peer.selector).length === 0) {
            findings.push(peerFinding(describeObject(cnp), field, subjectText(peer), 'node'));
          }
        } else if (ctx.pods.length > 0 && ctx.cnpPeerPods(peer).length === 0) {
          findings.push(peerFinding(describeObject(cnp), field, subjectText(peer), 'pod'));
        }
      });
    });
  }
  return findings;
}
