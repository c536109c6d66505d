import { assertNever, formatSelector, type LabelSelector } from '../labels.js';
import { formatCidr, hostCidr, mergeCidrs, subtractCidrs } from '../net/cidr.js';
import type { Cidr } from '../net/types.js';
import type {
  Cluster,
  CnpPeer,
  CnpSubject,
  NetworkPolicyPeer,
  Pod,
  Protocol,
} from '../model/types.js';
import type { NamedPortEntry, PeerPart } from './ir.js';
import { Selection } from './select.js';

/** What a rule's peers resolve to: merged addresses, and the pods among them (for named ports). */
export interface ResolvedPeers {
  /** Identifies the peers as written (same key, same result), for sharing and reuse. */
  readonly key: string;
  readonly any: boolean;
  readonly cidrs: readonly Cidr[];
  /** Destination pods a named port may resolve against (egress); unique. */
  readonly pods: readonly Pod[];
  readonly parts: readonly PeerPart[];
}

/** kubectl's notation of a selector: unambiguous (label keys and values cannot hold `,` or space). */
const selectorKey = (s: LabelSelector) => formatSelector(s);

/**
 * Who the selectors of a cluster pick, each distinct selector resolved once.
 * Thousands of policies repeat the same few hundred peers; resolving and
 * merging each once is what keeps compiling a large cluster fast. Valid for
 * one state of the cluster's pods, namespaces and nodes.
 */
export class PeerResolver {
  readonly sel: Selection;
  private readonly pods = new Map<string, readonly Pod[]>();
  private readonly peers = new Map<string, ResolvedPeers>();
  private readonly namedPorts = new Map<string, readonly NamedPortEntry[]>();
  private readonly parts = new Map<string, { part: PeerPart; pods: readonly Pod[] }>();

  constructor(cluster: Cluster) {
    this.sel = new Selection(cluster);
  }

  private memo(key: string, compute: () => readonly Pod[]): readonly Pod[] {
    let hit = this.pods.get(key);
    if (!hit) this.pods.set(key, (hit = compute()));
    return hit;
  }

  podsIn(namespace: string, selector: LabelSelector): Selected {
    const key = `pods ${selectorKey(selector)} in namespace ${namespace}`;
    return { key, pods: this.memo(key, () => this.sel.podsIn(namespace, selector)) };
  }

  podsAcross(namespaceSelector: LabelSelector, podSelector: LabelSelector): Selected {
    const key = `pods ${selectorKey(podSelector)} in namespaces ${selectorKey(namespaceSelector)}`;
    return {
      key,
      pods: this.memo(key, () => this.sel.podsAcross(namespaceSelector, podSelector)),
    };
  }

  cnpSubjects(subject: CnpSubject): Selected {
    return subject.kind === 'namespaces'
      ? this.podsAcross(subject.selector, { requirements: [] })
      : this.podsAcross(subject.namespaceSelector, subject.podSelector);
  }

  /** The peers of a NetworkPolicy rule; `all` (no `from`/`to`) is every address. */
  npPeers(namespace: string, peers: 'all' | readonly NetworkPolicyPeer[]): ResolvedPeers {
    if (peers === 'all') return ANY;
    const parts = peers.map((p) => this.npPart(namespace, p));
    return this.combine(parts);
  }

  cnpPeers(peers: readonly CnpPeer[]): ResolvedPeers {
    return this.combine(peers.map((p) => this.cnpPart(p)));
  }

  /** (IP, protocol, port) of the named port on each destination pod. */
  namedPortEntries(
    destinationsKey: string,
    destinations: readonly Pod[],
    name: string,
    protocol: Protocol | 'any',
  ): readonly NamedPortEntry[] {
    const key = `${destinationsKey} # ${name}/${protocol}`;
    let hit = this.namedPorts.get(key);
    if (hit) return hit;
    const entries: NamedPortEntry[] = [];
    for (const pod of destinations) {
      for (const cp of pod.ports) {
        if (cp.name !== name || (protocol !== 'any' && cp.protocol !== protocol)) continue;
        for (const ip of pod.ips) entries.push({ ip, protocol: cp.protocol, port: cp.port });
      }
    }
    this.namedPorts.set(key, (hit = entries));
    return hit;
  }

