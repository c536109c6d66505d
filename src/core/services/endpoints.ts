import { compareIp, ipKey } from '../net/ip.js';
import type { IpAddr, IpFamily } from '../net/types.js';
import { SERVICE_NAME_LABEL, type Endpoint, type EndpointSlice } from '../model/service-types.js';
import type { Protocol } from '../model/types.js';
import { HEADLESS_LABEL } from './derive.js';
import type { Backend } from './types.js';

/**
 * The endpoints of every Service port as kube-proxy reads EndpointSlices
 * (pkg/proxy/endpointslicecache.go), and their split into the endpoints of
 * Cluster and Local traffic (pkg/proxy/topology.go).
 */

export const PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';

/** The key of one Service port in one family: `shop/web:http/TCP/4`. */
export function portKey(
  namespace: string,
  service: string,
  portName: string,
  protocol: Protocol,
  family: IpFamily,
): string {
  return `${namespace}/${service}:${portName}/${protocol}/${family}`;
}

/**
 * Every endpoint of every Service port, by portKey. A slice counts when it
 * names its Service (kubernetes.io/service-name), is of type IPv4 or IPv6,
 * and carries neither the headless nor the service-proxy-name label (kube-
 * proxy does not watch those). A slice port without a number is not used;
 * an endpoint is its first address. The same address and port in two
 * slices (of the same Service) is one endpoint: the later slice by name
 * wins, unless the earlier is local and the later is not.
 */
export function endpointsByPort(
  slices: readonly EndpointSlice[],
  nodeName: string,
): Map<string, Backend[]> {
  const byPort = new Map<string, Map<string, Backend>>();
  for (const slice of slices) {
    const service = slice.labels[SERVICE_NAME_LABEL];
    if (slice.addressType === 'FQDN' || !service) continue;
    if (HEADLESS_LABEL in slice.labels || PROXY_NAME_LABEL in slice.labels) continue;
    const family: IpFamily = slice.addressType === 'IPv4' ? 4 : 6;
    for (const p of slice.ports) {
      if (p.port === undefined) continue;
      const key = portKey(slice.namespace, service, p.name, p.protocol, family);
      const set = byPort.get(key) ?? new Map<string, Backend>();
      byPort.set(key, set);
      for (const e of slice.endpoints) {
        const backend = backendOf(slice, e, p.port, nodeName);
        const id = `${ipKey(backend.ip)}:${backend.port}`;
        if (!set.has(id) || backend.local) set.set(id, backend);
      }
    }
  }
  const out = new Map<string, Backend[]>();
  for (const [key, set] of byPort) out.set(key, [...set.values()].sort(compareBackends));
  return out;
}

function backendOf(
  slice: EndpointSlice,
  e: Endpoint<IpAddr>,
  port: number,
  nodeName: string,
): Backend {
  const c = e.conditions;
  const ready = c.ready ?? true;
  const t = e.target;
  const target =
    t?.name !== undefined
      ? `${t.kind ?? 'object'} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`
      : undefined;
  return {
    ip: e.addresses[0] as IpAddr,
    port,
    slice: `${slice.namespace}/${slice.name}`,
    ...(target !== undefined ? { target } : {}),
    ...(e.nodeName !== undefined ? { nodeName: e.nodeName } : {}),
    ...(e.zone !== undefined ? { zone: e.zone } : {}),
    local: e.nodeName === nodeName,
    ready,
    serving: c.serving ?? true,
    terminating: c.terminating ?? false,
    zoneHints: e.zoneHints,
    nodeHints: e.nodeHints,
  };
}

export function compareBackends(a: Backend, b: Backend): number {
  return compareIp(a.ip, b.ip) || a.port - b.port;
}

export interface Categorised {
  /** Usable for Cluster-policy traffic; empty when the port never uses Cluster endpoints. */
  readonly cluster: readonly Backend[];
  /** Usable for Local-policy traffic; empty when the port never uses Local endpoints. */
  readonly local: readonly Backend[];
  /** Some endpoint is usable somewhere in the cluster. */
  readonly hasAny: boolean;
}

/**
 * kube-proxy's CategorizeEndpoints: Cluster traffic uses the ready
 * endpoints its topology allows, else (none ready anywhere) the serving
 * terminating ones; Local traffic uses this node's ready endpoints, else its
 * serving terminating ones. Topology, all or nothing: when every ready
 * endpoint has a node hint and one is for this node, only those hinted for
 * this node; else when every ready endpoint has a zone hint and one is for
 * this node's zone, only those hinted for the zone; else all.
 */
export function categorise(
  endpoints: readonly Backend[],
  uses: { readonly cluster: boolean; readonly local: boolean },
  node: { readonly name: string; readonly zone?: string },
): Categorised {
  let cluster: readonly Backend[] = [];
  let hasAny = false;
  if (uses.cluster) {
    const mode = topologyMode(endpoints, node);
    cluster = endpoints.filter((e) => e.ready && availableFor(e, mode, node));
    if (cluster.length === 0) cluster = endpoints.filter((e) => e.serving && e.terminating);
    hasAny = cluster.length > 0;
  }
  if (!uses.local) return { cluster, local: [], hasAny };
  if (endpoints.some((e) => e.ready || (e.serving && e.terminating))) hasAny = true;
  const readyHere = endpoints.filter((e) => e.local && e.ready);
  const local =
    readyHere.length > 0
      ? readyHere
      : endpoints.filter((e) => e.local && e.serving && e.terminating);
  return { cluster, local, hasAny };
}

type TopologyMode = 'none' | 'node' | 'zone';

function topologyMode(
  endpoints: readonly Backend[],
  node: { readonly name: string; readonly zone?: string },
): TopologyMode {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length === 0) return 'none';
  if (
    ready.every((e) => e.nodeHints.length > 0) &&
    ready.some((e) => e.nodeHints.includes(node.name))
  )
    return 'node';
  const zone = node.zone ?? '';
  if (ready.every((e) => e.zoneHints.length > 0) && ready.some((e) => e.zoneHints.includes(zone)))
    return 'zone';
  return 'none';
}

function availableFor(
  e: Backend,
  mode: TopologyMode,
  node: { readonly name: string; readonly zone?: string },
): boolean {
  switch (mode) {
    case 'none':
      return true;
    case 'node':
      return e.nodeHints.includes(node.name);
    case 'zone':
      return e.zoneHints.includes(node.zone ?? '');
  }
}
