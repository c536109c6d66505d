import { EVERYTHING, type LabelSelector, type Labels } from '../labels.js';
import { Selection } from '../policy/select.js';
import {
  podKey,
  type Cluster,
  type CnpPeer,
  type CnpSubject,
  type Direction,
  type Namespace,
  type NetworkPolicy,
  type NetworkPolicyPeer,
  type NetworkPolicyRule,
  type Node,
  type Pod,
} from '../model/types.js';
import { listText } from '../text.js';

/** For each label key, the values in use. */
export type LabelIndex = ReadonlyMap<string, ReadonlySet<string>>;

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * The cluster as the checks look at it: who each selector picks (through the
 * compiler's own `Selection`, so hostNetwork pods are never picked) and which
 * labels exist on pods, namespaces and nodes.
 */
export class LintContext {
  readonly selection: Selection;
  /** Pods with their own network: hostNetwork pods are left out everywhere. */
  readonly pods: readonly Pod[];
  readonly namespaces: readonly Namespace[];
  readonly nodes: readonly Node[];
  readonly podLabels: LabelIndex;
  readonly namespaceLabels: LabelIndex;
  readonly nodeLabels: LabelIndex;
  /** False when every namespace was inferred: their labels (but the name) are unknown. */
  readonly namespaceLabelsKnown: boolean;

  constructor(readonly cluster: Cluster) {
    this.selection = new Selection(cluster);
    this.pods = this.selection.pods;
    this.namespaces = this.selection.namespaces;
    this.nodes = cluster.nodes;
    this.podLabels = indexLabels(this.pods.map((p) => p.labels));
    this.namespaceLabels = indexLabels(this.namespaces.map((n) => n.labels));
    this.nodeLabels = indexLabels(this.nodes.map((n) => n.labels));
    this.namespaceLabelsKnown = this.namespaces.some((n) => !n.implicit);
  }

  nodesMatching(selector: LabelSelector): Node[] {
    return this.selection.nodesMatching(selector);
  }

  npSubject(np: NetworkPolicy): Pod[] {
    return this.selection.podsIn(np.namespace, np.podSelector);
  }

  /** The pods a NetworkPolicy peer selects; an ipBlock selects none by label. */
  npPeerPods(np: NetworkPolicy, peer: NetworkPolicyPeer): Pod[] {
    if (peer.kind === 'ipBlock') return [];
    if (peer.namespaces.kind === 'own') return this.selection.podsIn(np.namespace, peer.pods);
    return this.selection.podsAcross(peer.namespaces.selector, peer.pods);
  }

  cnpSubject(subject: CnpSubject): Pod[] {
    if (subject.kind === 'namespaces')
      return this.selection.podsAcross(subject.selector, EVERYTHING);
    return this.selection.podsAcross(subject.namespaceSelector, subject.podSelector);
  }

  /** The pods a ClusterNetworkPolicy peer selects; nodes and networks select none by label. */
  cnpPeerPods(peer: CnpPeer): Pod[] {
    if (peer.kind === 'namespaces') return this.selection.podsAcross(peer.selector, EVERYTHING);
    if (peer.kind === 'pods')
      return this.selection.podsAcross(peer.namespaceSelector, peer.podSelector);
    return [];
  }
}

function indexLabels(all: readonly Labels[]): LabelIndex {
  const index = new Map<string, Set<string>>();
  for (const labels of all) {
    for (const [k, v] of Object.entries(labels)) {
      const values = index.get(k);
      if (values) values.add(v);
      else index.set(k, new Set([v]));
    }
  }
  return index;
}

/** The rules of one direction that the policy enforces: none when policyTypes leaves it out. */
export function activeRules(np: NetworkPolicy, direction: Direction): readonly NetworkPolicyRule[] {
  return np.policyTypes.includes(direction) ? np[direction] : [];
}

/** `from` for ingress rules, `to` for egress rules. */
export function peersField(direction: Direction): 'from' | 'to' {
  return direction === 'ingress' ? 'from' : 'to';
}

export function podsText(pods: readonly Pod[]): string {
  return listText(pods.map(podKey));
}
