import { compareText } from '../model/cluster.js';
import { cidrContains, compareCidr, hostCidr } from '../net/cidr.js';
import { compareIp, ipKey } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import type { LoadBalancing, Service, ServicePort } from '../model/service-types.js';
import type { Cluster, Node } from '../model/types.js';
import { HEADLESS_LABEL, ZONE_LABEL } from './derive.js';
import { categorise, endpointsByPort, portKey, PROXY_NAME_LABEL } from './endpoints.js';
import type {
  Backend,
  Frontend,
  FrontendKind,
  HealthCheck,
  IgnoreReason,
  IgnoredService,
  ServiceModel,
  ServicePortModel,
  SourceRanges,
  TrafficPlan,
  TrafficStep,
  Verdict,
} from './types.js';

export interface ServiceModelOptions {
  /** For Services without weft's lb-algorithm annotation (default random). */
  readonly loadBalancing?: LoadBalancing;
}

/**
 * What `nodeName`'s Service proxy must do, from the cluster's Services,
 * EndpointSlices and Nodes, as kube-proxy decides it. The EndpointSlices
 * are used as they are: from the API server, the controller's; offline,
 * derive them first (deriveEndpointSlices), after allocating the Services
 * (allocateServices). Pure and deterministic: the same cluster gives the
 * same model, sorted, whatever the order of its objects.
 */

