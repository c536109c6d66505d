import { createHash } from 'node:crypto';
import { formatIp } from '../core/net/ip.js';
import type { Cidr } from '../core/net/types.js';
import { formatCidr } from '../core/net/cidr.js';
import type { Direction } from '../core/model/types.js';
import {
  policyRefText,
  ruleOriginText,
  type Endpoint,
  type EndpointDirection,
  type IrPolicy,
  type IrPort,
  type IrRule,
  type IrSet,
  type PeerPart,
  type PolicyIr,
  type SetId,
} from '../core/policy/ir.js';
import type { NftChain, NftMap, NftRule, NftSet, NftTable } from './model.js';
import { clampComment } from './text.js';
import {
  DROP_LOG_COUNTERS,
  dropLogPrefix,
  dropLogRule,
  type DropLogOptions,
  type DropReason,
} from './drop-log.js';

/**
 * Policy IR → weft's nftables table, for the endpoints of this node.
 *
 * The forward hook evaluates every packet in a connection's original
 * direction (so a policy that starts denying a flow stops its established
 * connections too) and lets replies through (enforcement is per connection).
 * A packet from a local pod goes through that pod's egress chain, a packet
 * to a local pod through its ingress chain — dispatched by verdict maps keyed
 * by address, O(1) at any size. An endpoint chain runs the tiers in order:
 * Admin ClusterNetworkPolicies, NetworkPolicies, Baseline ClusterNetworkPolicies.
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
const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const CLEAR_ALL = hex(~(MARK.DECISION | MARK.ALLOW) >>> 0);
const CLEAR_DECISION = hex(~MARK.DECISION >>> 0);

const VERDICT_MARK: Record<IrRule['action'], number> = {
  allow: MARK.ALLOW,
  accept: MARK.ACCEPT,
  deny: MARK.DENY,
  pass: MARK.PASS,
};

/** A readable, unique nft name: a short hash of the id plus its readable tail. */
export function nftName(prefix: string, id: string): string {
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  const tail = id
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(-40);
  return `${prefix}_${hash}_${tail}`.slice(0, 64);
}

const setName = (id: SetId, family: 4 | 6) => `${nftName('set', id).slice(0, 60)}_${family}`;
/** A peer set is named after what it selects, so every rule naming the same peer shares it. */
const peerSetName = (text: string, family: 4 | 6) =>
  `${nftName('peer', text).slice(0, 60)}_${family}`;
const policyChain = (p: IrPolicy) => nftName('pol', p.id);
const endpointChain = (e: Endpoint, d: Direction) => nftName(d === 'ingress' ? 'in' : 'eg', e.key);

function rule(text: string, comment: string): NftRule {
  return { text, comment: clampComment(comment) };
}

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
    egress4: [] as { key: string; value: string }[],
    egress6: [] as { key: string; value: string }[],
    ingress4: [] as { key: string; value: string }[],
    ingress6: [] as { key: string; value: string }[],
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
        m.push({ key: formatIp(ip), value: `jump ${chain}` });
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
  const nftMaps = new Map<string, NftMap>();
  for (const [name, elements] of Object.entries(maps)) {
    const family = name.endsWith('4') ? 'ipv4_addr' : 'ipv6_addr';
    const side = name.startsWith('egress')
      ? 'egress: by source pod'
      : 'ingress: by destination pod';
    nftMaps.set(name, {
      name,
      type: `${family} : verdict`,
      comment: `local pods' ${side}`,
      elements: elements.sort((a, b) => a.key.localeCompare(b.key)),
    });
  }
  return {
    sets,
    maps: nftMaps,
    chains,
    // Drops over the log's rate limit are counted in these (see drop-log.ts).
    ...(options.logDrops
      ? { counters: new Map(DROP_LOG_COUNTERS.map((c) => [c.name, c] as const)) }
      : {}),
  };
}

/**
 * The connection's mark remembers the policy generation under which its last
 * original-direction packet was allowed; while the generation is current, its
 * packets skip the policy chains (one comparison per packet). Every sync
 * starts a new generation, so after any change each connection's next packet
 * is evaluated again — and dropped if the change denies it.
 */
export const GENERATION_MASK = 0xffff0000;

