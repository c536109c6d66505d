import { cidrContains, formatCidr } from '../net/cidr.js';
import { formatIp, ipEquals, ipKey } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import type { SessionAffinity, TrafficPolicy } from '../model/service-types.js';
import type { Protocol } from '../model/types.js';
import type {
  Backend,
  Frontend,
  IgnoredService,
  ServiceModel,
  ServicePortModel,
  TrafficPlan,
  TrafficStep,
} from './types.js';

/**
 * Where a packet sent to an address and port goes through one node's
 * Service proxy, read off that node's ServiceModel — the same data the
 * renderer turns into rules — in the order kube-proxy's nftables table
 * applies it: the load balancer source ranges (a firewall before anything
 * else), the frontend (ClusterIP, external IP, load balancer IP, node port),
 * the first step of the port's traffic plan whose source matches, and its
 * verdict. An address that no frontend matches is rejected when it is a
 * ClusterIP on another port, dropped when it lies in a service range
 * unallocated, and otherwise left to ordinary routing.
 */

/** The first packet of a connection, as it leaves its sender. */
export interface ServicePacket {
  readonly src: IpAddr;
  readonly dst: IpAddr;
  readonly protocol: Protocol;
  readonly port: number;
}

/** Who sent the packet, as the proxy of the entry node tells sources apart (TrafficStep.from). */
export type TraceSource =
  /** A pod of the cluster with its own network; `pod` is `ns/name` when known. */
  | { readonly kind: 'pod'; readonly pod?: string; readonly node?: string }
  /** An address of the entry node itself (the node, or one of its hostNetwork pods). */
  | { readonly kind: 'node'; readonly node: string }
  /** Anything else: another node, a client outside the cluster. `what` names it when known. */
  | { readonly kind: 'other'; readonly what?: string };

export interface TraceContext {
  readonly source: TraceSource;
  /** The service CIDRs: an address in them that is no ClusterIP is dropped. */
  readonly serviceCidrs: readonly Cidr[];
  /** ClusterIPs of Services the model ignores (by ipKey), to name them when a packet is sent to one. */
  readonly ignoredClusterIps?: ReadonlyMap<string, IgnoredService>;
}

/** One endpoint the packet may be sent to. */
export interface TracedEndpoint {
  readonly backend: Backend;
  /** The endpoint is the sender itself: a hairpin, always masqueraded. */
  readonly hairpin: boolean;
  /** Whether the source address is rewritten to the node's on the way to this endpoint. */
  readonly masquerade: boolean;
}

export type TraceVerdict =
  /** DNAT to one of `endpoints` (with ClientIP affinity, the same one for the client while it lasts). */
  | {
      readonly kind: 'forward';
      readonly set: 'cluster' | 'local';
      readonly endpoints: readonly TracedEndpoint[];
      /** The step masquerades (a hairpin endpoint is masqueraded in any case). */
      readonly masquerade: boolean;
      /** No endpoint of the set is ready: serving terminating ones are used (kube-proxy's fallback). */
      readonly terminatingFallback: boolean;
      readonly affinity: SessionAffinity;
    }
  /** Refused at once (TCP reset, ICMP unreachable). */
  | { readonly kind: 'reject'; readonly reason: string }
  /** Dropped silently. */
  | { readonly kind: 'drop'; readonly reason: string }
  /** The proxy does not touch the packet: it is routed as addressed. */
  | { readonly kind: 'not-a-service'; readonly reason: string };

/** The frontend a packet matched and what its Service port's plan made of it. */
export interface TraceMatch {
  readonly port: ServicePortModel;
  readonly frontend: Frontend;
  /** `internal`: the ClusterIP's plan; `external`: that of node ports, external and load balancer IPs. */
  readonly traffic: 'internal' | 'external';
  readonly policy: TrafficPolicy;
  /** Whether the load balancer source ranges admit the client (load balancer frontends only). */
  readonly sourceAllowed?: boolean;
  /** The plan step that decided, and its index; absent when the source ranges dropped the packet first. */
  readonly step?: { readonly index: number; readonly step: TrafficStep };
}

export interface ServiceTrace {
  readonly node: string;
  readonly packet: ServicePacket;
  readonly source: TraceSource;
  readonly match?: TraceMatch;
  readonly verdict: TraceVerdict;
}

/** Where `packet` goes through the Service proxy of `model.node`. Pure. */
export function traceService(
  model: ServiceModel,
  packet: ServicePacket,
  context: TraceContext,
): ServiceTrace {
  const base = { node: model.node, packet, source: context.source };
  const found = findFrontend(model, packet);
  if (!found) return { ...base, verdict: unmatched(model, packet, context) };
  const { port, frontend } = found;
  const traffic = frontend.kind === 'ClusterIP' ? 'internal' : 'external';
  const plan = traffic === 'internal' ? port.internal : port.external;
  if (!plan) throw new Error(`${port.id}: a ${frontend.kind} frontend without an external plan`);
  const head = { port, frontend, traffic, policy: plan.policy } as const;
  if (frontend.kind === 'LoadBalancer' && frontend.sources.kind === 'only') {
    const cidrs = frontend.sources.cidrs;
    if (!cidrs.some((c) => cidrContains(c, packet.src))) {
      const ranges = cidrs.map(formatCidr).join(', ');
      const reason = `${formatIp(packet.src)} is not in the loadBalancerSourceRanges of ${port.id} (${ranges})`;
      return {
        ...base,
        match: { ...head, sourceAllowed: false },
        verdict: { kind: 'drop', reason },
      };
    }
  }
  const sourceAllowed = frontend.kind === 'LoadBalancer' ? { sourceAllowed: true } : {};
  const index = stepFor(plan, context.source);
  const step = plan.steps[index] as TrafficStep;
  const match: TraceMatch = { ...head, ...sourceAllowed, step: { index, step } };
  return { ...base, match, verdict: verdictOf(port, step, packet) };
}

