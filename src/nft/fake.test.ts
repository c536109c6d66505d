// The fake against what nft 1.0.6 on Linux 6.x answered to the same
// scripts (each case below was run with `nft -f -` in a scratch network
// namespace; test/integration/nft-fake.test.ts keeps comparing the two).
import test from 'node:test';
import assert from 'node:assert/strict';
import { accept, cmp, jump, lookup, rule } from './build.js';
import { FakeNft } from './fake.js';
import type {
  NftBaseHook,
  NftChain,
  NftExpr,
  NftMapElement,
  NftOp,
  NftTable,
  NftTableId,
} from './model.js';
import { NftError } from './runner.js';
import { transactionText } from './text.js';
import { fullTransaction } from './transactions.js';

const W: NftTableId = { family: 'inet', name: 'w' };
const FORWARD: NftBaseHook = {
  type: 'filter',
  hook: 'forward',
  priority: 'filter',
  policy: 'accept',
};
const chain = (name: string, exprs: NftExpr[][], base?: NftBaseHook): NftChain => ({
  name,
  comment: `chain ${name}`,
  rules: exprs.map((e, i) => rule(e, `${name} ${i}`)),
  ...(base ? { base } : {}),
});
const vmap = (map: string): NftExpr => ({ kind: 'vmap', left: ['ip daddr'], map });
const toA: NftMapElement = { key: '10.0.0.1', value: { kind: 'jump', chain: 'a' } };

/** counter c1; sets s (interval) and h; map m; chains a, b, c and the base chain forward. */
const BASE: NftTable = {
  ...W,
  counters: new Map([['c1', { name: 'c1', comment: 'x' }]]),
  sets: new Map([
    [
      's',
      { name: 's', type: ['ipv4_addr'], interval: true, comment: 's', elements: ['10.0.0.0/24'] },
    ],
    [
      'h',
      { name: 'h', type: ['ipv4_addr'], interval: false, comment: 'h', elements: ['10.0.0.1'] },
    ],
  ]),
  maps: new Map([
    [
      'm',
      {
        name: 'm',
        key: ['ipv4_addr'],
        comment: 'm',
        elements: [toA, { key: '10.0.0.2', value: { kind: 'accept' } }],
      },
    ],
  ]),
  chains: new Map(
    [
      chain('a', []),
      chain('b', [[lookup(['ip saddr'], 'h'), accept], [{ kind: 'counter', name: 'c1' }]]),
      chain('c', []),
      chain('forward', [[vmap('m')], [jump('b')]], FORWARD),
    ].map((c) => [c.name, c]),
  ),
};

async function base(): Promise<FakeNft> {
  const fake = new FakeNft();
  const tx = fullTransaction(BASE);
  await fake.apply(tx, transactionText(tx));
  return fake;
}

const apply = (fake: FakeNft, ops: NftOp[]) => {
  const tx = { table: W, ops };
  return fake.apply(tx, transactionText(tx));
};
const addRule = (chainName: string, ...exprs: NftExpr[]): NftOp => ({
  op: 'add',
  kind: 'rule',
  chain: chainName,
  rule: rule(exprs, ''),
});
const addChain = (name: string, base?: NftBaseHook, comment = ''): NftOp => ({
  op: 'add',
  kind: 'chain',
  chain: { name, comment, ...(base ? { base } : {}) },
});
const add = (set: string, ...elements: string[]): NftOp => ({
  op: 'add',
  kind: 'elements',
  set,
  elements,
});
const addTo = (map: string, ...elements: NftMapElement[]): NftOp => ({
  op: 'add',
  kind: 'elements',
  set: map,
  elements,
});
const del = (set: string, ...elements: string[]): NftOp => ({
  op: 'delete',
  kind: 'elements',
  set,
  elements,
});
const remove = (kind: 'chain' | 'set' | 'map' | 'counter', name: string): NftOp => ({
  op: 'delete',
  kind,
  name,
});
const flush = (name: string): NftOp => ({ op: 'flush', kind: 'chain', name });

/** Applies `ops` to BASE: refused with `refusal` (and nothing changed), or applied. */
async function expectOps(what: string, ops: NftOp[], refusal?: RegExp): Promise<FakeNft> {
  const fake = await base();
  const before = await fake.list(W);
  if (refusal === undefined) {
    await apply(fake, ops);
    return fake;
  }
  await assert.rejects(apply(fake, ops), (e: unknown) => {
    assert.ok(e instanceof NftError, `${what}: ${String(e)}`);
    assert.match(e.message, refusal, what);
    return true;
  });
  assert.equal(await fake.list(W), before, `${what}: nothing changed`);
  return fake;
}

