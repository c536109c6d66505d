import { ErrorCodes, formatIssue, type Issue } from '../../core/errors.js';
import { buildCluster, implicitNamespace, validatePodAddresses } from '../../core/model/cluster.js';
import { parseObject } from '../../core/model/parse.js';
import { ipKey } from '../../core/net/ip.js';
import type { EndpointSlice, Service } from '../../core/model/service-types.js';
import type {
  Cluster,
  ClusterNetworkPolicy,
  ModelObject,
  Namespace,
  NetworkPolicy,
  Node,
  Pod,
} from '../../core/model/types.js';
import type { Change } from './reflector.js';
import type { ResourceSpec, WatchedKind } from './resources.js';
import { SortedObjects, type Replacement } from './sorted.js';

/**
 * From stored objects to a Cluster, incrementally. Each object is projected
 * and parsed once, when a new resourceVersion of it arrives (the reflector
 * keeps the result; a relist reuses it when the resourceVersion is the
 * same). The Cluster is the one buildCluster would make of the valid
 * objects, kept up to date instead of rebuilt: each kind stays sorted as
 * buildCluster sorts it, implicit namespaces follow a count of the pods and
 * policies in each namespace, and pod address conflicts a count of owners
 * per address (validatePodAddresses runs only while there is a conflict).
 * One event on a 100k-pod cluster costs a copy of the pod array, no parse
 * and no sort. A test checks the result against buildCluster after every
 * change.
 */

/** What the store keeps per object: the model object, or why there is none. */
export interface Parsed {
  readonly object?: ModelObject;
  readonly issues: readonly Issue[];
}

const NO_ISSUES: readonly Issue[] = Object.freeze([]);

/**
 * One shared copy of equal parts of pods: the replicas of a workload carry
 * the same labels, container ports and owner, and would otherwise each hold
 * their own (half a pod's memory). The table holds at most `max` parts and
 * starts over when full: sharing is lost for older parts, nothing else.
 */
export class PartSharer {
  private table = new Map<string, unknown>();

  constructor(private readonly max = 100_000) {}

  pod(p: Pod): Pod {
    return {
      ...p,
      labels: this.share(p.labels),
      ports: this.share(p.ports),
      ...(p.owner ? { owner: this.share(p.owner) } : {}),
    };
  }

  private share<T>(v: T): T {
    const key = JSON.stringify(v);
    const hit = this.table.get(key);
    if (hit !== undefined) return hit as T;
    if (this.table.size >= this.max) this.table = new Map();
    this.table.set(key, v);
    return v;
  }
}

/** Projects a raw API object to the fields weft reads, then parses it strictly. */
export function parseApiObject(
  spec: ResourceSpec,
  raw: Record<string, unknown>,
  sharer?: PartSharer,
): Parsed {
  const result = parseObject(spec.project(raw));
  const o = result.object;
  if (o) return { object: o.kind === 'Pod' && sharer ? sharer.pod(o) : o, issues: NO_ISSUES };
  if (result.issues.length > 0) return { issues: result.issues };
  // parseObject skips only kinds it does not read; a watched kind is always read.
  const issue = {
    code: ErrorCodes.UNKNOWN_KIND,
    object: `${spec.kind} ${String(raw['kind'])}`,
    field: 'kind',
    message: `was not read: ${result.skipped ?? 'unknown'}`,
  };
  return { issues: [issue] };
}

const KINDS: readonly WatchedKind[] = [
  'Namespace',
  'Pod',
  'Node',
  'NetworkPolicy',
  'ClusterNetworkPolicy',
  'Service',
  'EndpointSlice',
];

interface Parts {
  namespaces: ReadonlyMap<string, Namespace>;
  pods: readonly Pod[];
  nodes: readonly Node[];
  networkPolicies: readonly NetworkPolicy[];
  clusterNetworkPolicies: readonly ClusterNetworkPolicy[];
  services: readonly Service[];
  endpointSlices: readonly EndpointSlice[];
}

export class ClusterAssembler {
  private readonly kinds = new Map<WatchedKind, SortedObjects>(
    KINDS.map((k) => [k, new SortedObjects()]),
  );
  private readonly dirty = new Set<WatchedKind>(KINDS);
  /** Pods and NetworkPolicies per namespace: a namespace in use but not given is implicit. */
  private readonly inUse = new Map<string, number>();
  private namespacesDirty = true;
  /** Pods (not hostNetwork) per address, and how many addresses have more than one. */
  private readonly owners = new Map<string, number>();
  private conflicts = 0;
  private invalid = 0;
  private lastProblems = '';
  private readonly parts: Parts = {
    namespaces: new Map(),
    pods: [],
    nodes: [],
    networkPolicies: [],
    clusterNetworkPolicies: [],
    services: [],
    endpointSlices: [],
  };