function forwardChain(generation: number): NftChain {
  const gen = hex(((generation & 0xffff) << 16) >>> 0);
  const keep = hex(~GENERATION_MASK >>> 0);
  return {
    name: 'forward',
    comment:
      'pod traffic crossing this node: egress of local sources, ingress of local destinations',
    base: { type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' },
    rules: [
      rule('ct direction reply accept', 'replies of connections whose first packets were allowed'),
      rule('ct state related accept', 'ICMP errors of connections that were allowed'),
      rule(
        `ct mark & ${hex(GENERATION_MASK)} == ${gen} accept`,
        `connection allowed under the current policy (generation ${generation & 0xffff})`,
      ),
      rule('ip saddr vmap @egress4', 'egress policy of the local source pod'),
      rule('ip6 saddr vmap @egress6', 'egress policy of the local source pod'),
      rule('ip daddr vmap @ingress4', 'ingress policy of the local destination pod'),
      rule('ip6 daddr vmap @ingress6', 'ingress policy of the local destination pod'),
      rule(
        `ct mark set ct mark & ${keep} | ${gen}`,
        'both sides allow: remember it for this policy generation',
      ),
    ],
  };
}

function tierJumps(ir: PolicyIr, ids: readonly string[]): NftRule[] {
  return ids.map((id) => {
    const p = ir.policies.get(id) as IrPolicy;
    return rule(
      `meta mark & ${hex(MARK.DECISION)} == 0x00000000 jump ${policyChain(p)}`,
      policyRefText(p.ref),
    );
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
  const drop = (condition: string, reason: DropReason, comment: string): NftRule[] => [
    ...(log
      ? [rule(dropLogRule(condition, dropLogPrefix(e.key, d, reason), log), `${comment} (log)`)]
      : []),
    rule(`${condition}${condition ? ' ' : ''}drop`, comment),
  ];
  const rules: NftRule[] = [
    rule(`meta mark set meta mark & ${CLEAR_ALL}`, `${pod}: start undecided`),
  ];
  if (dir.admin.length) {
    rules.push(...tierJumps(ir, dir.admin));
    rules.push(
      rule(
        `meta mark & ${hex(MARK.DECISION)} == ${hex(MARK.ACCEPT)} return`,
        `${pod}: accepted by the Admin tier`,
      ),
    );
    rules.push(
      ...drop(
        `meta mark & ${hex(MARK.DECISION)} == ${hex(MARK.DENY)}`,
        'admin',
        `${pod}: denied by the Admin tier`,
      ),
    );
    rules.push(
      rule(
        `meta mark set meta mark & ${CLEAR_DECISION}`,
        `${pod}: Admin tier passed or did not match`,
      ),
    );
  }
  if (dir.networkPolicies.length) {
    // NetworkPolicies add up: the first that allows ends the search.
    for (const id of dir.networkPolicies) {
      const p = ir.policies.get(id) as IrPolicy;
      rules.push(
        rule(
          `meta mark & ${hex(MARK.ALLOW)} == 0x00000000 jump ${policyChain(p)}`,
          policyRefText(p.ref),
        ),
      );
    }
    rules.push(
      rule(
        `meta mark & ${hex(MARK.ALLOW)} != 0x00000000 return`,
        `${pod}: allowed by a NetworkPolicy`,
      ),
    );
    const by = dir.networkPolicies
      .map((id) => policyRefText((ir.policies.get(id) as IrPolicy).ref))
      .join(', ');
    rules.push(...drop('', 'isolated', `${pod}: isolated by ${by}`));
  } else if (dir.baseline.length) {
    rules.push(...tierJumps(ir, dir.baseline));
    rules.push(
      ...drop(
        `meta mark & ${hex(MARK.DECISION)} == ${hex(MARK.DENY)}`,
        'baseline',
        `${pod}: denied by the Baseline tier`,
      ),
    );
  }
  return { name, comment: pod, rules };
}

function policyChainOf(ir: PolicyIr, p: IrPolicy): NftChain {
  const rules: NftRule[] = [];
  for (const r of p.rules) {
    const verdict = `meta mark set meta mark | ${hex(VERDICT_MARK[r.action])} return`;
    for (const match of matchesOf(ir, r))
      rules.push(rule(`${match}${match ? ' ' : ''}${verdict}`, ruleOriginText(r.origin)));
  }
  return { name: policyChain(p), comment: `${policyRefText(p.ref)} ${p.direction}`, rules };
}

/** The nft sets holding a rule's peers: one per peer as written (shared), or the rule's own. */
function peerSetNames(ir: PolicyIr, r: IrRule, f: 4 | 6): string[] {
  if (r.peer.kind !== 'set') return [];
  const s = ir.sets.get(r.peer.set);
  if (s?.kind === 'addresses' && s.parts) return s.parts.map((p) => peerSetName(p.text, f));
  return [setName(r.peer.set, f)];
}

/** nft match expressions for one IR rule: the OR of its peers × families × port entries. */
function matchesOf(ir: PolicyIr, r: IrRule): string[] {
  const peerField = r.origin.direction === 'ingress' ? 'saddr' : 'daddr';
  const peers: { f: 4 | 6 | undefined; set: string | undefined }[] =
    r.peer.kind === 'any'
      ? [{ f: undefined, set: undefined }]
      : ([4, 6] as const).flatMap((f) => peerSetNames(ir, r, f).map((set) => ({ f, set })));
  const out: string[] = [];
  for (const { f, set } of peers) {
    const peer = set && f ? `${f === 4 ? 'ip' : 'ip6'} ${peerField} @${set}` : '';
    const ports: (IrPort | undefined)[] = r.ports.kind === 'any' ? [undefined] : [...r.ports.ports];
    for (const p of ports) {
      if (p?.kind === 'named') {
        for (const pf of f ? [f] : ([4, 6] as const)) {
          out.push(
            join(
              pf === f ? peer : '',
              `${pf === 4 ? 'ip' : 'ip6'} daddr . meta l4proto . th dport @${setName(p.set, pf)}`,
            ),
          );
        }
      } else out.push(join(peer, p ? portMatch(p) : ''));
    }
  }
  return out;
}

function join(a: string, b: string): string {
  return [a, b].filter(Boolean).join(' ');
}

function portMatch(p: Exclude<IrPort, { kind: 'named' }>): string {
  const proto = p.protocol.toLowerCase();
  if (p.kind === 'protocol') return `meta l4proto ${proto}`;
  return `meta l4proto ${proto} th dport ${p.from === p.to ? p.from : `${p.from}-${p.to}`}`;
}

function cidrText(c: Cidr): string {
  const host = c.prefix === (c.family === 4 ? 32 : 128);
  return host ? formatIp({ family: c.family, value: c.base }) : formatCidr(c);
}

const addrType = (f: 4 | 6) => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');

/** Sets rendered from IR objects, reused while the IR object is (compiles share unchanged objects). */
const rendered = new WeakMap<object, NftSet[]>();
function cached(key: object, make: () => NftSet[]): NftSet[] {
  let hit = rendered.get(key);
  if (!hit) rendered.set(key, (hit = make()));
  return hit;
}

function addressElements(cidrs: readonly Cidr[], f: 4 | 6): string[] {
  return [...new Set(cidrs.filter((c) => c.family === f).map(cidrText))].sort();
}

/** The nft sets one rule refers to: its peers and named ports, one set per address family. */
function setsOf(ir: PolicyIr, r: IrRule): NftSet[] {
  const ids: SetId[] = [];
  if (r.peer.kind === 'set') ids.push(r.peer.set);
  if (r.ports.kind === 'list')
    for (const p of r.ports.ports) if (p.kind === 'named') ids.push(p.set);
  const out: NftSet[] = [];
  for (const id of ids) {
    const s = ir.sets.get(id);
    if (!s) throw new Error(`IR names missing set ${id}`);
    if (s.kind === 'addresses' && s.parts) {
      for (const part of s.parts) out.push(...cached(part, () => peerPartSets(part)));
    } else out.push(...cached(s, () => ownSets(s)));
  }
  return out;
}

function peerPartSets(part: PeerPart): NftSet[] {
  return ([4, 6] as const).map((f) => ({
    name: peerSetName(part.text, f),
    type: addrType(f),
    interval: !part.hosts,
    comment: clampComment(`peers: ${part.text}`),
    elements: addressElements(part.cidrs, f),
  }));
}

function ownSets(s: IrSet): NftSet[] {
  return ([4, 6] as const).map((f) =>
    s.kind === 'addresses'
      ? {
          name: setName(s.id, f),
          type: addrType(f),
          interval: true,
          comment: clampComment(`${ruleOriginText(s.origin)} peers`),
          elements: addressElements(s.cidrs, f),
        }
      : {
          name: setName(s.id, f),
          type: `${addrType(f)} . inet_proto . inet_service`,
          interval: false,
          comment: clampComment(`${ruleOriginText(s.origin)} port ${s.name}`),
          elements: [
            ...new Set(
              s.entries
                .filter((e) => e.ip.family === f)
                .map((e) => `${formatIp(e.ip)} . ${e.protocol.toLowerCase()} . ${e.port}`),
            ),
          ].sort(),
        },
  );
}
