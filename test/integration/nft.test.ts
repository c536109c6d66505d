// weft's nftables table on a real kernel, each test in fresh network
// namespaces (never the root one): a full transaction replaces the table
// atomically and leaves other tables alone; a partial transaction gives
// exactly what a full one gives; a refused transaction changes nothing; and
// what the validator refuses, the kernel refuses too.
import test from 'node:test';
import assert from 'node:assert/strict';
import { accept, cmp, drop, jump, lookup } from '../../src/nft/build.js';
import type { NftChain, NftDatatype, NftExpr, NftSet, NftTable } from '../../src/nft/model.js';
import { NftError, RealNft } from '../../src/nft/runner.js';
import { TableSync } from '../../src/nft/sync.js';
import { transactionText } from '../../src/nft/text.js';
import { fullTransaction as fullTx } from '../../src/nft/transactions.js';
import { validateTable } from '../../src/nft/validate.js';
import {
  build,
  emptyState,
  FORWARD,
  mutate,
  rules,
  table,
  vmap,
  WEFT,
} from '../../src/testing/nft-tables.js';
import { Rng } from '../../src/testing/random-cluster.js';
import { normalize } from '../support/nft-listing.js';
import { Sandbox } from '../support/sandbox.js';

// ---- building tables -----------------------------------------------------------

/** The table, replacing whatever was there, as one script. */
const fullTransaction = (t: NftTable) => transactionText(fullTx(t));
/** Applies a full transaction with `nft`. */
const applyFull = (nft: RealNft, t: NftTable) => nft.applyScript(fullTransaction(t));

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
  const s = emptyState();
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
