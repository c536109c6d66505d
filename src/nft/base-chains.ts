import type { NftChain, NftRule } from './model.js';
import { clampComment } from './text.js';

/**
 * weft's base chains, as data: each hook, why it is there, and how it
 * dispatches a packet to the local pods' endpoint chains (maps `egress4/6`
 * by source, `ingress4/6` by destination).
 *
 * - forward: pod traffic crossing this node (another pod, another node, the
 *   world): the local source pod's egress, then the local destination pod's
 *   ingress.
 * - input / output: traffic between a local pod and this node itself (a
 *   hostNetwork pod, kubelet probes). ClusterNetworkPolicy rules decide it like
 *   any other peer; the endpoint chains let NetworkPolicy's own-node exemption
 *   through only in their NetworkPolicy stage.
 */

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

function rule(text: string, comment: string): NftRule {
  return { text, comment: clampComment(comment) };
}

/**
 * The connection's mark remembers the policy generation under which its last
 * original-direction packet was allowed; while the generation is current, its
 * packets skip the policy chains (one comparison per packet). Every sync
 * starts a new generation, so after any change each connection's next packet
 * is evaluated again — and dropped if the change denies it.
 */
export const GENERATION_MASK = 0xffff0000;

/** Replies and ICMP errors of allowed connections pass: enforcement is per connection. */
const CONNECTION = [
  rule('ct direction reply accept', 'replies of connections whose first packets were allowed'),
  rule('ct state related accept', 'ICMP errors of connections that were allowed'),
];
const EGRESS = [
  rule('ip saddr vmap @egress4', 'egress policy of the local source pod'),
  rule('ip6 saddr vmap @egress6', 'egress policy of the local source pod'),
];
const INGRESS = [
  rule('ip daddr vmap @ingress4', 'ingress policy of the local destination pod'),
  rule('ip6 daddr vmap @ingress6', 'ingress policy of the local destination pod'),
];
/** A pod finds its gateway by neighbor discovery: link-layer resolution, never policy. */
const NEIGHBOR_DISCOVERY = rule(
  'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept',
  'neighbor discovery between a pod and its gateway (this node): link layer, not policy',
);

export function forwardChain(generation: number): NftChain {
  const gen = hex(((generation & 0xffff) << 16) >>> 0);
  const keep = hex(~GENERATION_MASK >>> 0);
  return {
    name: 'forward',
    comment:
      'pod traffic crossing this node: egress of local sources, ingress of local destinations',
    base: { type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' },
    rules: [
      ...CONNECTION,
      rule(
        `ct mark & ${hex(GENERATION_MASK)} == ${gen} accept`,
        `connection allowed under the current policy (generation ${generation & 0xffff})`,
      ),
      ...EGRESS,
      ...INGRESS,
      rule(
        `ct mark set ct mark & ${keep} | ${gen}`,
        'both sides allow: remember it for this policy generation',
      ),
    ],
  };
}

/**
 * Local pods to this node, and this node to local pods. No generation mark:
 * every original-direction packet is evaluated, and the node's connections
 * to anything else keep their conntrack mark untouched.
 */
export function ownNodeChains(): NftChain[] {
  return [
    {
      name: 'input',
      comment: 'local pods to this node itself: egress of the local source pod',
      base: { type: 'filter', hook: 'input', priority: 'filter', policy: 'accept' },
      rules: [...CONNECTION, NEIGHBOR_DISCOVERY, ...EGRESS],
    },
    {
      name: 'output',
      comment: 'this node itself to local pods: ingress of the local destination pod',
      base: { type: 'filter', hook: 'output', priority: 'filter', policy: 'accept' },
      rules: [...CONNECTION, NEIGHBOR_DISCOVERY, ...INGRESS],
    },
  ];
}
