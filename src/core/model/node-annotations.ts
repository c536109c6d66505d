/**
 * Every Node annotation weft writes or reads, in one place: the agent
 * publishes them on its own Node (sources/kubernetes/node-annotations.ts),
 * peers and operators read them, and the chart's admission policy admits
 * changes to this prefix alone.
 */

import { isLoopback } from '../listen/access.js';
import { formatIp, parseIp } from '../net/ip.js';
import type { IpAddr } from '../net/types.js';

export const NodeAnnotation = {
  /** The agent's routing mode: vxlan or host-gw. */
  routing: 'weft.dev/routing',
  /** The node's VXLAN device MAC (vxlan mode). */
  vtepMac: 'weft.dev/vtep-mac',
  /** The VXLAN device's addresses, one per pod CIDR (vxlan mode). */
  vtepAddresses: 'weft.dev/vtep-addresses',
  /** The node address the agent routes pod traffic over. */
  underlayAddress: 'weft.dev/underlay-address',
  /** The pod CIDRs the agent allocates from. */
  podCidrs: 'weft.dev/pod-cidrs',
  /** weft's version on the node. */
  agentVersion: 'weft.dev/agent-version',
  /** Where the agent's observe listener answers; the UIs follow it. */
  observeUrl: 'weft.dev/observe-url',
} as const;

/** The keys weft writes; a patch sets each, or removes it when not wanted. */
export const NODE_ANNOTATION_KEYS = Object.values(NodeAnnotation);
export type NodeAnnotationKey = (typeof NodeAnnotation)[keyof typeof NodeAnnotation];

/** The annotations weft reads back from Nodes (the others are for operators); a Node carries these. */
export const READ_NODE_ANNOTATIONS: readonly NodeAnnotationKey[] = [NodeAnnotation.observeUrl];

/**
 * The URL peers reach this agent's --observe listener at: its address, or the
 * node's underlay address when it listens on every address. Undefined when
 * nothing outside the node can reach it (loopback), or it is not serving.
 */
export function publishedObserveUrl(
  observe: { readonly host: string; readonly port: number } | undefined,
  underlay: IpAddr | undefined,
): string | undefined {
  if (!observe || observe.host === 'localhost') return undefined;
  const host = parseIp(observe.host);
  // A name: its peers resolve it as this node does.
  if (!host) return `http://${observe.host}:${observe.port}`;
  const wildcard = host.value === 0n;
  if (!wildcard && isLoopback(host)) return undefined;
  const at = wildcard ? underlay : host;
  if (!at) return undefined;
  const text = formatIp(at);
  return `http://${at.family === 6 ? `[${text}]` : text}:${observe.port}`;
}
