import {
  buildCluster,
  byNamespaceName,
  compareText,
  implicitNamespace,
  objectKey,
  validatePodAddresses,
} from '../../core/model/cluster.js';
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

/**
 * The Cluster of the last good load, carried forward file by file. When a
 * few files change, the next Cluster is the previous one with the objects of
 * the old versions of those files taken out and the new ones put in at their
 * sorted places; every list and object of a kind that did not change stays
 * the same (the policy compiler reuses its work by object identity). The
 * result is the one buildCluster makes of the same objects; whenever the
 * change would bring an issue (a duplicate, a pod address conflict), the
 * caller builds from scratch instead, and so reports exactly what a full
 * build reports. A test checks both against each other on random changes.
 */
export class ClusterPatcher {
  private good:
    | {
        readonly files: ReadonlyMap<string, readonly ModelObject[]>;
        readonly cluster: Cluster;
        /** Every object by kind, namespace and name. */
        readonly keys: Map<string, ModelObject>;
        /** Pods and NetworkPolicies per namespace: a namespace in use but not given is implicit. */
        readonly inUse: Map<string, number>;
      }
    | undefined;

  /** Forgets the last good state: the next patch returns undefined. */
  reset(): void {
    this.good = undefined;
  }

  /** Remembers a Cluster that buildCluster made, without issues, of these files' objects. */
  remember(files: ReadonlyMap<string, readonly ModelObject[]>, cluster: Cluster): void {
    const keys = new Map<string, ModelObject>();
    const inUse = new Map<string, number>();
    for (const objects of files.values()) {
      for (const o of objects) {
        keys.set(objectKey(o), o);
        count(inUse, o, 1);
      }
    }
    this.good = { files, cluster, keys, inUse };
  }

  /**
   * The Cluster of `files` (objects by file; an unchanged file gives the same
   * array as before), or undefined when there is no good state to start
   * from or the change brings an issue: then build from scratch.
   */
  patch(files: ReadonlyMap<string, readonly ModelObject[]>): Cluster | undefined {
    const good = this.good;
    if (!good) return undefined;
    // Not push(...objects): a file may hold more objects than a call takes arguments.
    const removed = [...good.files]
      .filter(([file, objects]) => files.get(file) !== objects)
      .flatMap(([, objects]) => objects);
    const added = [...files]
      .filter(([file, objects]) => good.files.get(file) !== objects)
      .flatMap(([, objects]) => objects);
    if (!noDuplicates(good.keys, removed, added)) return undefined;
    const cluster = patchCluster(good.cluster, removed, added, good.inUse);
    if (!cluster) return undefined;
    // Committed: the index follows.
    for (const o of removed) {
      good.keys.delete(objectKey(o));
      count(good.inUse, o, -1);
    }
    for (const o of added) {
      good.keys.set(objectKey(o), o);
      count(good.inUse, o, 1);
    }
    this.good = { ...good, files, cluster };
    return cluster;
  }
}

function count(inUse: Map<string, number>, o: ModelObject, by: 1 | -1): void {
  if (o.kind !== 'Pod' && o.kind !== 'NetworkPolicy') return;
  const n = (inUse.get(o.namespace) ?? 0) + by;
  if (n === 0) inUse.delete(o.namespace);
  else inUse.set(o.namespace, n);
}

/** Whether the index, less `removed`, plus `added`, holds every key once. */
function noDuplicates(
  keys: ReadonlyMap<string, ModelObject>,
  removed: readonly ModelObject[],
  added: readonly ModelObject[],
): boolean {
  const gone = new Set(removed.map(objectKey));
  const fresh = new Set<string>();
  for (const o of added) {
    const key = objectKey(o);
    if (fresh.has(key) || (keys.has(key) && !gone.has(key))) return false;
    fresh.add(key);
  }
  return true;
}

