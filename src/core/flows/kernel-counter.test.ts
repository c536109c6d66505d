import test from 'node:test';
import assert from 'node:assert/strict';
import { advanceCounter, NO_COUNT } from './kernel-counter.js';

test('a counter read again adds what it grew by; one made anew (a full sync) adds all it holds', () => {
  let c = advanceCounter(NO_COUNT, 40);
  assert.deepEqual(c, { total: 40, last: 40 });
  c = advanceCounter(c, 40);
  assert.deepEqual(c, { total: 40, last: 40 });
  c = advanceCounter(c, 55);
  assert.deepEqual(c, { total: 55, last: 55 });
  // The table was replaced: the counter started again and has counted 7 since.
  c = advanceCounter(c, 7);
  assert.deepEqual(c, { total: 62, last: 7 });
  c = advanceCounter(c, 10);
  assert.deepEqual(c, { total: 65, last: 10 });
});
