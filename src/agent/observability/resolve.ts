import type { Labels } from '../../core/labels.js';
import { ipKey, parseIp } from '../../core/net/ip.js';
import type { Cluster, Pod } from '../../core/model/types.js';
import { podKey } from '../../core/model/types.js';
import type { FlowEndpoint, Workload } from '../../core/flows/types.js';

/**
 * Who is behind an address, as this node's agent knows it: a pod of the
 * cluster model (this node's own pods with the addresses their CNI ADD gave
 * them), a node (`host`), or anything else (`world`). Lookups are one map
 * access. What the cluster says (ClusterAddresses) is built once per pod and
 * node list; this node's own pods lie on top of it, so a pod's ADD or DEL
 * does not walk the cluster again.
 */

interface PodInfo {
  /** `namespace/name` */
  readonly key: string;
  readonly namespace: string;
  readonly pod: string;
  readonly labels: Labels;
  readonly workload?: Workload;
}

export interface LocalPod {
  /** `namespace/name` */
  readonly key: string;
  /** Addresses as the endpoint record holds them (`10.244.1.5/32` or bare). */
  readonly addresses: readonly string[];
}

/** The cluster's pods and nodes by address. */
export class ClusterAddresses {
  readonly pods = new Map<string, PodInfo>();
  readonly byKey = new Map<string, PodInfo>();
  readonly hosts = new Map<string, string>();

  constructor(readonly cluster: Cluster | undefined) {
    for (const n of cluster?.nodes ?? [])
      for (const a of n.addresses) this.hosts.set(ipKey(a), n.name);
    for (const p of cluster?.pods ?? []) {
      if (p.hostNetwork) continue;
      const info = podInfo(p);
      this.byKey.set(info.key, info);
      for (const a of p.ips) if (!this.pods.has(ipKey(a))) this.pods.set(ipKey(a), info);
    }
  }
}

/** Text addresses whose canonical key is remembered (cleared when full). */
const KEY_CACHE = 65_536;

export class AddressBook {
  /** This node's pods at the addresses their endpoint records hold. */
  private readonly own = new Map<string, PodInfo>();
  private readonly localKeys = new Set<string>();
  /** Kernel text address → ipKey (the same few addresses come back event after event). */
  private readonly keys = new Map<string, string>();

  constructor(
    readonly cluster: ClusterAddresses,
    local: readonly LocalPod[],
  ) {
    for (const l of local) {
      const info = cluster.byKey.get(l.key);
      if (!info) continue;
      this.localKeys.add(l.key);
      for (const text of l.addresses) {
        const addr = parseIp(text.split('/')[0] as string);
        if (addr) this.own.set(ipKey(addr), info);
      }
    }
  }

  /** A book over a cluster model built for it alone (tests, one-off use). */
  static of(cluster: Cluster | undefined, local: readonly LocalPod[]): AddressBook {
    return new AddressBook(new ClusterAddresses(cluster), local);
  }

  /** The endpoint at `ip` (a text address as the kernel printed it). */
  endpoint(ip: string, port: number | undefined): FlowEndpoint {
    const key = this.keyOf(ip);
    const p = this.own.get(key) ?? this.cluster.pods.get(key);
    const at = port === undefined ? { ip } : { ip, port };
    if (p)
      return {
        kind: 'pod',
        ...at,
        namespace: p.namespace,
        pod: p.pod,
        labels: p.labels,
        ...(p.workload ? { workload: p.workload } : {}),
      };
    const node = this.cluster.hosts.get(key);
    if (node !== undefined) return { kind: 'host', ...at, node };
    return { kind: 'world', ...at };
  }

  /** The `namespace/name` of this node's pod at `ip`, if it is one. */
  localPod(ip: string): string | undefined {
    const key = this.keyOf(ip);
    const p = this.own.get(key) ?? this.cluster.pods.get(key);
    return p && this.localKeys.has(p.key) ? p.key : undefined;
  }

  /** The address's map key; the text itself when it does not parse (it then matches nothing). */
  private keyOf(ip: string): string {
    let key = this.keys.get(ip);
    if (key === undefined) {
      const addr = parseIp(ip);
      key = addr ? ipKey(addr) : ip;
      if (this.keys.size >= KEY_CACHE) this.keys.clear();
      this.keys.set(ip, key);
    }
    return key;
  }
}

function podInfo(p: Pod): PodInfo {
  const workload = workloadOf(p);
  return {
    key: podKey(p),
    namespace: p.namespace,
    pod: p.name,
    labels: p.labels,
    ...(workload ? { workload } : {}),
  };
}

/**
 * The controller that owns a pod: its owner reference, with a ReplicaSet
 * named `<deployment>-<pod-template-hash>` (as the Deployment controller
 * names them) read as that Deployment.
 */
export function workloadOf(p: Pod): Workload | undefined {
  if (!p.owner) return undefined;
  const hash = p.labels['pod-template-hash'];
  if (p.owner.kind === 'ReplicaSet' && hash && p.owner.name.endsWith(`-${hash}`))
    return { kind: 'Deployment', name: p.owner.name.slice(0, -hash.length - 1) };
  return { kind: p.owner.kind, name: p.owner.name };
}