test('what the kernel refuses as missing', async () => {
  const cases: [string, NftOp[]][] = [
    ['a rule in a missing chain', [addRule('nope', accept)]],
    ['a jump to a missing chain', [addRule('a', jump('nope'))]],
    [
      'a map element to a missing chain',
      [addTo('m', { key: '10.0.0.3', value: { kind: 'jump', chain: 'nope' } })],
    ],
    ['a lookup of a missing set', [addRule('a', lookup(['ip saddr'], 'nope'), accept)]],
    ['a verdict map that is missing', [addRule('a', vmap('nope'))]],
    ['a missing counter', [addRule('a', { kind: 'counter', name: 'nope' })]],
    ['deleting a missing chain', [remove('chain', 'nope')]],
    ['deleting a missing set', [remove('set', 'nope')]],
    ['deleting a missing map', [remove('map', 'nope')]],
    ['deleting a missing counter', [remove('counter', 'nope')]],
    ['deleting a missing element', [del('h', '10.0.0.9')]],
    ['deleting a missing map key', [del('m', '10.0.0.9')]],
    ['deleting part of an interval', [del('s', '10.0.0.0/25')]],
    ['flushing a missing chain', [flush('nope')]],
    ['jumping to a chain before it exists', [addRule('a', jump('later')), addChain('later')]],
  ];
  for (const [what, ops] of cases) await expectOps(what, ops, /No such file or directory/);
  const fresh = new FakeNft();
  await assert.rejects(
    apply(fresh, [addChain('x')]),
    /No such file or directory \(no table inet w\)/,
  );
  await assert.rejects(
    apply(fresh, [{ op: 'delete', kind: 'table' }]),
    /No such file or directory/,
  );
  await expectOps(
    'a table used after its deletion',
    [{ op: 'delete', kind: 'table' }, addChain('q')],
    /No such file/,
  );
});

test('what the kernel refuses as existing, unsupported or busy', async () => {
  const set = (name: string, type: 'ipv4_addr' | 'ipv6_addr', interval: boolean): NftOp => ({
    op: 'add',
    kind: 'set',
    set: { name, type: [type], interval, comment: name },
  });
  const map = (name: string, type: 'ipv4_addr' | 'ipv6_addr'): NftOp => ({
    op: 'add',
    kind: 'map',
    map: { name, key: [type], comment: name },
  });
  const cases: [string, NftOp[], RegExp][] = [
    [
      'a map key there with another verdict',
      [addTo('m', { key: '10.0.0.2', value: { kind: 'drop' } })],
      /File exists/,
    ],
    [
      'one key twice with two verdicts',
      [
        addTo(
          'm',
          { key: '10.0.0.7', value: { kind: 'accept' } },
          { key: '10.0.0.7', value: { kind: 'drop' } },
        ),
      ],
      /File exists/,
    ],
    ['a set declared again with another type', [set('h', 'ipv6_addr', false)], /File exists/],
    ['a set declared again with flags interval', [set('h', 'ipv4_addr', true)], /File exists/],
    ['a set declared again without flags interval', [set('s', 'ipv4_addr', false)], /File exists/],
    ['a map under the name of a set', [map('h', 'ipv4_addr')], /File exists/],
    ['a set under the name of a map', [set('m', 'ipv4_addr', false)], /File exists/],
    ['a map declared again with another key', [map('m', 'ipv6_addr')], /File exists/],
    [
      'a base chain declared again with another type',
      [addChain('forward', { ...FORWARD, type: 'route' })],
      /File exists/,
    ],
    ['a jump to a base chain', [addRule('a', jump('forward'))], /Operation not supported/],
    [
      'a goto to a base chain',
      [addRule('a', { kind: 'verdict', verdict: { kind: 'goto', chain: 'forward' } })],
      /Operation not supported/,
    ],
    [
      'a map element to a base chain',
      [addTo('m', { key: '10.0.0.3', value: { kind: 'jump', chain: 'forward' } })],
      /Operation not supported/,
    ],
    [
      'a regular chain made a base chain',
      [addChain('a', { ...FORWARD, hook: 'input' })],
      /Operation not supported/,
    ],
    [
      'a base chain at another priority',
      [addChain('forward', { ...FORWARD, priority: '10' })],
      /Operation not supported/,
    ],
    [
      'a base chain on another hook',
      [addChain('forward', { ...FORWARD, hook: 'input' })],
      /Operation not supported/,
    ],
    [
      'a nat chain on forward',
      [addChain('n', { ...FORWARD, type: 'nat' })],
      /Operation not supported/,
    ],
    [
      'a route chain on input',
      [addChain('r', { ...FORWARD, type: 'route', hook: 'input' })],
      /Operation not supported/,
    ],
    ['deleting a chain a rule jumps to', [remove('chain', 'b')], /Device or resource busy/],
    ['deleting a chain a map element jumps to', [remove('chain', 'a')], /Device or resource busy/],
    [
      'deleting a chain that jumps to itself',
      [addRule('c', jump('c')), remove('chain', 'c')],
      /Device or resource busy/,
    ],
    ['deleting a set a rule looks up', [remove('set', 'h')], /Device or resource busy/],
    ['deleting a map a rule dispatches by', [remove('map', 'm')], /Device or resource busy/],
    ['deleting a counter a rule adds to', [remove('counter', 'c1')], /Device or resource busy/],
  ];
  for (const [what, ops, refusal] of cases) await expectOps(what, ops, refusal);
});

