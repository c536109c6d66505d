/**
 * The policy component's table, as data: where its base chains hook in and
 * why. Their rules (base-chains.ts) dispatch each packet to the endpoint
 * chains of local pods; render.ts builds the rest.
 */
import type { NftBaseChainSpec, NftTableSpec } from '../../nft/model.js';

const chain = (name: string, hook: NftBaseChainSpec['hook'], reason: string): NftBaseChainSpec => ({
  name,
  type: 'filter',
  hook,
  priority: 'filter',
  policy: 'accept',
  reason,
});

export const POLICY_TABLE: NftTableSpec = {
  family: 'inet',
  name: 'weft',
  baseChains: [
    chain(
      'forward',
      'forward',
      'pod traffic crossing this node: egress of local sources, ingress of local destinations',
    ),
    chain('input', 'input', 'local pods to this node itself: egress of the local source pod'),
    chain(
      'output',
      'output',
      'this node itself to local pods: ingress of the local destination pod',
    ),
  ],
};
