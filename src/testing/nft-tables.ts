/**
 * Tables for nft tests: small builders, and random tables that change one
 * step at a time (sets of three key types, regular chains that jump only
 * forward, a verdict map, two base chains), so a sync's partial
 * transactions can be checked against full ones, on the fake and on the
 * kernel. Deterministic for a seed.
 */
import { accept, cmp, drop, jump, lookup } from '../nft/build.js';
import type {
  NftChain,
  NftDatatype,
  NftExpr,
  NftMap,
  NftRule,
  NftSet,
  NftTable,
} from '../nft/model.js';
import type { Rng } from './random-cluster.js';

/** A table `inet weft` of these sets, maps and chains. */
export function table(sets: NftSet[], maps: NftMap[], chains: NftChain[]): NftTable {
  return {
    family: 'inet',
    name: 'weft',
    sets: new Map(sets.map((s) => [s.name, s])),
    maps: new Map(maps.map((m) => [m.name, m])),
    chains: new Map(chains.map((c) => [c.name, c])),
  };
}

export const rules = (...exprs: NftExpr[][]): NftRule[] =>
  exprs.map((e, i) => ({ exprs: e, comment: `r${i}` }));
export const vmap = (map: string): NftExpr => ({ kind: 'vmap', left: ['ip daddr'], map });
export const WEFT = { family: 'inet', name: 'weft' } as const;
export const FORWARD: NftChain['base'] = {
  type: 'filter',
  hook: 'forward',
  priority: 'filter',
  policy: 'accept',
};
const INPUT: NftChain['base'] = {
  type: 'filter',
  hook: 'input',
  priority: '-10',
  policy: 'accept',
};

type Kind = 'v4' | 'v6' | 'tuple';
type Ref =
  { readonly set: string } | { readonly jump: string } | { readonly plain: readonly NftExpr[] };

export interface State {
  sets: Map<string, { kind: Kind; elements: Set<string> }>;
  /** Regular chains and their rules; a chain only jumps to chains named after it (no loops). */
  chains: Map<string, Ref[]>;
  /** Pod IPv4 → chain, the verdict map of the forward chain. */
  dispatch: Map<string, string>;
  forward: Ref[];
  input: Ref[];
  serial: number;
  /** Part of every regular chain's comment. */
  generation: number;
}

const SET_TYPES: Record<
  Kind,
  { type: NftDatatype[]; interval: boolean; rule: (n: string) => NftExpr[] }
> = {
  v4: { type: ['ipv4_addr'], interval: true, rule: (n) => [lookup(['ip saddr'], n), accept] },
  v6: { type: ['ipv6_addr'], interval: true, rule: (n) => [lookup(['ip6 daddr'], n), drop] },
  tuple: {
    type: ['ipv4_addr', 'inet_proto', 'inet_service'],
    interval: false,
    rule: (n) => [lookup(['ip daddr', 'meta l4proto', 'th dport'], n), accept],
  },
};
const PLAIN: NftExpr[][] = [
  [cmp(['ct state'], 'established', 'related'), accept],
  [cmp(['meta l4proto'], 'icmp'), accept],
  [cmp(['meta l4proto'], 'tcp'), cmp(['th dport'], '22', '443'), drop],
  [{ kind: 'counter' }],
];

function element(r: Rng, kind: Kind): string {
  const a = r.int(200);
  const b = r.int(250) + 1;
  if (kind === 'v4') return r.chance(0.5) ? `10.${a}.${b}.0/24` : `172.16.${a}.${b}`;
  if (kind === 'v6')
    return r.chance(0.5)
      ? `fd00:${a.toString(16)}:${b.toString(16)}::/64`
      : `fd01::${a.toString(16)}:${b.toString(16)}`;
  return `10.1.${a}.${b} . ${r.pick(['tcp', 'udp'])} . ${r.int(65535) + 1}`;
}

function randomRef(r: Rng, s: State): Ref {
  const roll = r.int(3);
  if (roll === 0 && s.sets.size > 0) return { set: r.pick([...s.sets.keys()]) };
  if (roll === 1 && s.chains.size > 0) return { jump: r.pick([...s.chains.keys()]) };
  return { plain: r.pick(PLAIN) };
}

function ruleExprs(s: State, ref: Ref, owner: string | undefined): readonly NftExpr[] | undefined {
  if ('plain' in ref) return ref.plain;
  if ('set' in ref) {
    const set = s.sets.get(ref.set);
    return set && SET_TYPES[set.kind].rule(ref.set);
  }
  const ok = s.chains.has(ref.jump) && (owner === undefined || ref.jump > owner);
  return ok ? [jump(ref.jump)] : undefined;
}

