import { cidrContains } from '../net/cidr.js';
import { ipEquals, ipKey } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import { podKey, type Cluster } from '../model/types.js';
import type { ServicePacket, TraceContext, TraceSource } from './trace.js';
import type { IgnoredService, ServiceModel } from './types.js';

/**
 * What a Service trace needs to know besides the model, read from the
 * cluster: who the sender is, as the proxy of the entry node tells it
 * (TrafficStep.from), which node's proxy the packet meets first, and the
 * ClusterIPs of the Services the model ignores.
 */

/**
 * A pod with its own network (by address) is `pod`; an address of `node`
 * (the node, or a hostNetwork pod on it) is `node`; an address in a node's
 * pod CIDRs that no pod has is still `pod` (the proxy tells pods apart by
 * range); anything else is `other`, named when it is another node's.
 */
export function traceSource(cluster: Cluster, node: string, ip: IpAddr): TraceSource {
  const own = cluster.nodes.find((n) => n.name === node);
  if (own?.addresses.some((a) => ipEquals(a, ip))) return { kind: 'node', node };
  const pod = cluster.pods.find((p) => !p.hostNetwork && p.ips.some((a) => ipEquals(a, ip)));
  if (pod)
    return {
      kind: 'pod',
      pod: podKey(pod),
      ...(pod.nodeName !== undefined ? { node: pod.nodeName } : {}),
    };
  const inRange = cluster.nodes.find((n) => n.podCidrs.some((c) => cidrContains(c, ip)));
  if (inRange) return { kind: 'pod', node: inRange.name };
  const other = cluster.nodes.find((n) => n.addresses.some((a) => ipEquals(a, ip)));
  return other ? { kind: 'other', what: `node ${other.name}` } : { kind: 'other' };
}

/**
 * The node whose proxy meets the packet first: the node of the sending pod,
 * the node that sends it, or the node it is addressed to (a node port);
 * undefined when the cluster does not tell (an outside client sending to an
 * external or load balancer IP arrives wherever the network routes it).
 */
export function entryNode(
  cluster: Cluster,
  packet: ServicePacket,
): { readonly node: string; readonly why: string } | undefined {
  const pod = cluster.pods.find((p) => p.ips.some((a) => ipEquals(a, packet.src)));
  if (pod?.nodeName !== undefined && !pod.hostNetwork)
    return { node: pod.nodeName, why: `the node of ${podKey(pod)}` };
  const sender = cluster.nodes.find((n) => n.addresses.some((a) => ipEquals(a, packet.src)));
  if (sender) return { node: sender.name, why: 'the sending node' };
  const addressed = cluster.nodes.find((n) => n.addresses.some((a) => ipEquals(a, packet.dst)));
  if (addressed) return { node: addressed.name, why: 'the node addressed' };
  return undefined;
}

/** The ClusterIPs of the Services `model` ignores, by ipKey. */
export function ignoredClusterIps(
  cluster: Cluster,
  model: ServiceModel,
): Map<string, IgnoredService> {
  const out = new Map<string, IgnoredService>();
  for (const ignored of model.ignored) {
    const s = cluster.services.find(
      (x) => x.namespace === ignored.namespace && x.name === ignored.name,
    );
    if (s?.clusterIps.kind !== 'set') continue;
    for (const ip of s.clusterIps.ips) out.set(ipKey(ip), ignored);
  }
  return out;
}

/** The context of a trace on `model.node` of a packet from `src`. */
export function traceContext(
  cluster: Cluster,
  model: ServiceModel,
  src: IpAddr,
  serviceCidrs: readonly Cidr[],
): TraceContext {
  return {
    source: traceSource(cluster, model.node, src),
    serviceCidrs,
    ignoredClusterIps: ignoredClusterIps(cluster, model),
  };
}
