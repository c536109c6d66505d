import test from 'node:test';
import assert from 'node:assert/strict';
import { budgetProblems, NftBudgetError } from './budget.js';
import type { NftSet, NftTable } from './model.js';
import { FakeNft } from './fake.js';
import { TableSync } from './sync.js';

function tableWith(sets: number, elementsEach: number): NftTable {
  const s = new Map<string, NftSet>();
  for (let i = 0; i < sets; i++)
    s.set(`s${i}`, {
      name: `s${i}`,
      type: ['ipv4_addr'],
      interval: false,
      comment: i % 2 ? 'peers: big policy' : `peers: p${i}`,
      elements: Array.from({ length: elementsEach }, (_, j) => `10.${i >> 8}.${i & 255}.${j}`),
    });
  return { family: 'inet', name: 'weft', sets: s, maps: new Map(), chains: new Map() };
}

test('within budget: no problem', () => {
  assert.deepEqual(budgetProblems(tableWith(10, 2), 1000), []);
});

test('over budget: the counts, the limits and what costs the most', () => {
  const budget = { sets: 4, rules: 10, elements: 15, scriptBytes: 1 << 20 };
  assert.deepEqual(budgetProblems(tableWith(10, 2), 3 << 20, budget), [
    '10 sets (at most 4); most from: peers: big policy (5 sets), peers: p0 (1 sets), peers: p2 (1 sets)',
    '20 set elements (at most 15); most in: peers: p0 (2 elements), peers: big policy (2 elements), peers: p2 (2 elements)',
    'a 3.0 MiB script (at most 1 MiB)',
  ]);
});

test('a table over budget never reaches nft; the next apply is full', async () => {
  const runner = new FakeNft();
  const scripts = runner.scripts;
  const sync = new TableSync(runner, false, {
    sets: 4,
    rules: 100,
    elements: 100,
    scriptBytes: 1 << 20,
  });
  await assert.rejects(sync.apply(tableWith(5, 1)), (e: unknown) => {
    assert.ok(e instanceof NftBudgetError);
    assert.match(
      e.message,
      /^the policy set is too large for one nftables transaction: 5 sets \(at most 4\)/,
    );
    return true;
  });
  assert.deepEqual(scripts, []);
  assert.equal((await sync.apply(tableWith(3, 1))).kind, 'full');
  assert.equal(scripts.length, 1);
});
