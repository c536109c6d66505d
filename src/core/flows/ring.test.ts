import test from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from './ring.js';

test('sequence numbers grow from 1; since() returns what came after', () => {
  const r = new Ring<string>(4);
  assert.equal(r.newest, 0);
  assert.deepEqual(r.since(0), { entries: [], missed: 0, next: 0 });
  assert.equal(r.push('a'), 1);
  assert.equal(r.push('b'), 2);
  assert.deepEqual(r.since(0), {
    entries: [
      { seq: 1, item: 'a' },
      { seq: 2, item: 'b' },
    ],
    missed: 0,
    next: 2,
  });
  assert.deepEqual(r.since(2), { entries: [], missed: 0, next: 2 });
  assert.deepEqual(r.since(1, 5).entries, [{ seq: 2, item: 'b' }]);
});

test('when full, the oldest are overwritten and counted; a late reader learns how many it missed', () => {
  const r = new Ring<number>(3);
  for (let i = 1; i <= 10; i++) r.push(i * 10);
  assert.equal(r.size, 3);
  assert.equal(r.oldest, 8);
  assert.equal(r.newest, 10);
  assert.equal(r.overwritten, 7);
  assert.deepEqual(r.since(2), {
    entries: [
      { seq: 8, item: 80 },
      { seq: 9, item: 90 },
      { seq: 10, item: 100 },
    ],
    missed: 5,
    next: 10,
  });
  assert.deepEqual(r.since(8, 1), { entries: [{ seq: 9, item: 90 }], missed: 0, next: 9 });
  assert.deepEqual(r.since(0, 0), { entries: [], missed: 7, next: 7 });
});

test('last(n) and all()', () => {
  const r = new Ring<string>(5);
  for (const s of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) r.push(s);
  assert.deepEqual(
    r.last(2).map((e) => e.item),
    ['f', 'g'],
  );
  assert.deepEqual(
    r.last(99).map((e) => e.seq),
    [3, 4, 5, 6, 7],
  );
  assert.deepEqual(r.last(0), []);
  assert.deepEqual(
    r.all().map((e) => e.item),
    ['c', 'd', 'e', 'f', 'g'],
  );
});

test('a ring of one, and bad capacities', () => {
  const r = new Ring<number>(1);
  r.push(1);
  r.push(2);
  assert.deepEqual(r.all(), [{ seq: 2, item: 2 }]);
  assert.equal(r.overwritten, 1);
  assert.throws(() => new Ring(0), /positive integer/);
  assert.throws(() => new Ring(1.5), /positive integer/);
});