/** Where `o` goes in the sorted `list`: the first index whose element is not before it. */
function lowerBound<T>(list: readonly T[], o: T, order: (a: T, b: T) => number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (order(list[mid] as T, o) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `list` (sorted by `order`, no two equal) less `removed`, plus `added`,
 * still sorted; the same array when none of either is of this kind.
 */
function merged<T extends ModelObject>(
  list: readonly T[],
  removed: readonly ModelObject[],
  added: readonly ModelObject[],
  kind: T['kind'],
  order: (a: T, b: T) => number,
): readonly T[] {
  const gone = removed.filter((o): o is T => o.kind === kind);
  const fresh = added.filter((o): o is T => o.kind === kind);
  if (gone.length === 0 && fresh.length === 0) return list;
  const rebuilt = () => {
    const drop = new Set<ModelObject>(gone);
    return [...list.filter((o) => !drop.has(o)), ...fresh].sort(order);
  };
  // A few changes: binary search and splice; many: filter and sort.
  if (gone.length + fresh.length > 64) return rebuilt();
  const out = list.slice();
  for (const o of gone) {
    const i = lowerBound(out, o, order);
    if (out[i] !== o) return rebuilt();
    out.splice(i, 1);
  }
  for (const o of fresh) out.splice(lowerBound(out, o, order), 0, o);
  return out;
}

/** The patched Cluster, or undefined when its pods' addresses conflict. */
function patchCluster(
  before: Cluster,
  removed: readonly ModelObject[],
  added: readonly ModelObject[],
  inUse: ReadonlyMap<string, number>,
): Cluster | undefined {
  const gone = new Set(removed);
  const touched = new Set([...removed, ...added].map((o) => o.kind));
  const pods = merged<Pod>(before.pods, removed, added, 'Pod', byNamespaceName);
  const networkPolicies = merged<NetworkPolicy>(
    before.networkPolicies,
    removed,
    added,
    'NetworkPolicy',
    byNamespaceName,
  );
  const nodes = merged<Node>(before.nodes, removed, added, 'Node', (a, b) =>
    compareText(a.name, b.name),
  );
  const services = merged<Service>(before.services, removed, added, 'Service', byNamespaceName);
  const endpointSlices = merged<EndpointSlice>(
    before.endpointSlices,
    removed,
    added,
    'EndpointSlice',
    byNamespaceName,
  );
  // Few of them, and buildCluster's own order (tier, priority, name).
  const clusterNetworkPolicies = touched.has('ClusterNetworkPolicy')
    ? buildCluster([
        ...before.clusterNetworkPolicies.filter((o) => !gone.has(o)),
        ...added.filter((o): o is ClusterNetworkPolicy => o.kind === 'ClusterNetworkPolicy'),
      ]).cluster.clusterNetworkPolicies
    : before.clusterNetworkPolicies;
  const namespaces = namespacesChanged(removed, added, inUse)
    ? nextNamespaces(before.namespaces, gone, added, removed, inUse)
    : before.namespaces;
  const cluster: Cluster = {
    namespaces,
    pods,
    nodes,
    networkPolicies,
    clusterNetworkPolicies,
    services,
    endpointSlices,
  };
  if (pods !== before.pods && validatePodAddresses(cluster).length > 0) return undefined;
  return cluster;
}

/** Whether a Namespace came or went, or a namespace's pods and policies went from none to some. */
function namespacesChanged(
  removed: readonly ModelObject[],
  added: readonly ModelObject[],
  inUse: ReadonlyMap<string, number>,
): boolean {
  const delta = new Map<string, number>();
  for (const [list, by] of [
    [removed, -1],
    [added, 1],
  ] as const) {
    for (const o of list) {
      if (o.kind === 'Namespace') return true;
      if (o.kind === 'Pod' || o.kind === 'NetworkPolicy')
        delta.set(o.namespace, (delta.get(o.namespace) ?? 0) + by);
    }
  }
  for (const [ns, d] of delta) {
    const was = inUse.get(ns) ?? 0;
    if ((was === 0) !== (was + d === 0)) return true;
  }
  return false;
}

/** Given namespaces and implicit ones (the same objects as before where they stay), by name. */
function nextNamespaces(
  before: ReadonlyMap<string, Namespace>,
  gone: ReadonlySet<ModelObject>,
  added: readonly ModelObject[],
  removed: readonly ModelObject[],
  inUse: ReadonlyMap<string, number>,
): Map<string, Namespace> {
  const used = new Map(inUse);
  for (const o of removed) count(used, o, -1);
  for (const o of added) count(used, o, 1);
  const all = new Map<string, Namespace>();
  for (const ns of before.values()) if (!ns.implicit && !gone.has(ns)) all.set(ns.name, ns);
  for (const o of added) if (o.kind === 'Namespace') all.set(o.name, o);
  for (const name of used.keys()) {
    if (all.has(name)) continue;
    const old = before.get(name);
    all.set(name, old?.implicit ? old : implicitNamespace(name));
  }
  return new Map([...all.entries()].sort(([a], [b]) => compareText(a, b)));
}
