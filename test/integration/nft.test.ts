// weft's nftables table on a real kernel, each test in fresh network
// namespaces (never the root one): a full transaction replaces the table
// atomically and leaves other tables alone; a partial transaction gives
// exactly what a full one gives; a refused transaction changes nothing; and
// what the validator refuses, the kernel refuses too.
import test from 'node:test';
import assert from 'node:assert/strict';
import { accept, cmp, drop, jump, lookup } from '../../src/nft/build.js';
import type {
  NftChain,
  NftDatatype,
  NftExpr,
  NftMap,
  NftRule,
  NftSet,
  NftTable,
} from '../../src/nft/model.js';
import { NftError, RealNft } from '../../src/nft/runner.js';
import { TableSync } from '../../src/nft/sync.js';
import { transactionText } from '../../src/nft/text.js';
import { fullTransaction as fullTx } from '../../src/nft/transactions.js';
import { validateTable } from '../../src/nft/validate.js';
import { Rng } from '../../src/testing/random-cluster.js';
import { Sandbox } from '../support/sandbox.js';

// ---- nft's listing, made comparable ----------------------------------------

function elementsLine(lines: readonly string[]): string {
  const body = lines
    .join(' ')
    .replace(/^elements = \{/, '')
    .replace(/\}$/, '');
  const items = body
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  return `elements = { ${items.sort().join(', ')} }`;
}

/**
 * `nft list table` with its blocks sorted by header and each element list
 * sorted: the kernel lists objects in creation order and hash-set elements
 * in hash order, neither of which is part of the table's meaning. Rule order
 * is kept: it is.
 */