export function buildServiceModel(
  cluster: Cluster,
  nodeName: string,
  options: ServiceModelOptions = {},
): ServiceModel {
  const node = cluster.nodes.find((n) => n.name === nodeName);
  const zone = node?.labels[ZONE_LABEL] || undefined;
  const here = { name: nodeName, ...(zone !== undefined ? { zone } : {}) };
  const endpoints = endpointsByPort(cluster.endpointSlices, nodeName);
  const ports: ServicePortModel[] = [];
  const healthChecks: HealthCheck[] = [];
  const ignored: IgnoredService[] = [];
  for (const s of cluster.services) {
    const reason = ignoreReason(s);
    if (reason) {
      ignored.push({ namespace: s.namespace, name: s.name, reason });
      continue;
    }
    const own: ServicePortModel[] = [];
    for (const clusterIp of s.clusterIps.kind === 'set' ? s.clusterIps.ips : []) {
      for (const p of s.ports) {
        const key = portKey(s.namespace, s.name, p.name, p.protocol, clusterIp.family);
        const balance = s.loadBalancing ?? options.loadBalancing ?? 'random';
        own.push(portModel(s, p, clusterIp, node, endpoints.get(key) ?? [], here, balance));
      }
    }
    ports.push(...own);
    if (s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local' && s.healthCheckNodePort)
      healthChecks.push(healthCheck(s, s.healthCheckNodePort, own));
  }
  ports.sort((a, b) => compareText(a.id, b.id) || a.family - b.family);
  return { node: nodeName, ports, healthChecks, ignored };
}

/**
 * Why a Service gets no rules, or undefined: kube-proxy does not watch
 * Services labelled service.kubernetes.io/service-proxy-name (another proxy
 * serves them) or service.kubernetes.io/headless, and skips those without a
 * ClusterIP (headless) and ExternalName ones.
 */
function ignoreReason(s: Service): IgnoreReason | undefined {
  const proxy = s.labels[PROXY_NAME_LABEL];
  if (proxy !== undefined) return { kind: 'service-proxy-name', proxy };
  if (HEADLESS_LABEL in s.labels) return { kind: 'headless-label' };
  if (s.type === 'ExternalName') return { kind: 'ExternalName' };
  if (s.clusterIps.kind === 'none') return { kind: 'headless' };
  if (s.clusterIps.kind === 'unset') return { kind: 'no-cluster-ip' };
  return undefined;
}

function portModel(
  s: Service,
  p: ServicePort,
  clusterIp: IpAddr,
  node: Node | undefined,
  endpoints: readonly Backend[],
  here: { readonly name: string; readonly zone?: string },
  loadBalancing: LoadBalancing,
): ServicePortModel {
  const family = clusterIp.family;
  const id = `${s.namespace}/${s.name}:${p.name}/${p.protocol}`;
  const frontends = frontendsOf(s, p, clusterIp, node, id);
  // kube-proxy's ExternallyAccessible: a node port (even where the node has
  // no address to put it on), an external IP or a VIP load balancer IP.
  const external = p.nodePort !== undefined || frontends.some((f) => f.kind !== 'ClusterIP');
  const internalLocal = s.internalTrafficPolicy === 'Local';
  const externalLocal = s.externalTrafficPolicy === 'Local';
  const uses = {
    cluster: !internalLocal || external,
    local: internalLocal || (externalLocal && external),
  };
  const { cluster, local, hasAny } = categorise(endpoints, uses, here);
  return {
    id,
    service: { namespace: s.namespace, name: s.name },
    portName: p.name,
    protocol: p.protocol,
    family,
    port: p.port,
    frontends,
    affinity: s.sessionAffinity,
    loadBalancing,
    clusterEndpoints: cluster,
    localEndpoints: local,
    hasEndpoints: hasAny,
    internal: internalPlan(s, id, hasAny, local.length > 0),
    ...(external ? { external: externalPlan(s, id, hasAny, local.length > 0) } : {}),
  };
}

const KIND_ORDER: Readonly<Record<FrontendKind, number>> = {
  ClusterIP: 0,
  ExternalIP: 1,
  LoadBalancer: 2,
  NodePort: 3,
};

/**
 * The ClusterIP; the externalIPs and VIP-mode load balancer IPs of its
 * family (a Proxy-mode load balancer delivers to node ports or pods, not to
 * its IP); the node port on each of this node's addresses of the family.
 */
function frontendsOf(
  s: Service,
  p: ServicePort,
  clusterIp: IpAddr,
  node: Node | undefined,
  service: string,
): Frontend[] {
  const family = clusterIp.family;
  const out: Frontend[] = [{ kind: 'ClusterIP', ip: clusterIp, port: p.port, service }];
  for (const ip of s.externalIps) {
    if (ip.family === family) out.push({ kind: 'ExternalIP', ip, port: p.port, service });
  }
  const vips = s.loadBalancerIngress.flatMap((i) =>
    i.ip && i.ipMode !== 'Proxy' && i.ip.family === family ? [i.ip] : [],
  );
  const nodeAddresses = (node?.addresses ?? []).filter((a) => a.family === family);
  for (const ip of vips) {
    const sources = sourceRanges(s, family, vips, nodeAddresses);
    out.push({ kind: 'LoadBalancer', ip, port: p.port, sources, service });
  }
  if (p.nodePort !== undefined) {
    for (const ip of nodeAddresses) out.push({ kind: 'NodePort', ip, port: p.nodePort, service });
  }
  return dedupe(out).sort(
    (a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || compareIp(a.ip, b.ip) || a.port - b.port,
  );
}

function dedupe(list: Frontend[]): Frontend[] {
  const seen = new Set<string>();
  return list.filter((f) => {
    const key = `${f.kind} ${ipKey(f.ip)} ${f.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * loadBalancerSourceRanges of the family (a family without any is open, as
 * in kube-proxy), plus the load balancer IPs when a range holds one of this
 * node's addresses.
 */
function sourceRanges(
  s: Service,
  family: number,
  vips: readonly IpAddr[],
  nodeAddresses: readonly IpAddr[],
): SourceRanges {
  const ranges = s.loadBalancerSourceRanges.filter((c) => c.family === family);
  if (ranges.length === 0) return { kind: 'any' };
  const fromNode = ranges.some((c) => nodeAddresses.some((a) => cidrContains(c, a)));
  const cidrs: Cidr[] = [...ranges, ...(fromNode ? vips.map(hostCidr) : [])];
  const unique = new Map(cidrs.map((c) => [`${c.family} ${c.base} ${c.prefix}`, c]));
  return { kind: 'only', cidrs: [...unique.values()].sort(compareCidr) };
}

function endpointsVerdict(set: 'cluster' | 'local'): Verdict {
  return { kind: 'endpoints', set };
}

/** No usable endpoint anywhere: refused at once, whatever the source (kube-proxy's reject). */
function noEndpoints(id: string): TrafficStep {
  return {
    from: 'any',
    masquerade: false,
    verdict: { kind: 'reject', reason: `${id} has no endpoints` },
  };
}

/**
 * ClusterIP traffic: rejected when the port has no endpoint anywhere; with
 * internalTrafficPolicy Local and none on this node, dropped; else to the
 * endpoints of its policy, masqueraded unless it comes from a pod.
 */
function internalPlan(s: Service, id: string, hasAny: boolean, hasLocal: boolean): TrafficPlan {
  const policy = s.internalTrafficPolicy;
  let steps: TrafficStep[];
  if (!hasAny) {
    steps = [noEndpoints(id)];
  } else if (policy === 'Local' && !hasLocal) {
    const verdict: Verdict = { kind: 'drop', reason: `${id} has no local endpoints` };
    steps = [{ from: 'any', masquerade: false, verdict }];
  } else {
    const verdict = endpointsVerdict(policy === 'Local' ? 'local' : 'cluster');
    steps = [
      { from: 'pod', masquerade: false, verdict },
      { from: 'any', masquerade: true, verdict },
    ];
  }
  return { policy, steps };
}

/**
 * Node port, external IP and load balancer traffic: rejected when the port
 * has no endpoint anywhere. With externalTrafficPolicy Cluster, to any
 * endpoint, masqueraded. With Local: from a pod, to any endpoint as if it
 * went out and came back (not masqueraded); from this node, to any
 * endpoint, masqueraded; from elsewhere, to this node's endpoints with the
 * client's address kept, dropped when there is none here.
 */
function externalPlan(s: Service, id: string, hasAny: boolean, hasLocal: boolean): TrafficPlan {
  const policy = s.externalTrafficPolicy;
  const cluster = endpointsVerdict('cluster');
  let steps: TrafficStep[];
  if (!hasAny) {
    steps = [noEndpoints(id)];
  } else if (policy === 'Cluster') {
    steps = [{ from: 'any', masquerade: true, verdict: cluster }];
  } else {
    const elsewhere: Verdict = hasLocal
      ? endpointsVerdict('local')
      : { kind: 'drop', reason: `${id} has no local endpoints` };
    steps = [
      { from: 'pod', masquerade: false, verdict: cluster },
      { from: 'node', masquerade: true, verdict: cluster },
      { from: 'any', masquerade: false, verdict: elsewhere },
    ];
  }
  return { policy, steps };
}

/** The health check of a Local LoadBalancer: its ready endpoints on this node, counted by address. */
function healthCheck(
  s: Service,
  nodePort: number,
  ports: readonly ServicePortModel[],
): HealthCheck {
  const local = new Set<string>();
  for (const p of ports) for (const e of p.localEndpoints) if (e.ready) local.add(ipKey(e.ip));
  return {
    service: { namespace: s.namespace, name: s.name },
    nodePort,
    localEndpoints: local.size,
  };
}
