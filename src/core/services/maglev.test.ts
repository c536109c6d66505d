import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { maglevSize, maglevTable } from './maglev.js';

const endpoint = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }))
  .map(([a, b]) => `10.244.${a}.${b}:8080`);
const endpoints = (min: number, max: number) =>
  fc.uniqueArray(endpoint, { minLength: min, maxLength: max });

test('maglev: table sizes give each backend at least 100 slots, up to the largest', () => {
  assert.equal(maglevSize(1), 1021);
  assert.equal(maglevSize(10), 1021);
  assert.equal(maglevSize(11), 4093);
  assert.equal(maglevSize(40), 4093);
  assert.equal(maglevSize(41), 16381);
  assert.equal(maglevSize(164), 65521);
  assert.equal(maglevSize(5000), 65521);
});

test('maglev: every slot names a backend, and each backend holds M/N slots, give or take one', () => {
  fc.assert(
    fc.property(endpoints(1, 12), (names) => {
      const table = maglevTable(names);
      assert.equal(table.length, maglevSize(names.length));
      const held = new Map<string, number>();
      for (const b of table) held.set(b, (held.get(b) ?? 0) + 1);
      assert.deepEqual([...held.keys()].sort(), [...names].sort());
      const fair = table.length / names.length;
      for (const n of held.values()) assert.ok(n >= Math.floor(fair) && n <= Math.ceil(fair));
    }),
    { numRuns: 60 },
  );
});

test('maglev: the same backends in any order give the same table (the same on every node)', () => {
  fc.assert(
    fc.property(endpoints(1, 10), fc.integer(), (names, seed) => {
      const shuffled = [...names].sort(
        (a, b) => ((a + seed).length % 3) - ((b + seed).length % 3) || (a < b ? 1 : -1),
      );
      assert.deepEqual(maglevTable(shuffled), maglevTable(names));
    }),
    { numRuns: 40 },
  );
});

/** Slots whose backend changes when `gone` leaves `names`. */
function movedSlots(names: readonly string[], gone: string): number {
  const table = maglevTable(names);
  const after = maglevTable(
    names.filter((n) => n !== gone),
    table.length,
  );
  let moved = 0;
  table.forEach((b, slot) => {
    assert.notEqual(after[slot], gone);
    if (after[slot] !== b) moved++;
  });
  return moved;
}

test('maglev: removing one of N backends moves about 1/N of the slots, the rest stay', () => {
  // Each time: at least the removed backend's own share, and never twice that.
  fc.assert(
    fc.property(endpoints(2, 10), fc.nat(), (names, which) => {
      const size = maglevSize(names.length);
      const moved = movedSlots(names, names[which % names.length] as string);
      assert.ok(moved >= Math.floor(size / names.length));
      assert.ok(moved <= (2 * size) / names.length, `${moved} of ${size} moved, N=${names.length}`);
    }),
    { numRuns: 60 },
  );
  // On average over many sets: within 35% of the ideal 1/N (N=10 on 1021 slots moves 1.26/N).
  for (const n of [3, 5, 10]) {
    const sample = fc.sample(endpoints(n, n), { numRuns: 100, seed: 17 });
    const mean =
      sample.reduce((sum, names) => sum + movedSlots(names, names[0] as string), 0) / sample.length;
    const ideal = maglevSize(n) / n;
    assert.ok(
      mean <= 1.35 * ideal,
      `N=${n}: ${mean.toFixed(1)} slots moved on average, ideal ${ideal.toFixed(1)}`,
    );
  }
});

test('maglev: no backends, no table; more backends than slots is an error', () => {
  assert.deepEqual(maglevTable([]), []);
  assert.throws(() => maglevTable(['a', 'b', 'c'], 2), /3 backends for 2 slots/);
  assert.deepEqual(maglevTable(['only'], 7), Array(7).fill('only'));
});
