import { formatCidr } from '../core/net/cidr.js';
import { formatIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import type { Service } from '../core/model/service-types.js';
import type { Cluster, Protocol } from '../core/model/types.js';
import { endpointsByPort, portKey } from '../core/services/endpoints.js';
import { buildServiceModel } from '../core/services/model.js';
import { familyName } from '../core/services/ranges.js';
import { ignoreText } from '../core/services/trace.js';
import type { Backend, ServiceModel, TrafficPlan } from '../core/services/types.js';

/**
 * `weft service list` as data: the shape of its `-o json` (and of the
 * `services` of `weft lab status -o json`), documented in docs/services.md.
 * Built from the cluster's Services and EndpointSlices and, per node, from
 * the ServiceModel that node's proxy works from.
 */

export interface ServiceListJson {
  readonly services: readonly ServiceJson[];
  /** Services that get no rules, and why. */
  readonly ignored: readonly IgnoredJson[];
}

export interface ServiceJson {
  readonly namespace: string;
  readonly name: string;
  readonly type: Service['type'];
  readonly clusterIPs: readonly string[];
  readonly externalIPs: readonly string[];
  /** `status.loadBalancer.ingress[].ip`; with ipMode Proxy the load balancer delivers to node ports. */
  readonly loadBalancerIPs: readonly { readonly ip: string; readonly ipMode: 'VIP' | 'Proxy' }[];
  readonly loadBalancerSourceRanges: readonly string[];
  readonly sessionAffinity: 'None' | 'ClientIP';
  readonly affinityTimeoutSeconds?: number;
  readonly internalTrafficPolicy: 'Cluster' | 'Local';
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  readonly healthCheckNodePort?: number;
  readonly ports: readonly PortJson[];
  /** Per node: its node port addresses, the endpoints its proxy sends to, what is local. */
  readonly nodes: readonly NodeJson[];
}

export interface PortJson {
  /** The port's name; empty for the one unnamed port a Service may have. */
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  /** A number, or the container port name resolved per pod. */
  readonly targetPort: number | string;
  readonly nodePort?: number;
  /** Every endpoint of the port, of every family, with its conditions. */
  readonly endpoints: readonly EndpointJson[];
}

export interface EndpointJson {
  readonly ip: string;
  readonly port: number;
  /** `ns/name` of the pod behind the endpoint (its targetRef). */
  readonly pod?: string;
  /** The targetRef when it is not a Pod, as `Kind ns/name`. */
  readonly target?: string;
  readonly node?: string;
  readonly zone?: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

export interface NodeJson {
  readonly node: string;
  readonly ports: readonly NodePortJson[];
  /** For a LoadBalancer with externalTrafficPolicy Local: what its health check answers here. */
  readonly healthCheck?: {
    readonly nodePort: number;
    readonly localEndpoints: number;
    readonly status: 200 | 503;
  };
}

export interface NodePortJson {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly family: 'IPv4' | 'IPv6';
  /** The node port on each of the node's addresses of the family, `ip:port`. */
  readonly nodePorts: readonly string[];
  /** `ip:port` of the endpoints Cluster traffic goes to from this node (topology applied). */
  readonly clusterEndpoints: readonly string[];
  /** `ip:port` of this node's endpoints that Local traffic goes to. */
  readonly localEndpoints: readonly string[];
  readonly internal: PlanJson;
  readonly external?: PlanJson;
}

export interface PlanJson {
  readonly policy: 'Cluster' | 'Local';
  readonly steps: readonly {
    readonly from: 'pod' | 'node' | 'any';
    readonly masquerade: boolean;
    /** `cluster endpoints`, `local endpoints`, `reject` or `drop`. */
    readonly verdict: string;
    readonly reason?: string;
  }[];
}

export interface IgnoredJson {
  readonly namespace: string;
  readonly name: string;
  readonly reason: string;
  readonly detail: string;
}

/**
 * The list for `nodes` (every node of the cluster when absent), for the
 * Services named in `only` (`ns/name`; every Service when absent).
 */
export function serviceList(
  cluster: Cluster,
  o: { readonly nodes?: readonly string[]; readonly only?: ReadonlySet<string> } = {},
): ServiceListJson {
  const nodeNames = o.nodes ?? cluster.nodes.map((n) => n.name);
  const models = nodeNames.map((n) => buildServiceModel(cluster, n));
  const wanted = (s: { namespace: string; name: string }) =>
    !o.only || o.only.has(`${s.namespace}/${s.name}`);
  const endpoints = endpointsByPort(cluster.endpointSlices, '');
  const reference = models[0] ?? buildServiceModel(cluster, '');
  const ignored = reference.ignored.filter(wanted);
  const skip = new Set(ignored.map((s) => `${s.namespace}/${s.name}`));
  const services = cluster.services
    .filter((s) => wanted(s) && !skip.has(`${s.namespace}/${s.name}`))
    .map((s) => serviceJson(s, endpoints, models));
  return {
    services,
    ignored: ignored.map((s) => ({
      namespace: s.namespace,
      name: s.name,
      reason: s.reason.kind,
      detail: ignoreText(s),
    })),
  };
}

function serviceJson(
  s: Service,
  endpoints: ReadonlyMap<string, readonly Backend[]>,
  models: readonly ServiceModel[],
): ServiceJson {
  const clusterIps = s.clusterIps.kind === 'set' ? s.clusterIps.ips : [];
  const ports: PortJson[] = s.ports.map((p) => ({
    name: p.name,
    port: p.port,
    protocol: p.protocol,
    targetPort: p.targetPort.kind === 'number' ? p.targetPort.port : p.targetPort.name,
    ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
    endpoints: clusterIps.flatMap((ip) =>
      (endpoints.get(portKey(s.namespace, s.name, p.name, p.protocol, ip.family)) ?? []).map(
        endpointJson,
      ),
    ),
  }));
  const affinity = s.sessionAffinity;
  return {
    namespace: s.namespace,
    name: s.name,
    type: s.type,
    clusterIPs: clusterIps.map(formatIp),
    externalIPs: s.externalIps.map(formatIp),
    loadBalancerIPs: s.loadBalancerIngress.flatMap((i) =>
      i.ip ? [{ ip: formatIp(i.ip), ipMode: i.ipMode ?? 'VIP' }] : [],
    ),
    loadBalancerSourceRanges: s.loadBalancerSourceRanges.map(formatCidr),
    sessionAffinity: affinity.kind,
    ...(affinity.kind === 'ClientIP' ? { affinityTimeoutSeconds: affinity.timeoutSeconds } : {}),
    internalTrafficPolicy: s.internalTrafficPolicy,
    externalTrafficPolicy: s.externalTrafficPolicy,
    ...(s.healthCheckNodePort !== undefined ? { healthCheckNodePort: s.healthCheckNodePort } : {}),
    ports,
    nodes: models.map((m) => nodeJson(s, m)),
  };
}

export function endpointJson(b: Backend): EndpointJson {
  const pod = b.target?.startsWith('Pod ') ? b.target.slice(4) : undefined;
  return {
    ip: formatIp(b.ip),
    port: b.port,
    ...(pod !== undefined ? { pod } : b.target !== undefined ? { target: b.target } : {}),
    ...(b.nodeName !== undefined ? { node: b.nodeName } : {}),
    ...(b.zone !== undefined ? { zone: b.zone } : {}),
    ready: b.ready,
    serving: b.serving,
    terminating: b.terminating,
  };
}

/** `ip:port`, `[ip]:port` for IPv6. */
export function hostPort(ip: IpAddr, port: number): string {
  return `${ip.family === 6 ? `[${formatIp(ip)}]` : formatIp(ip)}:${port}`;
}

const address = (b: Backend) => hostPort(b.ip, b.port);

function nodeJson(s: Service, m: ServiceModel): NodeJson {
  const own = m.ports.filter(
    (p) => p.service.namespace === s.namespace && p.service.name === s.name,
  );
  const check = m.healthChecks.find(
    (h) => h.service.namespace === s.namespace && h.service.name === s.name,
  );
  return {
    node: m.node,
    ports: own.map((p) => ({
      name: p.portName,
      port: p.port,
      protocol: p.protocol,
      family: familyName(p.family),
      nodePorts: p.frontends.flatMap((f) =>
        f.kind === 'NodePort' ? [hostPort(f.ip, f.port)] : [],
      ),
      clusterEndpoints: p.clusterEndpoints.map(address),
      localEndpoints: p.localEndpoints.map(address),
      internal: planJson(p.internal),
      ...(p.external ? { external: planJson(p.external) } : {}),
    })),
    ...(check
      ? {
          healthCheck: {
            nodePort: check.nodePort,
            localEndpoints: check.localEndpoints,
            status: check.localEndpoints > 0 ? 200 : 503,
          },
        }
      : {}),
  };
}

function planJson(plan: TrafficPlan): PlanJson {
  return {
    policy: plan.policy,
    steps: plan.steps.map((step) => {
      const v = step.verdict;
      return {
        from: step.from,
        masquerade: step.masquerade,
        verdict: v.kind === 'endpoints' ? `${v.set} endpoints` : v.kind,
        ...(v.kind === 'endpoints' ? {} : { reason: v.reason }),
      };
    }),
  };
}
