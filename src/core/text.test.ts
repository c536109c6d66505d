import test from 'node:test';
import assert from 'node:assert/strict';
import { closest, editDistance, listText, naturalCompare, setKey, stableKey } from './text.js';

test('edit distance counts insertions, deletions, substitutions and swaps', () => {
  assert.equal(editDistance('app', 'app'), 0);
  assert.equal(editDistance('ap', 'app'), 1);
  assert.equal(editDistance('tier', 'teir'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('closest finds the nearest candidate within two edits, ties broken by name', () => {
  assert.equal(closest('ap', ['role', 'app', 'apps']), 'app');
  assert.equal(closest('x', ['ab', 'ac']), 'ab');
  assert.equal(closest('environment', ['env', 'tier']), undefined);
  assert.equal(closest('app', ['app']), undefined);
});

test('natural order compares digit runs as numbers', () => {
  const sorted = ['a[1]', 'a[2]', 'a[10]', 'a[10].b', 'b'];
  assert.deepEqual([...sorted].reverse().sort(naturalCompare), sorted);
  assert.notEqual(naturalCompare('a01', 'a1'), 0);
});

test('lists are cut after a few items', () => {
  assert.equal(listText(['a', 'b']), 'a, b');
  assert.equal(listText(['a', 'b', 'c', 'd', 'e']), 'a, b, c and 2 more');
});

test('stable keys see through key order and bigints; set keys through item order', () => {
  assert.equal(stableKey({ a: 1n, b: [1, 2] }), stableKey({ b: [1, 2], a: 1n }));
  assert.notEqual(stableKey({ a: 1n }), stableKey({ a: 2n }));
  assert.equal(setKey([{ x: 1 }, { y: 2 }]), setKey([{ y: 2 }, { x: 1 }, { x: 1 }]));
});