/** The frontend with the packet's address, port and protocol, in the model's order. */
function findFrontend(
  model: ServiceModel,
  packet: ServicePacket,
): { port: ServicePortModel; frontend: Frontend } | undefined {
  for (const port of model.ports) {
    if (port.protocol !== packet.protocol || port.family !== packet.dst.family) continue;
    for (const frontend of port.frontends)
      if (frontend.port === packet.port && ipEquals(frontend.ip, packet.dst))
        return { port, frontend };
  }
  return undefined;
}

/** The index of the first step whose source matches: `pod`, `node`, or `any` (always last). */
function stepFor(plan: TrafficPlan, source: TraceSource): number {
  const index = plan.steps.findIndex(
    (s) =>
      s.from === 'any' ||
      (s.from === 'pod' && source.kind === 'pod') ||
      (s.from === 'node' && source.kind === 'node'),
  );
  if (index < 0) throw new Error('a traffic plan without a step for any source');
  return index;
}

function verdictOf(port: ServicePortModel, step: TrafficStep, packet: ServicePacket): TraceVerdict {
  const v = step.verdict;
  if (v.kind !== 'endpoints') return v;
  const set = v.set === 'cluster' ? port.clusterEndpoints : port.localEndpoints;
  if (set.length === 0) return { kind: 'reject', reason: `${port.id} has no ${v.set} endpoints` };
  const endpoints = set.map((backend) => {
    const hairpin = ipEquals(backend.ip, packet.src);
    return { backend, hairpin, masquerade: step.masquerade || hairpin };
  });
  return {
    kind: 'forward',
    set: v.set,
    endpoints,
    masquerade: step.masquerade,
    terminatingFallback: set.every((b) => !b.ready),
    affinity: port.affinity,
  };
}

/**
 * No frontend matched: a ClusterIP on a port it does not serve is rejected;
 * an address of a service range that is no ClusterIP is dropped (also the
 * ClusterIP of a Service weft gives no rules); anything else is not the
 * proxy's.
 */
function unmatched(
  model: ServiceModel,
  packet: ServicePacket,
  context: TraceContext,
): TraceVerdict {
  const served = model.ports.filter((p) =>
    p.frontends.some((f) => f.kind === 'ClusterIP' && ipEquals(f.ip, packet.dst)),
  );
  const asked = `${packet.port}/${packet.protocol}`;
  const dst = formatIp(packet.dst);
  if (served.length > 0) {
    const ports = served.map((p) => `${p.port}/${p.protocol}`).join(', ');
    const service = [...new Set(served.map((p) => `${p.service.namespace}/${p.service.name}`))];
    return {
      kind: 'reject',
      reason: `${dst} is the ClusterIP of Service ${service.join(', ')}, which serves ${ports}, not ${asked}`,
    };
  }
  const ignored = context.ignoredClusterIps?.get(ipKey(packet.dst));
  const range = context.serviceCidrs.find((c) => cidrContains(c, packet.dst));
  if (range && ignored)
    return {
      kind: 'drop',
      reason: `${dst} is the ClusterIP of Service ${ignored.namespace}/${ignored.name}, which gets no rules (${ignoreText(ignored)}): an address of the service range ${formatCidr(range)} that weft does not serve`,
    };
  if (range)
    return {
      kind: 'drop',
      reason: `${dst} is in the service range ${formatCidr(range)} but is no Service's ClusterIP (unallocated)`,
    };
  const also = ignored
    ? `; it is the ClusterIP of Service ${ignored.namespace}/${ignored.name}, which gets no rules (${ignoreText(ignored)})`
    : '';
  return {
    kind: 'not-a-service',
    reason: `${dst}:${asked} is no Service frontend on ${model.node ? `node ${model.node}` : 'this node'}: the proxy leaves it to routing${also}`,
  };
}

/** Why a Service gets no rules, in words. */
export function ignoreText(s: IgnoredService): string {
  const r = s.reason;
  switch (r.kind) {
    case 'ExternalName':
      return 'type ExternalName: a DNS name, no address';
    case 'headless':
      return 'headless: clusterIP None';
    case 'no-cluster-ip':
      return 'no ClusterIP allocated';
    case 'headless-label':
      return 'labelled service.kubernetes.io/headless';
    case 'service-proxy-name':
      return `labelled service.kubernetes.io/service-proxy-name=${r.proxy}: another proxy serves it`;
  }
}