  /** Applies a reflector's changes (a key may change more than once in one batch). */
  apply(kind: WatchedKind, changes: readonly Change<Parsed>[]): void {
    // Per key, the object held before the batch and the one after it.
    const net = new Map<string, { before?: ModelObject; after?: ModelObject }>();
    for (const c of changes) {
      if (c.old && c.old.issues.length > 0) this.invalid--;
      if (c.old?.object) this.count(c.old.object, -1);
      const after = c.type === 'set' ? c.value.object : undefined;
      if (c.type === 'set' && c.value.issues.length > 0) this.invalid++;
      if (after) this.count(after, 1);
      const entry = net.get(c.key);
      if (entry) entry.after = after;
      else
        net.set(c.key, {
          ...(c.old?.object ? { before: c.old.object } : {}),
          ...(after ? { after } : {}),
        });
    }
    (this.kinds.get(kind) as SortedObjects).update([...net.values()] as Replacement[]);
    this.dirty.add(kind);
  }

  /** Objects left out because they are invalid, now. */
  get invalidObjects(): number {
    return this.invalid;
  }

  /**
   * The Cluster of every valid object, and the pod address conflicts when
   * they differ from the ones last returned (so each is reported once).
   */
  build(): { cluster: Cluster; newIssues: Issue[] } {
    const p = this.parts;
    const items = (k: WatchedKind) => (this.kinds.get(k) as SortedObjects).items;
    if (this.dirty.has('Pod')) p.pods = items('Pod').slice() as Pod[];
    if (this.dirty.has('Node')) p.nodes = items('Node').slice() as Node[];
    if (this.dirty.has('NetworkPolicy')) {
      p.networkPolicies = items('NetworkPolicy').slice() as NetworkPolicy[];
    }
    if (this.dirty.has('Service')) p.services = items('Service').slice() as Service[];
    if (this.dirty.has('EndpointSlice')) {
      p.endpointSlices = items('EndpointSlice').slice() as EndpointSlice[];
    }
    if (this.dirty.has('ClusterNetworkPolicy')) {
      // Few of them, in buildCluster's own order (tier, priority, name).
      p.clusterNetworkPolicies = buildCluster(
        items('ClusterNetworkPolicy'),
      ).cluster.clusterNetworkPolicies;
    }
    if (this.dirty.has('Namespace') || this.namespacesDirty) p.namespaces = this.namespaces();
    this.dirty.clear();
    this.namespacesDirty = false;
    const cluster: Cluster = { ...p };
    const issues = this.conflicts > 0 ? validatePodAddresses(cluster) : [];
    const text = issues.map(formatIssue).join('\n');
    const changed = text !== this.lastProblems;
    this.lastProblems = text;
    return { cluster, newIssues: changed ? issues : [] };
  }

  /** Given namespaces and implicit ones, by name. */
  private namespaces(): Map<string, Namespace> {
    const given = (this.kinds.get('Namespace') as SortedObjects).items as readonly Namespace[];
    const names = new Set(given.map((n) => n.name));
    const implicit = [...this.inUse.keys()].filter((n) => !names.has(n)).sort();
    const out = new Map<string, Namespace>();
    let i = 0;
    for (const ns of given) {
      while (i < implicit.length && (implicit[i] as string) < ns.name) {
        const name = implicit[i++] as string;
        out.set(name, implicitNamespace(name));
      }
      out.set(ns.name, ns);
    }
    for (; i < implicit.length; i++)
      out.set(implicit[i] as string, implicitNamespace(implicit[i] as string));
    return out;
  }

  private count(o: ModelObject, d: 1 | -1): void {
    if (o.kind !== 'Pod' && o.kind !== 'NetworkPolicy') return;
    const n = (this.inUse.get(o.namespace) ?? 0) + d;
    if (n === 0) this.inUse.delete(o.namespace);
    else this.inUse.set(o.namespace, n);
    if ((d === 1 && n === 1) || n === 0) this.namespacesDirty = true;
    if (o.kind !== 'Pod' || o.hostNetwork) return;
    for (const ip of o.ips) {
      const key = ipKey(ip);
      const owners = (this.owners.get(key) ?? 0) + d;
      if (owners === 0) this.owners.delete(key);
      else this.owners.set(key, owners);
      if ((d === 1 && owners === 2) || (d === -1 && owners === 1)) this.conflicts += d;
    }
  }
}
