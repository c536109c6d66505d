import { ErrorCodes, type Issue } from '../errors.js';
import { formatIp, ipKey } from '../net/ip.js';
import type { EndpointSlice, Service } from './service-types.js';
import {
  describeObject,
  podKey,
  type Cluster,
  type ClusterNetworkPolicy,
  type ModelObject,
  type Namespace,
  type NetworkPolicy,
  type Node,
  type Pod,
  type Tier,
} from './types.js';

const NAME_LABEL = 'kubernetes.io/metadata.name';
const TIER_ORDER: Readonly<Record<Tier, number>> = { Admin: 0, Baseline: 1 };

/** `Kind/namespace/name`, or `Kind/name` for a cluster-scoped object: what a duplicate shares. */
export function objectKey(o: ModelObject): string {
  return 'namespace' in o ? `${o.kind}/${o.namespace}/${o.name}` : `${o.kind}/${o.name}`;
}

/** The order of namespaced lists in a Cluster: namespace, then name. */
export function byNamespaceName(
  a: { namespace: string; name: string },
  b: { namespace: string; name: string },
): number {
  return compareText(a.namespace, b.namespace) || compareText(a.name, b.name);
}

/** Plain code-unit order: deterministic whatever the locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The Namespace weft assumes for a namespace that pods or policies use but that was not given. */
export function implicitNamespace(name: string): Namespace {
  return { kind: 'Namespace', name, labels: { [NAME_LABEL]: name }, implicit: true };
}

/**
 * Assembles parsed objects into a Cluster: duplicates (same kind, namespace
 * and name) are errors naming both origins; namespaces that pods or policies
 * live in but that were not given are added as implicit Namespaces; every
 * list is sorted, so the same objects in any order give the same cluster.
 */
export function buildCluster(objects: readonly ModelObject[]): {
  cluster: Cluster;
  issues: Issue[];
} {
  const issues: Issue[] = [];
  const seen = new Map<string, ModelObject>();
  const namespaces = new Map<string, Namespace>();
  const pods: Pod[] = [];
  const nodes: Node[] = [];
  const networkPolicies: NetworkPolicy[] = [];
  const clusterNetworkPolicies: ClusterNetworkPolicy[] = [];
  const services: Service[] = [];
  const endpointSlices: EndpointSlice[] = [];
  for (const o of objects) {
    const key = objectKey(o);
    const first = seen.get(key);
    if (first) {
      issues.push({
        code: ErrorCodes.DUPLICATE_OBJECT,
        object: describeObject(o),
        field: 'metadata.name',
        message: `duplicates ${describeObject(first)}`,
        fix: 'remove one of the two, or rename it',
      });
      continue;
    }
    seen.set(key, o);
    switch (o.kind) {
      case 'Namespace':
        namespaces.set(o.name, o);
        break;
      case 'Pod':
        pods.push(o);
        break;
      case 'Node':
        nodes.push(o);
        break;
      case 'NetworkPolicy':
        networkPolicies.push(o);
        break;
      case 'ClusterNetworkPolicy':
        clusterNetworkPolicies.push(o);
        break;
      case 'Service':
        services.push(o);
        break;
      case 'EndpointSlice':
        endpointSlices.push(o);
        break;
    }
  }
  for (const o of [...pods, ...networkPolicies]) {
    if (!namespaces.has(o.namespace)) namespaces.set(o.namespace, implicitNamespace(o.namespace));
  }
  pods.sort(byNamespaceName);
  networkPolicies.sort(byNamespaceName);
  services.sort(byNamespaceName);
  endpointSlices.sort(byNamespaceName);
  nodes.sort((a, b) => compareText(a.name, b.name));
  clusterNetworkPolicies.sort(
    (a, b) =>
      TIER_ORDER[a.tier] - TIER_ORDER[b.tier] ||
      a.priority - b.priority ||
      compareText(a.name, b.name),
  );
  const sortedNamespaces = new Map([...namespaces.entries()].sort(([a], [b]) => compareText(a, b)));
  return {
    cluster: {
      namespaces: sortedNamespaces,
      pods,
      nodes,
      networkPolicies,
      clusterNetworkPolicies,
      services,
      endpointSlices,
    },
    issues,
  };
}

/**
 * Two pods with the same IP address are an error. hostNetwork pods are left
 * out: they share their node's address by design.
 */
export function validatePodAddresses(cluster: Cluster): Issue[] {
  const issues: Issue[] = [];
  const owners = new Map<string, Pod>();
  for (const pod of cluster.pods) {
    if (pod.hostNetwork) continue;
    for (const ip of pod.ips) {
      const key = ipKey(ip);
      const other = owners.get(key);
      if (!other) {
        owners.set(key, pod);
        continue;
      }
      if (podKey(other) === podKey(pod)) continue;
      issues.push({
        code: ErrorCodes.ADDRESS,
        object: describeObject(pod),
        field: 'status.podIPs',
        message: `IP ${formatIp(ip)} is also the address of ${describeObject(other)}`,
        fix: 'give every pod its own IP address, or drop status.podIP/podIPs to have one assigned',
      });
    }
  }
  return issues;
}
