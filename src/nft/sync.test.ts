import test from 'node:test';
import assert from 'node:assert/strict';
import type { NftChain, NftSet, NftTable, NftTransaction } from './model.js';
import { accept, cmp, jump } from './build.js';
import { FakeNft } from './fake.js';
import { NftError } from './runner.js';
import { TableSync } from './sync.js';
import { tableText, transactionText } from './text.js';
import { fullTransaction, partialTransaction } from './transactions.js';
import { NftValidationError } from './validate.js';
import { build, emptyState, mutate } from '../testing/nft-tables.js';
import { Rng } from '../testing/random-cluster.js';

/** The strict fake, checking that applies never overlap. */
class CheckedFake extends FakeNft {
  private running = false;

  override async apply(tx: NftTransaction, script: string): Promise<void> {
    assert.ok(!this.running, 'two applies overlapped');
    this.running = true;
    await new Promise((r) => setTimeout(r, 2));
    this.running = false;
    return super.apply(tx, script);
  }
}

const WEFT = { family: 'inet', name: 'weft' } as const;
/** The kernel's table is `t`, exactly. */
async function holds(fake: FakeNft, t: NftTable): Promise<void> {
  assert.equal(await fake.list(WEFT), tableText(t));
}
/** The partial transaction from `prev` to `next` (the sync just sent it). */
function partialOf(prev: NftTable, next: NftTable): NftTransaction {
  const tx = partialTransaction(prev, next);
  assert.ok(tx, 'a partial transaction exists');
  return tx;
}
/** Someone else changes the table behind the sync's back. */
async function tamper(fake: FakeNft, tx: NftTransaction): Promise<void> {
  await fake.apply(tx, transactionText(tx));
}

function table(sets: NftSet[], chains: NftChain[] = []): NftTable {
  return {
    family: 'inet',
    name: 'weft',
    sets: new Map(sets.map((s) => [s.name, s])),
    maps: new Map(),
    chains: new Map(chains.map((c) => [c.name, c])),
  };
}

const pods = (...elements: string[]): NftSet => ({
  name: 'pods',
  type: ['ipv4_addr'],
  interval: false,
  comment: 'pods',
  elements,
});
const isFull = (s: string | undefined) =>
  s?.startsWith('add table inet weft\ndelete table inet weft\n');

test('the first apply is full, the next ones partial, an unchanged table a noop', async () => {
  const runner = new CheckedFake();
  const sync = new TableSync(runner);
  const first = await sync.apply(table([pods('10.0.0.1')]));
  assert.equal(first.kind, 'full');
  assert.ok(isFull(runner.scripts[0]));
  assert.equal(first.bytes, Buffer.byteLength(runner.scripts[0] ?? ''));
  assert.ok(first.ms >= 0);

  const second = await sync.apply(table([pods('10.0.0.1', '10.0.0.2')]));
  assert.equal(second.kind, 'partial');
  assert.equal(runner.scripts[1], 'add element inet weft pods { 10.0.0.2 }\n');
  await holds(runner, table([pods('10.0.0.1', '10.0.0.2')]));

  const third = await sync.apply(table([pods('10.0.0.1', '10.0.0.2')]));
  assert.deepEqual({ kind: third.kind, bytes: third.bytes }, { kind: 'noop', bytes: 0 });
  assert.equal(runner.scripts.length, 2, 'a noop does not run nft');
});

test('a failed apply rethrows and makes the next apply full', async () => {
  const runner = new CheckedFake();
  const sync = new TableSync(runner);
  await sync.apply(table([pods('10.0.0.1')]));
  // The element the next partial deletes is gone already: the kernel refuses it.
  await tamper(runner, {
    table: WEFT,
    ops: [{ op: 'delete', kind: 'elements', set: 'pods', elements: ['10.0.0.1'] }],
  });
  await assert.rejects(sync.apply(table([pods('10.0.0.2')])), /Could not process rule/);
  const retry = await sync.apply(table([pods('10.0.0.2')]));
  assert.equal(retry.kind, 'full');
  assert.ok(isFull(runner.scripts.at(-1)));
  assert.equal((await sync.apply(table([pods('10.0.0.3')]))).kind, 'partial');
  await holds(runner, table([pods('10.0.0.3')]));
});

test('a failed first apply: the next one is full too', async () => {
  const runner = new CheckedFake();
  const sync = new TableSync(runner, false); // the kernel, not the validator, refuses
  const bad = table(
    [pods('10.0.0.1')],
    [{ name: 'x', comment: '', rules: [{ exprs: [jump('gone')], comment: '' }] }],
  );
  await assert.rejects(sync.apply(bad), NftError);
  assert.equal((await sync.apply(table([pods('10.0.0.1')]))).kind, 'full');
});

test('what cannot change in place is applied as a full sync at once', async () => {
  const runner = new CheckedFake();
  const sync = new TableSync(runner);
  await sync.apply(table([pods('10.0.0.1')]));
  const retyped = await sync.apply(table([{ ...pods('10.0.0.0/8'), interval: true }]));
  assert.equal(retyped.kind, 'full');
  assert.ok(isFull(runner.scripts[1]));
  assert.equal(
    (await sync.apply(table([{ ...pods('10.0.0.0/8', '11.0.0.0/8'), interval: true }]))).kind,
    'partial',
  );
});

test('markDirty makes the next apply full', async () => {
  const runner = new CheckedFake();
  const sync = new TableSync(runner);
  await sync.apply(table([pods('10.0.0.1')]));
  sync.markDirty();
  assert.equal(
    (await sync.apply(table([pods('10.0.0.1')]))).kind,
    'full',
    'even when nothing changed',
  );
  assert.equal((await sync.apply(table([pods('10.0.0.1')]))).kind, 'noop');
});