test("what nft's parser refuses", async () => {
  const cases: [string, NftOp[], RegExp][] = [
    [
      'a lookup of a set of another type',
      [addRule('a', lookup(['ip6 saddr'], 'h'), accept)],
      /datatype mismatch/,
    ],
    [
      'a verdict map of another key',
      [addRule('a', { kind: 'vmap', left: ['ip6 saddr'], map: 'm' })],
      /datatype mismatch/,
    ],
    ['a verdict map that is a set', [addRule('a', vmap('h'))], /Expression is not a map/],
    ['an element of another type', [add('h', 'fd00::1')], /not an IPv4 address/],
    ['an element of another arity', [add('h', '10.0.0.5 . tcp')], /has 2 parts; type has 1/],
    ['a prefix without flags interval', [add('h', '10.1.0.0/16')], /needs flags interval/],
    ['a range without flags interval', [add('h', '10.1.0.0-10.1.0.5')], /needs flags interval/],
    ['a /32 without flags interval', [add('h', '10.1.0.9/32')], /needs flags interval/],
    [
      'an interval overlapping one there',
      [add('s', '10.0.0.128/25')],
      /interval overlaps with an existing one/,
    ],
    [
      'two overlapping intervals at once',
      [add('s', '10.5.0.0/16', '10.5.1.0/24')],
      /conflicting intervals specified/,
    ],
    ['a keyword as a name', [addChain('fwd')], /syntax error: chain name fwd is an nft keyword/],
    [
      'a literal of another type',
      [addRule('a', cmp(['ct state'], 'establishd'), accept)],
      /establishd is not a ct_state/,
    ],
    [
      'a limit with burst 0',
      [addRule('a', { kind: 'limit', rate: 5, per: 'second', burst: 0 })],
      /burst 0/,
    ],
  ];
  for (const [what, ops, refusal] of cases) await expectOps(what, ops, refusal);
});

test('what nft takes as it is', async () => {
  const fake = await expectOps('things that exist already, or equal ones', [
    { op: 'add', kind: 'table' },
    add('h', '10.0.0.1', '10.0.0.7', '10.0.0.7'),
    add('s', '10.0.0.0/24', '10.0.0.0-10.0.0.255', '10.0.1.0/24'),
    addTo('m', { key: '10.0.0.2', value: { kind: 'accept' } }, toA),
    { op: 'add', kind: 'counter', counter: { name: 'c1', comment: 'other' } },
    {
      op: 'add',
      kind: 'set',
      set: { name: 'h', type: ['ipv4_addr'], interval: false, comment: 'other' },
    },
    addChain('a', undefined, 'other'),
    addChain('forward'),
    addChain('forward', { ...FORWARD, priority: '0', policy: 'drop' }, 'other'),
    addChain('twin', FORWARD),
    addChain('h'),
  ]);
  const t = fake.dump(W);
  assert.deepEqual(t?.sets.get('h')?.elements, ['10.0.0.1', '10.0.0.7']);
  assert.equal(t?.sets.get('h')?.comment, 'h', 'the old comment stays');
  assert.deepEqual(t?.sets.get('s')?.elements, ['10.0.0.0/24', '10.0.1.0/24']);
  assert.equal(t?.counters?.get('c1')?.comment, 'x');
  assert.equal(t?.chains.get('a')?.comment, 'chain a');
  assert.deepEqual(
    t?.chains.get('forward')?.base,
    { ...FORWARD, policy: 'drop' },
    'a new policy replaces the old',
  );
  assert.ok(
    t?.chains.has('twin') && t.chains.has('h'),
    'two base chains on one hook; a chain named like a set',
  );

  const deleted = await expectOps(
    'deleting by an equal range, a map by its key, a table with everything in it',
    [del('s', '10.0.0.0-10.0.0.255'), del('m', '10.0.0.2')],
  );
  assert.deepEqual(deleted.dump(W)?.sets.get('s')?.elements, []);
  await expectOps('deleting a table with everything in it', [{ op: 'delete', kind: 'table' }]);
  await expectOps('deleting what nothing refers to any more', [
    flush('forward'),
    remove('chain', 'b'),
    remove('counter', 'c1'),
    remove('set', 'h'),
    remove('set', 'm'),
    remove('chain', 'a'),
  ]);
});

