import { assertNever, formatSelector, matches, type LabelSelector } from '../labels.js';
import { formatCidr, hostCidr, mergeCidrs, subtractCidrs } from '../net/cidr.js';
import type { Cidr } from '../net/types.js';
import {
  podKey,
  type Cluster,
  type CnpPeer,
  type CnpSubject,
  type NetworkPolicyPeer,
  type Pod,
  type Protocol,
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

/** A selection, and which pods could change it. */
interface Memo {
  readonly pods: readonly Pod[];
  readonly affectedBy: (pod: Pod) => boolean;
}

/** What a resolver hands on to the next when only pods changed. */
interface Carried {
  readonly previous: PeerResolver;
  /** Old and new versions of every pod that appeared, went or changed. */
  readonly changed: readonly Pod[];
}

/**
 * Who the selectors of a cluster pick, each distinct selector resolved once.
 * Thousands of policies repeat the same few hundred peers; resolving and
 * merging each once is what keeps compiling a large cluster fast. Valid for
 * one state of the cluster's pods, namespaces and nodes.
 *
 * When only pods changed, `next` makes the resolver for the new state and
 * keeps every result no changed pod can affect, as the same objects: the
 * compiler then reuses each policy whose selections all stayed the same.
 */
export class PeerResolver {
  readonly sel: Selection;
  private readonly pods = new Map<string, Memo>();
  private readonly peers = new Map<string, ResolvedPeers>();
  private readonly namedPorts = new Map<
    string,
    { destinations: readonly Pod[]; entries: readonly NamedPortEntry[] }
  >();
  private readonly parts = new Map<string, { part: PeerPart; pods: readonly Pod[] }>();

  constructor(
    cluster: Cluster,
    private carried?: Carried,
  ) {
    this.sel = new Selection(cluster);
  }

  /** The resolver for `cluster`, whose namespaces and nodes are those of this one's. */
  next(cluster: Cluster, changed: readonly Pod[]): PeerResolver {
    // One generation back only: this resolver forgets its own predecessor.
    this.carried = undefined;
    return new PeerResolver(cluster, { previous: this, changed });
  }

  private memo(key: string, affectedBy: (pod: Pod) => boolean, compute: () => readonly Pod[]) {
    let hit = this.pods.get(key);
    if (hit) return hit.pods;
    const old = this.carried?.previous.pods.get(key);
    if (old && !this.carried?.changed.some((p) => affectedBy(p))) hit = old;
    else hit = { pods: sameOr(old?.pods, compute()), affectedBy };
    this.pods.set(key, hit);
    return hit.pods;
  }

  podsIn(namespace: string, selector: LabelSelector): Selected {
    const key = `pods ${selectorKey(selector)} in namespace ${namespace}`;
    const affectedBy = (p: Pod) => p.namespace === namespace && matches(selector, p.labels);
    return { key, pods: this.memo(key, affectedBy, () => this.sel.podsIn(namespace, selector)) };
  }

  podsAcross(namespaceSelector: LabelSelector, podSelector: LabelSelector): Selected {
    const key = `pods ${selectorKey(podSelector)} in namespaces ${selectorKey(namespaceSelector)}`;
    const affectedBy = (p: Pod) => matches(podSelector, p.labels);
    return {
      key,
      pods: this.memo(key, affectedBy, () => this.sel.podsAcross(namespaceSelector, podSelector)),
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
    const hit = this.namedPorts.get(key) ?? this.carried?.previous.namedPorts.get(key);
    if (hit?.destinations === destinations) {
      this.namedPorts.set(key, hit);
      return hit.entries;
    }
    const entries: NamedPortEntry[] = [];
    for (const pod of destinations) {
      for (const cp of pod.ports) {
        if (cp.name !== name || (protocol !== 'any' && cp.protocol !== protocol)) continue;
        for (const ip of pod.ips) entries.push({ ip, protocol: cp.protocol, port: cp.port });
      }
    }
    this.namedPorts.set(key, { destinations, entries });
    return entries;
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
    const resolved: PeerPart[] = [];
    const podLists: (readonly Pod[])[] = [];
    for (const part of parts) {
      const r = this.part(part);
      if (resolved.some((x) => x.text === part.key)) continue;
      resolved.push(r.part);
      podLists.push(r.pods);
    }
    const old = this.carried?.previous.peers.get(key);
    const oldLists = old && PEER_PODS.get(old);
    const same = <T>(a: readonly T[] | undefined, b: readonly T[]) =>
      a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
    let out: ResolvedPeers;
    if (old && same(old.parts, resolved) && same(oldLists, podLists)) out = old;
    else
      out = lazyPeers(key, old && same(old.parts, resolved) ? old : undefined, resolved, podLists);
    PEER_PODS.set(out, podLists);
    this.peers.set(key, out);
    return out;
  }

  private part(part: Part): { part: PeerPart; pods: readonly Pod[] } {
    let r = this.parts.get(part.key);
    if (r) return r;
    const resolved = part.resolve();
    const pods = resolved.pods;
    const old = this.carried?.previous.parts.get(part.key);
    const samePods = sameOr(old?.pods, pods);
    if (old && samePods === old.pods) {
      // The same pods (the same objects, so the same addresses): the same part.
      r = old;
    } else if (old && !part.hosts) {
      // A block's addresses depend only on its key (and nodes, unchanged here).
      r = { part: old.part, pods: samePods };
    } else {
      // Pod addresses stay single hosts: merged into prefixes, they would need an interval set.
      // (`cidrs` is read only here: for pods it is a getter, so reuse costs nothing.)
      const merged = part.hosts ? resolved.cidrs : mergeCidrs(resolved.cidrs);
      r = { part: { text: part.key, hosts: part.hosts, cidrs: merged }, pods };
    }
    this.parts.set(part.key, r);
    return r;
  }
}

/**
 * Combined peers whose merged addresses and pod list are computed on first
 * read: a sync reads neither (the dataplane uses the parts; named ports read
 * the pods), so a pod change costs only the parts it touches. With `same`
 * (equal parts, other pods), the addresses are `same`'s and the pod list is
 * `same`'s too when it holds the same pods.
 */
function lazyPeers(
  key: string,
  same: ResolvedPeers | undefined,
  parts: readonly PeerPart[],
  podLists: readonly (readonly Pod[])[],
): ResolvedPeers {
  let cidrs: readonly Cidr[] | undefined;
  let pods: readonly Pod[] | undefined;
  return {
    key,
    any: false,
    parts: same ? same.parts : parts,
    get cidrs() {
      return (cidrs ??= same ? same.cidrs : mergeCidrs(parts.flatMap((p) => p.cidrs)));
    },
    get pods() {
      // By key: two lists may hold different versions of one pod (see sameOr).
      const union = () => [...new Map(podLists.flat().map((p) => [podKey(p), p])).values()];
      return (pods ??= sameOr(same?.pods, union()));
    },
  };
}

/** The pod lists a combined peer was made from, to tell whether it can be reused. */
const PEER_PODS = new WeakMap<ResolvedPeers, readonly (readonly Pod[])[]>();

/**
 * Whether two versions of a pod are the same to a selection's readers: the
 * same pod with the same addresses and ports (its labels decided whether it
 * was selected; what is kept of it is where it is and what it serves).
 */
function samePod(a: Pod, b: Pod): boolean {
  if (a === b) return true;
  return (
    a.namespace === b.namespace &&
    a.name === b.name &&
    a.ips.length === b.ips.length &&
    a.ips.every((ip, i) => ip.family === b.ips[i]?.family && ip.value === b.ips[i]?.value) &&
    a.ports.length === b.ports.length &&
    a.ports.every((x, i) => {
      const y = b.ports[i];
      return y !== undefined && x.name === y.name && x.port === y.port && x.protocol === y.protocol;
    })
  );
}

/**
 * `old` when `fresh` holds the same pods (samePod) in the same order, else
 * `fresh`. Readers of a selection use pods' keys, addresses and ports only.
 */
function sameOr(old: readonly Pod[] | undefined, fresh: readonly Pod[]): readonly Pod[] {
  if (old === fresh) return old;
  if (old && old.length === fresh.length && old.every((p, i) => samePod(p, fresh[i] as Pod)))
    return old;
  return fresh;
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
    resolve: () => ({
      get cidrs() {
        return pods.flatMap((p) => p.ips.map(hostCidr));
      },
      pods,
    }),
  };
}

const ANY: ResolvedPeers = { key: 'any', any: true, cidrs: [], pods: [], parts: [] };