test('an invalid table throws before touching the kernel and changes nothing', async () => {
  const runner = new CheckedFake();
  const sync = new TableSync(runner);
  await sync.apply(table([pods('10.0.0.1')]));
  const bad = table(
    [pods('10.0.0.1')],
    [{ name: 'x', comment: '', rules: [{ exprs: [jump('gone')], comment: '' }] }],
  );
  await assert.rejects(sync.apply(bad), (e: unknown) => {
    assert.ok(e instanceof NftValidationError);
    assert.match(e.problems[0] ?? '', /missing chain gone/);
    return true;
  });
  assert.equal(runner.scripts.length, 1);
  assert.equal((await sync.apply(table([pods('10.0.0.1', '10.0.0.9')]))).kind, 'partial');
});

test('validation can be turned off (the kernel then decides)', async () => {
  const runner = new CheckedFake();
  const sync = new TableSync(runner, false);
  const bad = table(
    [pods('10.0.0.1')],
    [{ name: 'x', comment: '', rules: [{ exprs: [jump('gone')], comment: '' }] }],
  );
  await assert.rejects(sync.apply(bad), /No such file or directory \(no chain gone\)/);
  assert.ok(isFull(runner.scripts[0]), 'the full transaction reached the kernel');
  assert.equal(await runner.list(WEFT), '', 'which kept nothing of it');
});

test('applies called together run one after another, each against the one before', async () => {
  const runner = new CheckedFake();
  const sync = new TableSync(runner);
  const results = await Promise.all([
    sync.apply(table([pods('10.0.0.1')])),
    sync.apply(table([pods('10.0.0.1', '10.0.0.2')])),
    sync.apply(table([pods('10.0.0.2')])),
  ]);
  assert.deepEqual(
    results.map((r) => r.kind),
    ['full', 'partial', 'partial'],
  );
  assert.equal(runner.scripts[2], 'delete element inet weft pods { 10.0.0.1 }\n');
});

test('unlessOnly: a change to that chain alone is a noop and the kernel keeps its version', async () => {
  const runner = new CheckedFake();
  const sync = new TableSync(runner);
  const chain = (name: string, mark: string): NftChain => ({
    name,
    comment: name,
    rules: [{ exprs: [cmp(['meta mark'], mark), accept], comment: 'r' }],
  });
  await sync.apply(table([pods('10.0.0.1')], [chain('gen', '0x1')]));
  const same = await sync.apply(table([pods('10.0.0.1')], [chain('gen', '0x2')]), 'gen');
  assert.equal(same.kind, 'noop');
  assert.equal(runner.scripts.length, 1);
  // Anything else changing applies the whole difference, that chain included.
  const more = await sync.apply(
    table([pods('10.0.0.1', '10.0.0.2')], [chain('gen', '0x2')]),
    'gen',
  );
  assert.equal(more.kind, 'partial');
  assert.match(runner.scripts[1] ?? '', /flush chain inet weft gen\n/);
  assert.match(runner.scripts[1] ?? '', /add element inet weft pods \{ 10\.0\.0\.2 \}/);
  assert.match(runner.scripts[1] ?? '', /add rule inet weft gen meta mark 0x2 accept/);
});

test('over hundreds of random changes, every partial transaction applies and gives what a full one gives', async () => {
  const seed = 20240612;
  const r = new Rng(seed);
  const fake = new FakeNft();
  const sync = new TableSync(fake);
  const s = emptyState();
  const kinds = { full: 0, partial: 0, noop: 0 };
  /** The table two steps back: a partial transaction applied there is against the wrong prior state. */
  let stale: NftTable | undefined;
  let previous: NftTable | undefined;
  let staleRefused = 0;
  for (let step = 0; step < 300; step++) {
    let needsFull = false;
    for (let i = step === 0 ? 20 : r.int(3) + 1; i > 0; i--) needsFull = mutate(r, s) || needsFull;
    if (step === 150) {
      // Past one chunk of elements: the add is split into several statements.
      const big = { kind: 'tuple' as const, elements: new Set<string>() };
      for (let i = 0; i < 4500; i++) big.elements.add(`10.2.${i >> 8}.${i & 255} . tcp . ${i + 1}`);
      s.sets.set('s_big', big);
    }
    if (step === 153) s.sets.delete('s_big');
    const next = build(s);
    const where = `seed ${seed} step ${step}`;
    const sent = fake.scripts.length;
    const result = await sync.apply(next);
    kinds[result.kind]++;
    if (step > 0 && !needsFull)
      assert.notEqual(result.kind, 'full', `${where}: needless full sync`);
    const fresh = new FakeNft();
    const full = fullTransaction(next);
    await fresh.apply(full, transactionText(full));
    assert.equal(
      await fake.list(WEFT),
      await fresh.list(WEFT),
      `${where}: partial differs from full`,
    );
    if (result.kind === 'partial' && stale && previous !== undefined) {
      const elsewhere = new FakeNft();
      const old = fullTransaction(stale);
      await elsewhere.apply(old, transactionText(old));
      const script = fake.scripts[sent] as string;
      const partial = partialOf(previous, next);
      assert.equal(transactionText(partial), script, where);
      await elsewhere.apply(partial, script).catch((e: unknown) => {
        assert.ok(e instanceof NftError, `${where}: ${String(e)}`);
        staleRefused++;
      });
    }
    stale = previous;
    previous = next;
  }
  assert.ok(kinds.partial >= 220, `mostly partial: ${JSON.stringify(kinds)}`);
  assert.ok(
    staleRefused >= 5,
    `a partial against the wrong table is refused: ${staleRefused} times`,
  );
});
