import test from 'node:test';
import assert from 'node:assert/strict';
import { LiveMerge, mergeSortedBy } from './merge.js';

interface Ev {
  readonly t: number;
  readonly from: string;
}
const ev = (from: string, ...times: number[]): Ev[] => times.map((t) => ({ t, from }));
const key = (e: Ev) => e.t;
const text = (es: readonly Ev[]) => es.map((e) => `${e.from}${e.t}`).join(' ');

test('k-way merge by time; ties keep the order of the streams', () => {
  const merged = mergeSortedBy([ev('a', 1, 4, 4, 9), ev('b', 2, 4), [], ev('c', 0, 10)], key);
  assert.equal(text(merged), 'c0 a1 b2 a4 a4 b4 a9 c10');
  assert.deepEqual(mergeSortedBy([], key), []);
});

test('a stream out of order is refused', () => {
  assert.throws(
    () => mergeSortedBy([ev('a', 1, 3, 2)], key),
    /stream 0 is not in time order at index 2/,
  );
});

test('live merge releases an item once every open stream is past it', () => {
  const m = new LiveMerge<Ev>(['a', 'b'], key);
  assert.equal(text(m.push('a', ev('a', 1, 5))), '', 'b has said nothing yet');
  assert.equal(m.pending, 2);
  assert.equal(text(m.push('b', ev('b', 3))), 'a1 b3');
  assert.equal(text(m.advance('b', 6)), 'a5');
  assert.equal(text(m.push('a', ev('a', 7))), '');
  assert.equal(text(m.close('b')), 'a7');
  assert.equal(text(m.push('a', ev('a', 8))), 'a8');
  assert.throws(() => m.push('a', ev('a', 2)), /went back in time/);
  assert.throws(() => m.push('b', ev('b', 9)), /stream b is closed/);
  assert.throws(() => m.push('z', []), /unknown stream z/);
});

test('flush releases everything held, in order', () => {
  const m = new LiveMerge<Ev>(['a', 'b', 'c'], key);
  m.push('a', ev('a', 4, 8));
  m.push('c', ev('c', 2));
  assert.equal(text(m.flush()), 'c2 a4 a8');
  assert.equal(m.pending, 0);
});
