/**
 * The services component's table, as data: `inet weft-services`, apart from
 * the policy table `inet weft`, and its base chains with where they hook in
 * and why (kube-proxy's nftablesBaseChains is the model). render.ts builds
 * the rest.
 *
 * The nat chains see only the first packet of a connection; conntrack
 * rewrites the rest. DNAT happens at prerouting and output (priority dstnat,
 * -100), before the policy table's forward, input and output chains
 * (priority filter, 0): policies see the endpoint pod's own address and
 * port, never the Service's. The filter chains come right after every
 * proxy's DNAT (priority -90, kube-proxy's filter-output-post-dnat): what
 * is still addressed to a ClusterIP or the service range then was
 * translated by no proxy, and is refused or dropped — so a Service that
 * another proxy serves (service.kubernetes.io/service-proxy-name) is its.
 */
import type { NftBaseChainSpec, NftTableSpec } from '../../nft/model.js';

/** The packet mark bit that asks nat_postrouting to masquerade (kube-proxy's bit too). */
export const MASQUERADE_MARK = 0x00004000;

export const SERVICE_TABLE: NftTableSpec = {
  family: 'inet',
  name: 'weft-services',
  baseChains: [
    {
      name: 'nat_prerouting',
      type: 'nat',
      hook: 'prerouting',
      priority: 'dstnat',
      policy: 'accept',
      reason:
        'new connections arriving from pods and the network: to a Service endpoint, or refused',
    },
    {
      name: 'nat_output',
      type: 'nat',
      hook: 'output',
      // nft 1.0.6 reads `dstnat` on prerouting alone; -100 is its value.
      priority: '-100',
      policy: 'accept',
      reason: "new connections of this node's own processes: to a Service endpoint, or refused",
    },
    {
      name: 'filter_prerouting',
      type: 'filter',
      hook: 'prerouting',
      priority: 'dstnat + 10',
      policy: 'accept',
      reason:
        'after every DNAT: a new connection no proxy translated, to a ClusterIP or the service range',
    },
    {
      name: 'filter_output',
      type: 'filter',
      hook: 'output',
      priority: '-90',
      policy: 'accept',
      reason:
        "after every DNAT: this node's new connection no proxy translated, to a ClusterIP or the service range",
    },
    {
      name: 'nat_postrouting',
      type: 'nat',
      hook: 'postrouting',
      priority: 'srcnat',
      policy: 'accept',
      reason: "connections marked for masquerade leave with this node's address",
    },
  ],
};

export function baseChainSpec(name: string): NftBaseChainSpec {
  const s = SERVICE_TABLE.baseChains.find((c) => c.name === name);
  if (!s) throw new Error(`the services table has no base chain ${name}`);
  return s;
}