function refsToRules(s: State, refs: readonly Ref[], owner?: string): NftRule[] {
  return refs.flatMap((ref, i) => {
    const exprs = ruleExprs(s, ref, owner);
    return exprs === undefined ? [] : [{ exprs, comment: `${owner ?? 'base'} rule ${i}` }];
  });
}

export function build(s: State): NftTable {
  const sets = [...s.sets].map(([name, set]): NftSet => ({
    name,
    type: SET_TYPES[set.kind].type,
    interval: SET_TYPES[set.kind].interval,
    comment: `set ${name} (${set.kind})`,
    elements: [...set.elements].sort(),
  }));
  const dispatch: NftMap = {
    name: 'dispatch',
    key: ['ipv4_addr'],
    comment: 'pod IP → endpoint chain',
    elements: [...s.dispatch]
      .filter(([, chain]) => s.chains.has(chain))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, chain]) => ({ key, value: { kind: 'jump', chain } as const })),
  };
  const chains: NftChain[] = [...s.chains].map(([name, refs]) => ({
    name,
    comment: `endpoint ${name} — ünïcode, generation ${s.generation}`,
    rules: refsToRules(s, refs, name),
  }));
  chains.push(
    {
      name: 'forward',
      comment: 'weft forward',
      base: FORWARD,
      rules: [{ exprs: [vmap('dispatch')], comment: 'dispatch' }, ...refsToRules(s, s.forward)],
    },
    { name: 'input', comment: 'weft input', base: INPUT, rules: refsToRules(s, s.input) },
  );
  return table(sets, [dispatch], chains);
}

/** One random change; true when it retyped a set or changed comments (only a full sync can). */
export function mutate(r: Rng, s: State): boolean {
  const name = (prefix: string) => `${prefix}_${(s.serial++).toString(36)}`;
  const someSet = () => (s.sets.size > 0 ? r.pick([...s.sets.keys()]) : undefined);
  const someChain = () => (s.chains.size > 0 ? r.pick([...s.chains.keys()]) : undefined);
  const pickFrom = <T>(list: readonly T[]) => (list.length > 0 ? r.pick(list) : undefined);
  switch (r.int(13)) {
    case 0: {
      const kind = r.pick<Kind>(['v4', 'v6', 'tuple']);
      s.sets.set(name('s'), {
        kind,
        elements: new Set(Array.from({ length: r.int(4) }, () => element(r, kind))),
      });
      break;
    }
    case 1: {
      const n = someSet();
      if (n && r.chance(0.5)) s.sets.delete(n);
      break;
    }
    case 2:
    case 3: {
      const set = s.sets.get(someSet() ?? '');
      if (set) for (let i = r.int(6) + 1; i > 0; i--) set.elements.add(element(r, set.kind));
      break;
    }
    case 4: {
      const set = s.sets.get(someSet() ?? '');
      if (set) for (const e of [...set.elements]) if (r.chance(0.4)) set.elements.delete(e);
      break;
    }
    case 5:
      if (s.chains.size < 10)
        s.chains.set(
          name('ep'),
          Array.from({ length: r.int(3) }, () => randomRef(r, s)),
        );
      break;
    case 6: {
      const n = someChain();
      if (n && r.chance(0.5)) s.chains.delete(n);
      break;
    }
    case 7:
    case 12: {
      const refs = s.chains.get(someChain() ?? '');
      if (refs) refs.splice(r.int(refs.length + 1), 0, randomRef(r, s));
      break;
    }
    case 8: {
      const refs = s.chains.get(someChain() ?? '');
      if (refs && refs.length > 0) refs.splice(r.int(refs.length), 1);
      break;
    }
    case 9: {
      const base = r.chance(0.5) ? s.forward : s.input;
      if (base.length > 0 && r.chance(0.5)) base.splice(r.int(base.length), 1);
      else base.splice(r.int(base.length + 1), 0, randomRef(r, s));
      break;
    }
    case 10: {
      const chain = someChain();
      if (chain) s.dispatch.set(`10.244.0.${r.int(12) + 1}`, chain); // often an existing key: revalued
      break;
    }
    default: {
      const key = pickFrom([...s.dispatch.keys()]);
      if (key && r.chance(0.5)) s.dispatch.delete(key);
      else if (key) s.dispatch.set(key, someChain() ?? '');
      break;
    }
  }
  if (r.chance(0.03)) {
    s.generation++; // every chain's comment changes: nft cannot update a comment in place
    return true;
  }
  if (!r.chance(0.05)) return false;
  const set = s.sets.get(someSet() ?? '');
  if (!set) return false;
  set.kind = set.kind === 'v4' ? 'v6' : 'v4';
  set.elements = new Set([element(r, set.kind)]);
  return true;
}

/** A state with nothing in it yet. */
export function emptyState(): State {
  return {
    sets: new Map(),
    chains: new Map(),
    dispatch: new Map(),
    forward: [],
    input: [],
    serial: 0,
    generation: 0,
  };
}