test('jump loops and depth are checked on what the transaction leaves, among chains a base chain reaches', async () => {
  const ladder = (n: number): NftOp[] => [
    ...Array.from({ length: n }, (_, i) => addChain(`d${i + 1}`)),
    ...Array.from({ length: n - 1 }, (_, i) => addRule(`d${i + 1}`, jump(`d${i + 2}`))),
  ];
  await expectOps('a chain jumping to itself that no base chain reaches', [
    addRule('c', jump('c')),
  ]);
  await expectOps('a loop no base chain reaches', [
    addChain('x'),
    addRule('x', jump('c')),
    addRule('c', jump('x')),
  ]);
  await expectOps(
    'a loop a base chain reaches (a through map m)',
    [addRule('a', jump('c')), addRule('c', jump('a'))],
    /Too many links/,
  );
  await expectOps('a loop through a verdict map', [addRule('a', vmap('m'))], /Too many links/);
  await expectOps('a loop that exists only midway', [
    addRule('a', jump('c')),
    addRule('c', jump('a')),
    flush('c'),
  ]);
  await expectOps(
    'forward → d2 … d17: 16 jumps',
    [...ladder(17), addRule('forward', jump('d2'))],
    /Too many links/,
  );
  await expectOps('forward → d3 … d17: 15 jumps', [...ladder(17), addRule('forward', jump('d3'))]);
  await expectOps('16 jumps, then one flushed', [
    ...ladder(17),
    addRule('forward', jump('d2')),
    flush('d16'),
  ]);
  await expectOps(
    'forward → m → a → d3 … d17: 16',
    [...ladder(17), addRule('a', jump('d3'))],
    /Too many links/,
  );
});

test("a refusal is nft's error: the message, the line of the script it came from", async () => {
  const fake = await base();
  const ops = [add('h', '10.0.0.8'), addRule('a', lookup(['ip saddr'], 'missing'), accept)];
  const script = transactionText({ table: W, ops });
  await assert.rejects(fake.apply({ table: W, ops }, script), (e: unknown) => {
    assert.ok(e instanceof NftError);
    assert.equal(e.location?.line, 2);
    assert.equal(e.location?.text, 'add rule inet w a ip saddr @missing accept');
    assert.match(
      e.message,
      /^nft -f - failed \(exit 1\): Could not process rule: No such file or directory \(no set missing\) at line 2: add rule/,
    );
    return true;
  });
  assert.deepEqual(
    fake.dump(W)?.sets.get('h')?.elements,
    ['10.0.0.1'],
    'the element before it is not there',
  );
  assert.equal(fake.scripts.at(-1), script, 'the script given is kept');
  await assert.rejects(
    fake.apply({ table: W, ops }, 'flush ruleset\n'),
    /the script is not transactionText/,
  );
});

test('list is tableText of the table the transactions made; dump gives it as data', async () => {
  const fake = new FakeNft();
  assert.equal(await fake.list(W), '');
  const tx = fullTransaction(BASE);
  await fake.apply(tx, transactionText(tx));
  assert.deepEqual(fake.dump(W), { ...BASE, counters: BASE.counters });
  await apply(fake, [add('h', '10.0.0.10', '10.0.0.9')]);
  assert.deepEqual(fake.dump(W)?.sets.get('h')?.elements, ['10.0.0.1', '10.0.0.10', '10.0.0.9']);
  assert.match(
    await fake.list(W),
    /^\t\telements = \{ 10\.0\.0\.1, 10\.0\.0\.10, 10\.0\.0\.9 \}$/m,
  );
});
