import test from 'node:test';
import assert from 'node:assert/strict';
import { BoundedQueue } from './queue.js';

test('items come out in order; a waiting consumer gets the next push at once', async () => {
  const q = new BoundedQueue<number>(3);
  const first = q.next();
  assert.equal(q.push(1), true);
  assert.deepEqual(await first, { value: 1, done: false });
  q.push(2);
  q.push(3);
  assert.deepEqual(await q.next(), { value: 2, done: false });
  assert.deepEqual(await q.next(), { value: 3, done: false });
  assert.equal(q.delivered, 3);
});

test('when full, new items are discarded and counted; memory stays at capacity', async () => {
  const q = new BoundedQueue<number>(2);
  const accepted = [1, 2, 3, 4, 5].map((n) => q.push(n));
  assert.deepEqual(accepted, [true, true, false, false, false]);
  assert.equal(q.dropped, 3);
  assert.equal(q.length, 2);
  assert.equal(q.highWaterMark, 2);
  q.end();
  const got: number[] = [];
  for await (const n of q) got.push(n);
  assert.deepEqual(got, [1, 2]);
  assert.equal(q.push(6), false, 'nothing is queued after the end');
});

test('end with an error: queued items first, then the error; a waiting consumer is rejected', async () => {
  const q = new BoundedQueue<string>(4);
  q.push('a');
  q.end(new Error('tool died'));
  assert.deepEqual(await q.next(), { value: 'a', done: false });
  await assert.rejects(q.next(), /tool died/);
  const w = new BoundedQueue<string>(4);
  const pending = w.next();
  w.end(new Error('gone'));
  await assert.rejects(pending, /gone/);
});

test('one consumer at a time; capacity must be positive', async () => {
  const q = new BoundedQueue<number>(1);
  const a = q.next();
  await assert.rejects(q.next(), /one consumer at a time/);
  q.push(7);
  assert.deepEqual(await a, { value: 7, done: false });
  assert.throws(() => new BoundedQueue(0), /positive integer/);
});

test('with a flow, the producer is told to stop at three quarters and to go on at a quarter', async () => {
  const calls: string[] = [];
  const q = new BoundedQueue<number>(8, {
    full: () => calls.push('full'),
    room: () => calls.push('room'),
  });
  for (let i = 1; i <= 5; i++) q.push(i);
  assert.deepEqual(calls, [], 'five of eight: not yet');
  q.push(6);
  assert.deepEqual(calls, ['full'], 'six of eight');
  q.push(7);
  q.push(8);
  assert.equal(q.push(9), false, 'past capacity it still discards');
  assert.deepEqual(calls, ['full'], 'told once');
  for (let i = 0; i < 5; i++) await q.next();
  assert.deepEqual(calls, ['full'], 'three of eight left: not yet');
  await q.next();
  assert.deepEqual(calls, ['full', 'room'], 'two of eight left');
  await q.next();
  assert.deepEqual(calls, ['full', 'room'], 'told once');
});