  /** One peer: its key, and the pods and CIDRs it stands for. */
  private npPart(namespace: string, peer: NetworkPolicyPeer): Part {
    switch (peer.kind) {
      case 'pods':
        return podsPart(
          peer.namespaces.kind === 'own'
            ? this.podsIn(namespace, peer.pods)
            : this.podsAcross(peer.namespaces.selector, peer.pods),
        );
      case 'ipBlock': {
        const except = peer.except.length ? ` except ${peer.except.map(formatCidr).join(',')}` : '';
        return {
          key: `ipBlock ${formatCidr(peer.cidr)}${except}`,
          hosts: false,
          resolve: () => {
            const cidrs = subtractCidrs(peer.cidr, peer.except);
            return { cidrs, pods: this.sel.podsInCidrs(cidrs) };
          },
        };
      }
      default:
        return assertNever(peer);
    }
  }

  private cnpPart(peer: CnpPeer): Part {
    switch (peer.kind) {
      case 'namespaces':
        return podsPart(this.podsAcross(peer.selector, { requirements: [] }));
      case 'pods':
        return podsPart(this.podsAcross(peer.namespaceSelector, peer.podSelector));
      case 'nodes':
        return {
          key: `nodes ${selectorKey(peer.selector)}`,
          hosts: false,
          resolve: () => ({
            cidrs: this.sel.nodesMatching(peer.selector).flatMap((n) => n.addresses.map(hostCidr)),
            pods: [],
          }),
        };
      case 'networks':
        return {
          key: `networks ${peer.cidrs.map(formatCidr).join(',')}`,
          hosts: false,
          resolve: () => ({ cidrs: peer.cidrs, pods: this.sel.podsInCidrs(peer.cidrs) }),
        };
      default:
        return assertNever(peer);
    }
  }

  /** The union of some peers, merged once per distinct list of peers. */
  private combine(parts: readonly Part[]): ResolvedPeers {
    const key = parts.map((p) => p.key).join(' | ');
    const hit = this.peers.get(key);
    if (hit) return hit;
    const cidrs: Cidr[] = [];
    const pods = new Set<Pod>();
    const resolved: PeerPart[] = [];
    for (const part of parts) {
      let r = this.parts.get(part.key);
      if (!r) {
        const { cidrs: c, pods: p } = part.resolve();
        // Pod addresses stay single hosts: merged into prefixes, they would need an interval set.
        const merged = part.hosts ? c : mergeCidrs(c);
        r = { part: { text: part.key, hosts: part.hosts, cidrs: merged }, pods: p };
        this.parts.set(part.key, r);
      }
      if (!resolved.some((x) => x.text === part.key)) resolved.push(r.part);
      for (const c of r.part.cidrs) cidrs.push(c);
      for (const p of r.pods) pods.add(p);
    }
    const out: ResolvedPeers = {
      key,
      any: false,
      cidrs: mergeCidrs(cidrs),
      pods: [...pods],
      parts: resolved,
    };
    this.peers.set(key, out);
    return out;
  }
}

interface Part {
  readonly key: string;
  /** Every address it stands for is one host (pods). */
  readonly hosts: boolean;
  readonly resolve: () => { cidrs: readonly Cidr[]; pods: readonly Pod[] };
}

/** Pods picked by a selector (memoized, so picking them before the peer key is looked up is free). */
export interface Selected {
  readonly key: string;
  readonly pods: readonly Pod[];
}

function podsPart({ key, pods }: Selected): Part {
  return {
    key,
    hosts: true,
    resolve: () => ({ cidrs: pods.flatMap((p) => p.ips.map(hostCidr)), pods }),
  };
}

const ANY: ResolvedPeers = { key: 'any', any: true, cidrs: [], pods: [], parts: [] };
