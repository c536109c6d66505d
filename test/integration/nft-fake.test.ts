// The kernel proves the fake: the same transactions, one after another, go
// to nft in a fresh network namespace and to the strict in-memory fake (full
// and partial ones between random tables, partial ones computed against a
// stale table, and changes meant to break something), and the two must take
// or refuse each alike and then list the same table.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { accept, jump, lookup, rule } from '../../src/nft/build.js';
import { FakeNft } from '../../src/nft/fake.js';
import type { NftBaseHook, NftOp, NftSet, NftTable, NftTransaction } from '../../src/nft/model.js';
import { RealNft } from '../../src/nft/runner.js';
import { transactionText } from '../../src/nft/text.js';
import { fullTransaction, partialTransaction } from '../../src/nft/transactions.js';
import { build, emptyState, mutate, WEFT } from '../../src/testing/nft-tables.js';
import { randomCluster, Rng } from '../../src/testing/random-cluster.js';
import { clusterFrom } from '../../src/testing/policy.js';
import { compilePolicies } from '../../src/core/policy/compile.js';
import { podKey } from '../../src/core/model/types.js';
import { renderTable } from '../../src/components/policy/render.js';
import { errno, normalize, outcome } from '../support/nft-listing.js';
import { Sandbox } from '../support/sandbox.js';

type Breaker = (t: NftTable, r: Rng) => NftOp[] | undefined;

const pick = <T>(r: Rng, list: readonly T[]): T | undefined =>
  list.length === 0 ? undefined : r.pick(list);
/** `f(x)`, or undefined without an `x`. */
const given = <T>(x: T | undefined, f: (x: T) => NftOp[] | undefined): NftOp[] | undefined =>
  x === undefined ? undefined : f(x);
const FORWARD_HOOK: NftBaseHook = {
  type: 'filter',
  hook: 'forward',
  priority: 'filter',
  policy: 'accept',
};
/** Chains deep_0 … deep_(n-1), each jumping to the next, and forward to the first: n jumps deep. */
function ladder(n: number): NftOp[] {
  const name = (i: number) => `deep_${i}`;
  return [
    ...Array.from({ length: n }, (_, i): NftOp => ({
      op: 'add',
      kind: 'chain',
      chain: { name: name(i), comment: '' },
    })),
    ...Array.from({ length: n - 1 }, (_, i): NftOp => ({
      op: 'add',
      kind: 'rule',
      chain: name(i),
      rule: rule([jump(name(i + 1))], 'deeper'),
    })),
    { op: 'add', kind: 'rule', chain: 'forward', rule: rule([jump(name(0))], 'down') },
  ];
}
const regular = (t: NftTable) => [...t.chains.values()].filter((c) => !c.base).map((c) => c.name);

/**
 * Changes against the table as it stands, many of which the kernel refuses:
 * each names what it tries. What they do is the kernel's to say.
 */
