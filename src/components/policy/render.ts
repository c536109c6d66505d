import { formatIp } from '../../core/net/ip.js';
import type { Direction } from '../../core/model/types.js';
import {
  policyRefText,
  ruleOriginText,
  type Endpoint,
  type EndpointDirection,
  type IrPolicy,
  type IrRule,
  type PolicyIr,
} from '../../core/policy/ir.js';
import type {
  NftChain,
  NftExpr,
  NftMap,
  NftMapElement,
  NftRule,
  NftSet,
  NftTable,
} from '../../nft/model.js';
import { cmp, drop as dropVerdict, jump, ret, rule } from '../../nft/build.js';
import {
  DROP_LOG_COUNTERS,
  dropLogExprs,
  dropLogPrefix,
  type DropLogOptions,
  type DropReason,
} from './drop-log.js';
import { forwardChain, ownNodeChains } from './base-chains.js';
import { POLICY_TABLE } from './table.js';
import { matchesOf, setsOf } from './rule-matches.js';
import { nftName } from '../../nft/names.js';

/**
 * Policy IR → weft's nftables table, for the endpoints of this node.
 *
 * The forward hook evaluates every packet in a connection's original
 * direction (so a policy that starts denying a flow stops its established
 * connections too) and lets replies through (enforcement is per connection).
 * A packet from a local pod goes through that pod's egress chain, a packet
 * to a local pod through its ingress chain — dispatched by verdict maps keyed
 * by address, O(1) at any size; the input and output hooks do the same for
 * traffic between a local pod and this node (see base-chains.ts). An endpoint
 * chain runs the tiers in order: Admin ClusterNetworkPolicies, then
 * NetworkPolicies (which always allow the own node), or Baseline
 * ClusterNetworkPolicies when no NetworkPolicy selects the pod.
 * Each policy is one chain; its rules record a decision in three bits of the
 * packet mark and return, and the endpoint chain acts on the decision:
 * `return` is "allowed for this side", `drop` is denied.
 */

/** Mark bits weft uses while deciding (cleared at the start of every endpoint chain). */
export const MARK = {
  DECISION: 0x00300000,
  ACCEPT: 0x00100000,
  DENY: 0x00200000,
  PASS: 0x00300000,
  ALLOW: 0x00400000,
} as const;
const CLEAR_ALL = ~(MARK.DECISION | MARK.ALLOW) >>> 0;
const CLEAR_DECISION = ~MARK.DECISION >>> 0;

/** `meta mark & MASK OP VALUE`. */
const markIs = (mask: number, op: '==' | '!=', value: number): NftExpr => ({
  kind: 'bits',
  left: 'meta mark',
  mask,
  op,
  value,
});
const undecided = markIs(MARK.DECISION, '==', 0);
const decided = (v: number) => markIs(MARK.DECISION, '==', v);
const clearMark = (and: number): NftExpr => ({ kind: 'set-mark', target: 'meta mark', and });

const VERDICT_MARK: Record<IrRule['action'], number> = {
  allow: MARK.ALLOW,
  accept: MARK.ACCEPT,
  deny: MARK.DENY,
  pass: MARK.PASS,
};

const policyChain = (p: IrPolicy) => nftName('pol', p.id);
const endpointChain = (e: Endpoint, d: Direction) => nftName(d === 'ingress' ? 'in' : 'eg', e.key);

/** Endpoint chains, reused while the endpoint and the policies it jumps to are the same objects. */
const endpointChains = new WeakMap<
  Endpoint,
  Partial<
    Record<
      Direction,
      {
        policies: readonly (IrPolicy | undefined)[];
        log: DropLogOptions | undefined;
        chain: NftChain;
      }
    >
  >
>();

function cachedEndpointChain(
  ir: PolicyIr,
  e: Endpoint,
  d: Direction,
  ids: readonly string[],
  log: DropLogOptions | undefined,
): NftChain {
  const policies = ids.map((id) => ir.policies.get(id));
  let entry = endpointChains.get(e);
  if (!entry) endpointChains.set(e, (entry = {}));
  const hit = entry[d];
  if (
    hit &&
    hit.log?.group === log?.group &&
    hit.log?.ratePerSecond === log?.ratePerSecond &&
    hit.policies.length === policies.length &&
    hit.policies.every((p, i) => p === policies[i])
  )
    return hit.chain;
  const chain = endpointChainOf(ir, e, d, endpointChain(e, d), log);
  entry[d] = { policies, log, chain };
  return chain;
}

/** Policy chains rendered from IR policies, reused while the IR policy object is. */
const renderedChains = new WeakMap<IrPolicy, NftChain>();

export interface RenderOptions {
  /** Log drops to NFLOG (flow observability); off: no log rules at all. */
  readonly logDrops?: DropLogOptions;
}

