import { matches, type LabelSelector } from '../labels.js';
import { mergeCidrs } from '../net/cidr.js';
import { AddressRanges } from '../net/ranges.js';
import type { Cidr, IpAddr } from '../net/types.js';
import type { Cluster, Namespace, Node, Pod } from '../model/types.js';

/**
 * Who a selector picks. hostNetwork pods are never picked by pod or namespace
 * selectors: their traffic is node traffic, reachable through CIDR peers only.
 */
export class Selection {
  private readonly podsByNamespace = new Map<string, Pod[]>();
  readonly namespaces: readonly Namespace[];
  readonly pods: readonly Pod[];
  readonly nodes: ReadonlyMap<string, Node>;

  constructor(cluster: Cluster) {
    this.namespaces = [...cluster.namespaces.values()];
    this.pods = cluster.pods.filter((p) => !p.hostNetwork);
    for (const p of this.pods) {
      const list = this.podsByNamespace.get(p.namespace);
      if (list) list.push(p);
      else this.podsByNamespace.set(p.namespace, [p]);
    }
    this.nodes = new Map(cluster.nodes.map((n) => [n.name, n]));
  }

  podsIn(namespace: string, selector: LabelSelector): Pod[] {
    return (this.podsByNamespace.get(namespace) ?? []).filter((p) => matches(selector, p.labels));
  }

  namespacesMatching(selector: LabelSelector): Namespace[] {
    return this.namespaces.filter((n) => matches(selector, n.labels));
  }

  /** Pods whose namespace matches `namespaceSelector` and whose labels match `podSelector`. */
  podsAcross(namespaceSelector: LabelSelector, podSelector: LabelSelector): Pod[] {
    return this.namespacesMatching(namespaceSelector).flatMap((n) =>
      this.podsIn(n.name, podSelector),
    );
  }

  nodesMatching(selector: LabelSelector): Node[] {
    return [...this.nodes.values()].filter((n) => matches(selector, n.labels));
  }

  /** Pods with an address inside one of `cidrs`. */
  podsInCidrs(cidrs: readonly Cidr[]): Pod[] {
    if (cidrs.length === 0) return [];
    const ranges = new AddressRanges(mergeCidrs(cidrs));
    return this.pods.filter((p) => p.ips.some((ip) => ranges.has(ip)));
  }

  nodeAddresses(pod: Pod): readonly IpAddr[] {
    return pod.nodeName ? (this.nodes.get(pod.nodeName)?.addresses ?? []) : [];
  }
}