function normalize(listing: string): string {
  const blocks: string[] = [];
  let block: string[] | undefined;
  let elements: string[] | undefined;
  for (const raw of listing.split('\n')) {
    const line = raw.trim();
    if (block === undefined) {
      if (/^(set|map|chain) \S+ \{$/.test(line)) block = [line];
      continue;
    }
    if (elements === undefined && line.startsWith('elements = {')) elements = [];
    if (elements !== undefined) {
      elements.push(line);
      if (line.endsWith('}')) {
        block.push(elementsLine(elements));
        elements = undefined;
      }
      continue;
    }
    if (raw === '\t}') {
      blocks.push(block.join('\n'));
      block = undefined;
    } else block.push(line);
  }
  assert.equal(block, undefined, `unterminated block in listing:\n${listing}`);
  return blocks.sort().join('\n\n');
}

// ---- building tables -----------------------------------------------------------

function table(sets: NftSet[], maps: NftMap[], chains: NftChain[]): NftTable {
  return {
    family: 'inet',
    name: 'weft',
    sets: new Map(sets.map((s) => [s.name, s])),
    maps: new Map(maps.map((m) => [m.name, m])),
    chains: new Map(chains.map((c) => [c.name, c])),
  };
}

const rules = (...exprs: NftExpr[][]): NftRule[] =>
  exprs.map((e, i) => ({ exprs: e, comment: `r${i}` }));
const vmap = (map: string): NftExpr => ({ kind: 'vmap', left: ['ip daddr'], map });
/** The table, replacing whatever was there, as one script. */
const fullTransaction = (t: NftTable) => transactionText(fullTx(t));
/** Applies a full transaction with `nft`. */
const applyFull = (nft: RealNft, t: NftTable) => nft.applyScript(fullTransaction(t));
const WEFT = { family: 'inet', name: 'weft' } as const;
const FORWARD: NftChain['base'] = {
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

/** A small fixed table: a set, a map, a regular chain and a base chain. */
function fixed(variant: 'a' | 'b'): NftTable {
  const only = variant === 'a' ? ['ep_a'] : ['ep_b'];
  return table(
    [
      {
        name: 'pods',
        type: ['ipv4_addr'],
        interval: true,
        comment: 'pods',
        elements: ['10.244.0.0/24'],
      },
    ],
    [
      {
        name: 'dispatch',
        key: ['ipv4_addr'],
        comment: 'pod → chain',
        elements: [{ key: '10.244.0.5', value: { kind: 'jump', chain: only[0] as string } }],
      },
    ],
    [
      ...only.map((name) => ({
        name,
        comment: `chain ${name}`,
        rules: rules([lookup(['ip saddr'], 'pods'), accept], [drop]),
      })),
      { name: 'forward', comment: 'entry', base: FORWARD, rules: rules([vmap('dispatch')]) },
    ],
  );
}

// ---- random-ish tables ---------------------------------------------------------

type Kind = 'v4' | 'v6' | 'tuple';
type Ref =
  { readonly set: string } | { readonly jump: string } | { readonly plain: readonly NftExpr[] };

interface State {
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

function build(s: State): NftTable {
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
function mutate(r: Rng, s: State): boolean {
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

// ---- the tests -------------------------------------------------------------------

test('fullTransaction applies in a fresh namespace; list is empty before', async (t) => {
  const sb = Sandbox.create(t);
  const nft = new RealNft({ netns: await sb.netns('nft') });
  assert.equal(await nft.list(WEFT), '', 'no table yet');
  await applyFull(nft, fixed('a'));
  assert.equal(
    normalize(await nft.list(WEFT)),
    [
      'chain ep_a {\ncomment "chain ep_a"\nip saddr @pods accept comment "r0"\ndrop comment "r1"',
      'chain forward {\ncomment "entry"\ntype filter hook forward priority filter; policy accept;\n' +
        'ip daddr vmap @dispatch comment "r0"',
      'map dispatch {\ntype ipv4_addr : verdict\ncomment "pod → chain"\nelements = { 10.244.0.5 : jump ep_a }',
      'set pods {\ntype ipv4_addr\nflags interval\ncomment "pods"\nelements = { 10.244.0.0/24 }',
    ].join('\n\n'),
  );
});

test('partial transactions give exactly what a full one gives', async (t) => {
  const sb = Sandbox.create(t);
  const partialNs = new RealNft({ netns: await sb.netns('part') });
  const fullNs = new RealNft({ netns: await sb.netns('full') });
  const sync = new TableSync(partialNs);
  const seed = 20240611;
  const r = new Rng(seed);
  const s: State = {
    sets: new Map(),
    chains: new Map(),
    dispatch: new Map(),
    forward: [],
    input: [],
    serial: 0,
    generation: 0,
  };
  const kinds: string[] = [];
  for (let step = 0; step < 50; step++) {
    let needsFull = false;
    for (let i = step === 0 ? 20 : r.int(3) + 1; i > 0; i--) needsFull = mutate(r, s) || needsFull;
    if (step === 7) {
      // Past one chunk of elements: the add is split into several statements.
      const big = { kind: 'tuple' as const, elements: new Set<string>() };
      for (let i = 0; i < 9001; i++) big.elements.add(`10.2.${i >> 8}.${i & 255} . tcp . ${i + 1}`);
      s.sets.set('s_big', big);
    }
    if (step === 12) s.sets.delete('s_big');
    const next = build(s);
    const where = `seed ${seed} step ${step}`;
    assert.deepEqual(validateTable(next), [], where);
    const result = await sync.apply(next);
    kinds.push(result.kind);
    if (step === 0) assert.equal(result.kind, 'full', where);
    else if (!needsFull) assert.notEqual(result.kind, 'full', `${where}: needless full sync`);
    await applyFull(fullNs, next);
    const [viaPartial, viaFull] = [
      normalize(await partialNs.list(WEFT)),
      normalize(await fullNs.list(WEFT)),
    ];
    assert.equal(viaPartial, viaFull, `${where}: partial differs from full`);
    assert.match(viaFull, /^chain forward \{$/m, where);
  }
  assert.ok(
    kinds.filter((k) => k === 'partial').length >= 35,
    `mostly partial: ${kinds.join(' ')}`,
  );
});

test('one partial may undo what would conflict midway: removals run first', async (t) => {
  const sb = Sandbox.create(t);
  const partialNs = new RealNft({ netns: await sb.netns('part') });
  const fullNs = new RealNft({ netns: await sb.netns('full') });
  const tbl = (cidr: string, aRules: NftExpr[][], bRules: NftExpr[][]) =>
    table(
      [{ name: 'blocks', type: ['ipv4_addr'], interval: true, comment: '', elements: [cidr] }],
      [],
      [
        { name: 'a', comment: '', rules: rules(...aRules) },
        { name: 'b', comment: '', rules: rules(...bRules) },
        { name: 'forward', comment: '', base: FORWARD, rules: rules([jump('a')], [jump('b')]) },
      ],
    );
  const blocked = [lookup(['ip saddr'], 'blocks'), drop];
  const sync = new TableSync(partialNs);
  await sync.apply(tbl('10.0.0.0/8', [[jump('b')]], [blocked]));
  // 10.1.0.0/16 overlaps 10.0.0.0/8, and b → a next to a → b is a loop.
  const next = tbl('10.1.0.0/16', [blocked], [[jump('a')]]);
  assert.equal((await sync.apply(next)).kind, 'partial');
  await applyFull(fullNs, next);
  assert.equal(normalize(await partialNs.list(WEFT)), normalize(await fullNs.list(WEFT)));
});

test('a transaction the kernel refuses changes nothing, and the next sync is full', async (t) => {
  const sb = Sandbox.create(t);
  const nft = new RealNft({ netns: await sb.netns('nft') });
  const sync = new TableSync(nft, false); // no validation: let the kernel see the mistake
  await sync.apply(fixed('a'));
  const before = await nft.list(WEFT);
  const a = fixed('a');
  const broken = table(
    [...a.sets.values()].map((s) => ({ ...s, elements: [...s.elements, '10.244.9.0/24'] })),
    [...a.maps.values()],
    [
      ...[...a.chains.values()].filter((c) => c.name !== 'forward'),
      {
        name: 'forward',
        comment: 'entry',
        base: FORWARD,
        rules: rules([vmap('dispatch')], [lookup(['ip saddr'], 'missing'), drop]),
      },
    ],
  );
  await assert.rejects(sync.apply(broken), (e: unknown) => {
    assert.ok(e instanceof NftError, String(e));
    assert.match(
      e.message,
      /at line \d+: add rule inet weft forward ip saddr @missing drop comment "r1"$/,
    );
    return true;
  });
  assert.equal(
    await nft.list(WEFT),
    before,
    'the element added before the bad rule is not there either',
  );
  const retry = await sync.apply(fixed('b'));
  assert.equal(retry.kind, 'full');
  assert.doesNotMatch(await nft.list(WEFT), /ep_a/);
});

test('a full transaction replaces our table and leaves other tables alone', async (t) => {
  const sb = Sandbox.create(t);
  const ns = await sb.netns('node');
  const nft = new RealNft({ netns: ns });
  const other = [
    'table inet other {',
    '\tset admins { type ipv4_addr; elements = { 192.0.2.1 }; }',
    '\tchain keep { tcp dport 22 ip saddr @admins accept; }',
    '\tchain input { type filter hook input priority 0; policy accept; jump keep; }',
    '}',
    '',
  ].join('\n');
  await sb.exec(ns, 'nft', ['-f', '-'], other);
  const listOther = () => sb.exec(ns, 'nft', ['list', 'table', 'inet', 'other']);
  const otherBefore = await listOther();

  await applyFull(nft, fixed('a'));
  // A restarted agent: a new TableSync, whose first apply replaces what the old one left.
  const sync = new TableSync(nft);
  assert.equal((await sync.apply(fixed('b'))).kind, 'full');

  const fresh = new RealNft({ netns: await sb.netns('fresh') });
  await applyFull(fresh, fixed('b'));
  assert.equal(
    normalize(await nft.list(WEFT)),
    normalize(await fresh.list(WEFT)),
    'nothing of table a is left',
  );
  assert.equal(await listOther(), otherBefore, 'table inet other is untouched');
});

test('what the validator refuses, the kernel refuses', async (t) => {
  const sb = Sandbox.create(t);
  const nft = new RealNft({ netns: await sb.netns('nft') });
  const set = (
    name: string,
    type: NftDatatype[],
    interval: boolean,
    elements: string[],
  ): NftSet => ({
    name,
    type,
    interval,
    comment: '',
    elements,
  });
  const chain = (name: string, exprs: NftExpr[][], base?: NftChain['base']): NftChain => ({
    name,
    comment: '',
    rules: exprs.map((e) => ({ exprs: e, comment: '' })),
    ...(base ? { base } : {}),
  });
  const ladder = (n: number) => [
    chain('forward', [[jump('c1')]], FORWARD),
    ...Array.from({ length: n }, (_, i) =>
      chain(`c${i + 1}`, i + 1 < n ? [[jump(`c${i + 2}`)]] : [[accept]]),
    ),
  ];
  const bad: [string, NftTable][] = [
    ['jump to a missing chain', table([], [], [chain('a', [[jump('b')]])])],
    [
      'jump to a base chain',
      table([], [], [chain('a', [[jump('forward')]]), chain('forward', [], FORWARD)]),
    ],
    ['unknown @set', table([], [], [chain('a', [[lookup(['ip saddr'], 'nope'), accept]])])],
    [
      'set of the wrong key type',
      table(
        [set('s', ['ipv6_addr'], false, [])],
        [],
        [chain('a', [[lookup(['ip saddr'], 's'), accept]])],
      ),
    ],
    [
      'a literal of the wrong type',
      table([], [], [chain('a', [[cmp(['ct state'], 'establishd'), accept]])]),
    ],
    ['bad arity', table([set('s', ['ipv4_addr', 'inet_service'], false, ['10.0.0.1'])], [], [])],
    ['prefix without interval', table([set('s', ['ipv4_addr'], false, ['10.0.0.0/8'])], [], [])],
    [
      'overlapping intervals',
      table([set('s', ['ipv4_addr'], true, ['10.0.0.0/8', '10.1.0.0/16'])], [], []),
    ],
    [
      'duplicate map key',
      table(
        [],
        [
          {
            name: 'm',
            key: ['ipv4_addr'],
            comment: '',
            elements: [
              { key: '10.0.0.1', value: { kind: 'accept' } },
              { key: '10.0.0.1', value: { kind: 'drop' } },
            ],
          },
        ],
        [],
      ),
    ],
    ['keyword name', table([set('fwd', ['ipv4_addr'], false, [])], [], [])],
    [
      'jump loop',
      table(
        [],
        [],
        [
          chain('a', [[jump('b')]]),
          chain('b', [[jump('a')]]),
          chain('forward', [[jump('a')]], FORWARD),
        ],
      ),
    ],
    ['jumps too deep', table([], [], ladder(16))],
  ];
  for (const [what, tbl] of bad) {
    assert.notDeepEqual(validateTable(tbl), [], `${what}: validator`);
    await assert.rejects(nft.applyScript(fullTransaction(tbl)), NftError, `${what}: kernel`);
    assert.equal(await nft.list(WEFT), '', `${what}: nothing applied`);
  }
  for (const [what, tbl] of [
    ['fixed', fixed('a')],
    ['deep but allowed', table([], [], ladder(15))],
    ['empty', table([], [], [])],
  ] as const) {
    assert.deepEqual(validateTable(tbl), [], `${what}: validator`);
    await applyFull(nft, tbl);
  }
});
