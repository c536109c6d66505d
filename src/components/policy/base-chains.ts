import type { NftBaseChainSpec, NftChain, NftExpr, NftRule, NftSelector } from '../../nft/model.js';
import { accept, cmp, rule } from '../../nft/build.js';
import { POLICY_TABLE } from './table.js';

/**
 * weft's base chains' rules: how each dispatches a packet to the local pods'
 * endpoint chains (maps `egress4/6` by source, `ingress4/6` by destination).
 *
 * - forward: pod traffic crossing this node (another pod, another node, the
 *   world): the local source pod's egress, then the local destination pod's
 *   ingress.
 * - input / output: traffic between a local pod and this node itself (a
 *   hostNetwork pod, kubelet probes). ClusterNetworkPolicy rules decide it like
 *   any other peer; the endpoint chains let NetworkPolicy's own-node exemption
 *   through only in their NetworkPolicy stage.
 */

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
  rule(
    [cmp(['ct direction'], 'reply'), accept],
    'replies of connections whose first packets were allowed',
  ),
  rule([cmp(['ct state'], 'related'), accept], 'ICMP errors of connections that were allowed'),
];
const vmap = (left: NftSelector, map: string): NftExpr => ({ kind: 'vmap', left: [left], map });
const EGRESS = [
  rule([vmap('ip saddr', 'egress4')], 'egress policy of the local source pod'),
  rule([vmap('ip6 saddr', 'egress6')], 'egress policy of the local source pod'),
];
const INGRESS = [
  rule([vmap('ip daddr', 'ingress4')], 'ingress policy of the local destination pod'),
  rule([vmap('ip6 daddr', 'ingress6')], 'ingress policy of the local destination pod'),
];
/** A pod finds its gateway by neighbor discovery: link-layer resolution, never policy. */
const NEIGHBOR_DISCOVERY = rule(
  [cmp(['icmpv6 type'], 'nd-neighbor-solicit', 'nd-neighbor-advert'), accept],
  'neighbor discovery between a pod and its gateway (this node): link layer, not policy',
);

function spec(name: string): NftBaseChainSpec {
  const s = POLICY_TABLE.baseChains.find((c) => c.name === name);
  if (!s) throw new Error(`the policy table has no base chain ${name}`);
  return s;
}

function baseChain(name: string, rules: readonly NftRule[]): NftChain {
  const { reason, type, hook, priority, policy } = spec(name);
  return { name, comment: reason, base: { type, hook, priority, policy }, rules };
}

export function forwardChain(generation: number): NftChain {
  const gen = ((generation & 0xffff) << 16) >>> 0;
  return baseChain('forward', [
    ...CONNECTION,
    rule(
      [{ kind: 'bits', left: 'ct mark', mask: GENERATION_MASK, op: '==', value: gen }, accept],
      `connection allowed under the current policy (generation ${generation & 0xffff})`,
    ),
    ...EGRESS,
    ...INGRESS,
    rule(
      [{ kind: 'set-mark', target: 'ct mark', and: ~GENERATION_MASK >>> 0, or: gen }],
      'both sides allow: remember it for this policy generation',
    ),
  ]);
}

/**
 * Local pods to this node, and this node to local pods. No generation mark:
 * every original-direction packet is evaluated, and the node's connections
 * to anything else keep their conntrack mark untouched.
 */
export function ownNodeChains(): NftChain[] {
  return [
    baseChain('input', [...CONNECTION, NEIGHBOR_DISCOVERY, ...EGRESS]),
    baseChain('output', [...CONNECTION, NEIGHBOR_DISCOVERY, ...INGRESS]),
  ];
}