const BREAKERS: Record<string, Breaker> = {
  'delete an element that is not there': (t, r) => {
    const s = pick(
      r,
      [...t.sets.values()].filter((x) => x.type.length === 1),
    );
    const gone = s?.type[0] === 'ipv6_addr' ? 'fd0f::1' : '192.0.2.77';
    return s && [{ op: 'delete', kind: 'elements', set: s.name, elements: [gone] }];
  },
  'add elements that are there': (t, r) => {
    const s = pick(
      r,
      [...t.sets.values()].filter((x) => x.elements.length > 0),
    );
    return s && [{ op: 'add', kind: 'elements', set: s.name, elements: s.elements.slice(0, 2) }];
  },
  'add a map key with another verdict, or the same': (t, r) => {
    const e = pick(r, t.maps.get('dispatch')?.elements ?? []);
    const value = r.chance(0.5) ? e?.value : { kind: 'drop' as const };
    return (
      e &&
      value && [{ op: 'add', kind: 'elements', set: 'dispatch', elements: [{ key: e.key, value }] }]
    );
  },
  'jump to a missing chain': () => [
    { op: 'add', kind: 'rule', chain: 'forward', rule: rule([jump('nowhere')], 'x') },
  ],
  'jump to a base chain': (t, r) =>
    given(pick(r, regular(t)), (c) => [
      { op: 'add', kind: 'rule', chain: c, rule: rule([jump('input')], 'x') },
    ]),
  'look up a missing set': () => [
    {
      op: 'add',
      kind: 'rule',
      chain: 'input',
      rule: rule([lookup(['ip saddr'], 'nope'), accept], 'x'),
    },
  ],
  'delete a chain, used or not': (t, r) =>
    given(pick(r, regular(t)), (c) => [{ op: 'delete', kind: 'chain', name: c }]),
  'delete a set, used or not': (t, r) =>
    given(pick(r, [...t.sets.keys()]), (name) => [{ op: 'delete', kind: 'set', name }]),
  'declare a set again with another type, or another comment': (t, r) => {
    const s = pick(r, [...t.sets.values()]);
    if (!s) return undefined;
    const decl = { name: s.name, type: s.type, interval: s.interval, comment: s.comment };
    const other = r.chance(0.5)
      ? { ...decl, comment: 'another comment' }
      : {
          ...decl,
          type: s.type[0] === 'ipv4_addr' ? (['ipv6_addr'] as const) : (['ipv4_addr'] as const),
        };
    return [{ op: 'add', kind: 'set', set: other }];
  },
  'declare forward again at another priority, or with another policy': (_, r) => [
    {
      op: 'add',
      kind: 'chain',
      chain: {
        name: 'forward',
        comment: 'weft forward',
        base: r.chance(0.5)
          ? { ...FORWARD_HOOK, priority: '10' }
          : { ...FORWARD_HOOK, policy: 'drop' },
      },
    },
  ],
  'make a loop between two chains': (t, r) =>
    given(pick(r, regular(t)), (a) =>
      given(pick(r, regular(t)), (b) => [
        { op: 'add', kind: 'rule', chain: a, rule: rule([jump(b)], 'there') },
        { op: 'add', kind: 'rule', chain: b, rule: rule([jump(a)], 'back') },
      ]),
    ),
  'add an interval that overlaps one there': (t, r) => {
    const prefix = (x: NftSet) => x.elements.find((e) => e.endsWith('.0/24'));
    const s = pick(
      r,
      [...t.sets.values()].filter((x) => x.interval && prefix(x)),
    );
    const e = s && prefix(s);
    return given(e, (cidr) => [
      {
        op: 'add',
        kind: 'elements',
        set: s?.name ?? '',
        elements: [cidr.replace('.0/24', '.128/25')],
      },
    ]);
  },
  'add an element of another arity': (t, r) => {
    const s = pick(r, [...t.sets.values()]);
    return s && [{ op: 'add', kind: 'elements', set: s.name, elements: ['10.9.9.9 . tcp'] }];
  },
  'count in a counter, then delete it': () => [
    { op: 'add', kind: 'counter', counter: { name: 'probe', comment: 'probe' } },
    {
      op: 'add',
      kind: 'rule',
      chain: 'input',
      rule: rule([{ kind: 'counter', name: 'probe' }], 'count'),
    },
    { op: 'delete', kind: 'counter', name: 'probe' },
  ],
  'make a loop that is gone by the end': (t, r) =>
    given(pick(r, regular(t)), (a) =>
      given(pick(r, regular(t)), (b) => [
        { op: 'add', kind: 'rule', chain: a, rule: rule([jump(b)], 'there') },
        { op: 'add', kind: 'rule', chain: b, rule: rule([jump(a)], 'back') },
        { op: 'flush', kind: 'chain', name: b },
      ]),
    ),
  'nest 15 jumps deep': () => ladder(15),
  'nest 16 jumps deep': () => ladder(16),
  'flush a missing chain': () => [{ op: 'flush', kind: 'chain', name: 'gone' }],
  'delete the table': () => [{ op: 'delete', kind: 'table' }],
};

/** A kernel (nft in a network namespace) and a fake, given the same transactions. */
class Twins {
  /** Applied and refused transactions, by what they try. */
  readonly tally = new Map<string, { applied: number; refused: number }>();

  constructor(
    readonly kernel: RealNft,
    readonly fake: FakeNft,
  ) {}