export function renderTable(
  ir: PolicyIr,
  local: ReadonlySet<string>,
  generation = 1,
  options: RenderOptions = {},
): NftTable {
  const chains = new Map<string, NftChain>();
  const usedPolicies = new Set<string>();
  const maps = {
    egress4: [] as NftMapElement[],
    egress6: [] as NftMapElement[],
    ingress4: [] as NftMapElement[],
    ingress6: [] as NftMapElement[],
  };
  for (const e of [...ir.endpoints.values()].filter((x) => local.has(x.key))) {
    for (const d of ['ingress', 'egress'] as const) {
      const dir = e[d];
      if (dir.admin.length + dir.networkPolicies.length + dir.baseline.length === 0) continue;
      const ids = [...dir.admin, ...dir.networkPolicies, ...dir.baseline];
      const c = cachedEndpointChain(ir, e, d, ids, options.logDrops);
      const chain = c.name;
      chains.set(chain, c);
      for (const id of ids) usedPolicies.add(id);
      for (const ip of e.ips) {
        const m =
          ip.family === 4
            ? d === 'ingress'
              ? maps.ingress4
              : maps.egress4
            : d === 'ingress'
              ? maps.ingress6
              : maps.egress6;
        m.push({ key: formatIp(ip), value: { kind: 'jump', chain } });
      }
    }
  }
  const sets = new Map<string, NftSet>();
  for (const id of [...usedPolicies].sort()) {
    const p = ir.policies.get(id);
    if (!p) throw new Error(`IR names missing policy ${id}`);
    let chain = renderedChains.get(p);
    if (!chain) renderedChains.set(p, (chain = policyChainOf(ir, p)));
    chains.set(chain.name, chain);
    for (const r of p.rules) for (const s of setsOf(ir, r)) sets.set(s.name, s);
  }
  chains.set('forward', forwardChain(generation));
  for (const c of ownNodeChains()) chains.set(c.name, c);
  const nftMaps = new Map<string, NftMap>();
  for (const [name, elements] of Object.entries(maps)) {
    const family = name.endsWith('4') ? ('ipv4_addr' as const) : ('ipv6_addr' as const);
    const side = name.startsWith('egress')
      ? 'egress: by source pod'
      : 'ingress: by destination pod';
    nftMaps.set(name, {
      name,
      key: [family],
      comment: `local pods' ${side}`,
      elements: elements.sort((a, b) => a.key.localeCompare(b.key)),
    });
  }
  return {
    family: POLICY_TABLE.family,
    name: POLICY_TABLE.name,
    sets,
    maps: nftMaps,
    chains,
    // Drops over the log's rate limit are counted in these (see drop-log.ts).
    ...(options.logDrops
      ? { counters: new Map(DROP_LOG_COUNTERS.map((c) => [c.name, c] as const)) }
      : {}),
  };
}

function tierJumps(ir: PolicyIr, ids: readonly string[]): NftRule[] {
  return ids.map((id) => {
    const p = ir.policies.get(id) as IrPolicy;
    return rule([undecided, jump(policyChain(p))], policyRefText(p.ref));
  });
}

function endpointChainOf(
  ir: PolicyIr,
  e: Endpoint,
  d: Direction,
  name: string,
  log: DropLogOptions | undefined,
): NftChain {
  const dir: EndpointDirection = e[d];
  const pod = `Pod ${e.key} ${d}`;
  /** A drop, with its log rule in front when drops are logged. */
  const drop = (condition: NftExpr[], reason: DropReason, comment: string): NftRule[] => [
    ...(log
      ? [
          rule(
            [...condition, ...dropLogExprs(dropLogPrefix(e.key, d, reason), log)],
            `${comment} (log)`,
          ),
        ]
      : []),
    rule([...condition, dropVerdict], comment),
  ];
  const rules: NftRule[] = [rule([clearMark(CLEAR_ALL)], `${pod}: start undecided`)];
  if (dir.admin.length) {
    rules.push(...tierJumps(ir, dir.admin));
    rules.push(rule([decided(MARK.ACCEPT), ret], `${pod}: accepted by the Admin tier`));
    rules.push(...drop([decided(MARK.DENY)], 'admin', `${pod}: denied by the Admin tier`));
    rules.push(rule([clearMark(CLEAR_DECISION)], `${pod}: Admin tier passed or did not match`));
  }
  if (dir.networkPolicies.length) {
    // NetworkPolicy's own exemption (kubelet probes), after the Admin tier has had its say.
    const own = d === 'egress' ? 'fib daddr type' : 'fib saddr type';
    rules.push(
      rule(
        [cmp([own], 'local'), ret],
        `${pod}: its own ${e.node ? `Node ${e.node}` : 'node'} (any address of it), which NetworkPolicy always allows`,
      ),
    );
    // NetworkPolicies add up: the first that allows ends the search.
    for (const id of dir.networkPolicies) {
      const p = ir.policies.get(id) as IrPolicy;
      rules.push(rule([markIs(MARK.ALLOW, '==', 0), jump(policyChain(p))], policyRefText(p.ref)));
    }
    rules.push(rule([markIs(MARK.ALLOW, '!=', 0), ret], `${pod}: allowed by a NetworkPolicy`));
    const by = dir.networkPolicies
      .map((id) => policyRefText((ir.policies.get(id) as IrPolicy).ref))
      .join(', ');
    rules.push(...drop([], 'isolated', `${pod}: isolated by ${by}`));
  } else if (dir.baseline.length) {
    rules.push(...tierJumps(ir, dir.baseline));
    rules.push(...drop([decided(MARK.DENY)], 'baseline', `${pod}: denied by the Baseline tier`));
  }
  return { name, comment: pod, rules };
}

function policyChainOf(ir: PolicyIr, p: IrPolicy): NftChain {
  const rules: NftRule[] = [];
  for (const r of p.rules) {
    const verdict: NftExpr[] = [
      { kind: 'set-mark', target: 'meta mark', or: VERDICT_MARK[r.action] },
      ret,
    ];
    for (const match of matchesOf(ir, r))
      rules.push(rule([...match, ...verdict], ruleOriginText(r.origin)));
  }
  return { name: policyChain(p), comment: `${policyRefText(p.ref)} ${p.direction}`, rules };
}
