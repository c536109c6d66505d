import test from 'node:test';
import assert from 'node:assert/strict';
import type { NftChain, NftSet, NftTable, NftTableId, NftTransaction } from './model.js';
import { accept, cmp, jump } from './build.js';
import type { NftRunner } from './runner.js';
import { TableSync } from './sync.js';
import { NftValidationError } from './validate.js';

/** Records every script; fails the applies it is told to; checks applies never overlap. */
class RecordingRunner implements NftRunner {
  readonly scripts: string[] = [];
  failNext = false;
  private running = false;

  async apply(_tx: NftTransaction, script: string): Promise<void> {
    assert.ok(!this.running, 'two applies overlapped');
    this.running = true;
    await new Promise((r) => setTimeout(r, 2));
    this.running = false;
    this.scripts.push(script);
    if (this.failNext) {
      this.failNext = false;
      throw new Error('nft: Could not process rule');
    }
  }

  list(_table: NftTableId): Promise<string> {
    return Promise.resolve('');
  }
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
  const runner = new RecordingRunner();
  const sync = new TableSync(runner);
  const first = await sync.apply(table([pods('10.0.0.1')]));
  assert.equal(first.kind, 'full');
  assert.ok(isFull(runner.scripts[0]));
  assert.equal(first.bytes, Buffer.byteLength(runner.scripts[0] ?? ''));
  assert.ok(first.ms >= 0);

  const second = await sync.apply(table([pods('10.0.0.1', '10.0.0.2')]));
  assert.equal(second.kind, 'partial');
  assert.equal(runner.scripts[1], 'add element inet weft pods { 10.0.0.2 }\n');

  const third = await sync.apply(table([pods('10.0.0.1', '10.0.0.2')]));
  assert.deepEqual({ kind: third.kind, bytes: third.bytes }, { kind: 'noop', bytes: 0 });
  assert.equal(runner.scripts.length, 2, 'a noop does not run nft');
});

test('a failed apply rethrows and makes the next apply full', async () => {
  const runner = new RecordingRunner();
  const sync = new TableSync(runner);
  await sync.apply(table([pods('10.0.0.1')]));
  runner.failNext = true;
  await assert.rejects(sync.apply(table([pods('10.0.0.2')])), /Could not process rule/);
  const retry = await sync.apply(table([pods('10.0.0.2')]));
  assert.equal(retry.kind, 'full');
  assert.ok(isFull(runner.scripts[2]));
  assert.equal((await sync.apply(table([pods('10.0.0.3')]))).kind, 'partial');
});

test('a failed first apply: the next one is full too', async () => {
  const runner = new RecordingRunner();
  const sync = new TableSync(runner);
  runner.failNext = true;
  await assert.rejects(sync.apply(table([pods('10.0.0.1')])));
  assert.equal((await sync.apply(table([pods('10.0.0.1')]))).kind, 'full');
});

test('what cannot change in place is applied as a full sync at once', async () => {
  const runner = new RecordingRunner();
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
  const runner = new RecordingRunner();
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
  const runner = new RecordingRunner();
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
  const runner = new RecordingRunner();
  const sync = new TableSync(runner, false);
  const bad = table(
    [pods('10.0.0.1')],
    [{ name: 'x', comment: '', rules: [{ exprs: [jump('gone')], comment: '' }] }],
  );
  assert.equal((await sync.apply(bad)).kind, 'full');
});

test('applies called together run one after another, each against the one before', async () => {
  const runner = new RecordingRunner();
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
  const runner = new RecordingRunner();
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