  /** Applies `tx` to both: they must take or refuse it alike and then list the same table. */
  async apply(what: string, tx: NftTransaction, where: string): Promise<void> {
    const script = transactionText(tx);
    const byKernel = await outcome(() => this.kernel.apply(tx, script));
    const byFake = await outcome(() => this.fake.apply(tx, script));
    const context = `${where}: ${what}\n${script.slice(0, 2000)}\nkernel: ${byKernel}\nfake: ${byFake}`;
    assert.equal(byFake.split(':')[0], byKernel.split(':')[0], context);
    if (errno(byKernel) !== undefined && errno(byFake) !== undefined)
      assert.equal(errno(byFake), errno(byKernel), context);
    const [k, f] = [normalize(await this.kernel.list(WEFT)), normalize(await this.fake.list(WEFT))];
    assert.equal(f, k, `${context}\nthe fake's table differs from the kernel's`);
    const count = this.tally.get(what) ?? { applied: 0, refused: 0 };
    count[byKernel === 'applied' ? 'applied' : 'refused']++;
    this.tally.set(what, count);
  }

  /** The next table as a sync sends it: a partial transaction from what the fake holds, else a full one. */
  async sync(next: NftTable, where: string, full = false): Promise<void> {
    const held = this.fake.dump(WEFT);
    const partial = held && !full ? partialTransaction(held, next) : undefined;
    await this.apply(partial ? 'partial' : 'full', partial ?? fullTransaction(next), where);
  }

  count(outcome: 'applied' | 'refused'): number {
    return [...this.tally.values()].reduce((n, c) => n + c[outcome], 0);
  }
}

async function twins(t: TestContext): Promise<Twins> {
  const sb = Sandbox.create(t);
  return new Twins(new RealNft({ netns: await sb.netns('kernel') }), new FakeNft());
}

test('nft and the fake take or refuse the same transactions and list the same table', async (t) => {
  const both = await twins(t);
  const seed = 20240613;
  const r = new Rng(seed);
  const s = emptyState();
  let stale: NftTable | undefined;
  const breakers = Object.entries(BREAKERS);
  for (let step = 0; step < 120; step++) {
    const where = `seed ${seed} step ${step}`;
    for (let i = step === 0 ? 20 : r.int(3) + 1; i > 0; i--) mutate(r, s);
    const held = both.fake.dump(WEFT);
    await both.sync(build(s), where, r.chance(0.1));
    const late = stale && r.chance(0.3) ? partialTransaction(stale, build(s)) : undefined;
    if (late) await both.apply('partial against a stale table', late, where);
    stale = held;
    if (step % 2 === 1) continue;
    const now = both.fake.dump(WEFT);
    // Each breaker in turn, so each is tried several times.
    const [what, breaker] = breakers[(step / 2) % breakers.length] as [string, Breaker];
    const ops = now && breaker(now, r);
    if (ops) await both.apply(what, { table: WEFT, ops }, where);
  }
  const [applied, refused] = [both.count('applied'), both.count('refused')];
  assert.ok(
    refused >= 30 && applied >= 120,
    `applied ${applied}, refused ${refused}: ${JSON.stringify([...both.tally])}`,
  );
});

test("weft's policy tables, full and partial, are taken and listed alike", async (t) => {
  const both = await twins(t);
  for (let step = 0; step < 16; step++) {
    // Clusters of two seeds, each growing a policy every other step; this node hosts every other pod.
    const seed = 1 + (step >> 3);
    const cluster = clusterFrom(
      randomCluster({ seed, pods: 8, policies: 1 + ((step >> 1) % 4), clusterPolicies: 2 }),
    );
    const local = new Set(cluster.pods.filter((_, i) => i % 2 === step % 2).map(podKey));
    const logDrops = seed % 2 === 1 ? { logDrops: { group: 3, ratePerSecond: 10 } } : {};
    const table = renderTable(compilePolicies(cluster), local, 100 + step, logDrops);
    await both.sync(table, `seed ${seed} step ${step}`);
  }
  assert.equal(both.count('refused'), 0);
  assert.ok((both.tally.get('partial')?.applied ?? 0) >= 8, JSON.stringify([...both.tally]));
});
