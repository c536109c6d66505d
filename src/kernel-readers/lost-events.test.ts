import test from 'node:test';
import assert from 'node:assert/strict';
import type { ConntrackEvent } from './conntrack.js';
import { LostEvents, tableIds } from './lost-events.js';

const T0 = 1_700_000_000_000;

function ev(type: 'new' | 'destroy', id: number, time: number, deltaTime?: number): ConntrackEvent {
  const tuple = { src: '10.0.0.1', dst: '10.0.0.2', sport: 1000 + id, dport: 80 };
  return {
    type,
    time,
    family: 4,
    protocol: 'tcp',
    protocolNumber: 6,
    original: tuple,
    reply: tuple,
    flags: [],
    id,
    ...(deltaTime === undefined ? {} : { deltaTime }),
  };
}

const ids = (...xs: number[]) => new Set(xs);

test('without a baseline: an end whose start never came and that began after the reader is a lost start', () => {
  const l = new LostEvents(T0);
  l.seen(ev('destroy', 1, T0 + 10_000, 3)); // began T0 + 7 s: its NEW was lost
  l.seen(ev('destroy', 2, T0 + 10_000, 60)); // began before the reader
  l.seen(ev('destroy', 3, T0 + 10_000)); // no lifetime: cannot tell
  l.seen(ev('new', 4, T0 + 11_000));
  l.seen(ev('destroy', 4, T0 + 12_000, 1)); // both seen
  assert.deepEqual(l.lost, { starts: 1, ends: 0 });
});

test('a known connection missing from two reads 2 s apart, its DESTROY not come, is a lost end', () => {
  const l = new LostEvents(T0, 2000);
  l.baseline(ids());
  for (const id of [1, 2, 3, 4]) l.seen(ev('new', id, T0 + 1000));
  l.seen(ev('destroy', 4, T0 + 2000, 1));
  l.table(ids(1), T0 + 5000); // 2 and 3 missing: in doubt
  assert.equal(l.pending, 2);
  l.seen(ev('destroy', 3, T0 + 6000, 5)); // 3 was only late
  l.table(ids(1, 2), T0 + 6000); // 2 listed again (a dump can skip an entry): no loss
  l.table(ids(1), T0 + 7500);
  l.table(ids(1), T0 + 9000);
  assert.deepEqual(l.lost, { starts: 0, ends: 0 }, '2 missing again, but not for 2 s yet');
  l.table(ids(1), T0 + 10_000);
  assert.deepEqual(l.lost, { starts: 0, ends: 1 });
  // 2 shows up after all: taken back; then it ends normally.
  l.table(ids(1, 2), T0 + 11_000);
  assert.deepEqual(l.lost, { starts: 0, ends: 0 });
  l.seen(ev('destroy', 2, T0 + 12_000, 11));
  l.seen(ev('destroy', 1, T0 + 12_000, 11));
  assert.deepEqual(l.lost, { starts: 0, ends: 0 });
  assert.equal(l.pending, 0);
});

test('a late DESTROY takes a lost end back', () => {
  const l = new LostEvents(T0, 2000);
  l.baseline(ids());
  l.seen(ev('new', 1, T0 + 1000));
  l.table(ids(), T0 + 2000);
  l.table(ids(), T0 + 4000);
  assert.deepEqual(l.lost, { starts: 0, ends: 1 });
  l.seen(ev('destroy', 1, T0 + 5000, 4));
  assert.deepEqual(l.lost, { starts: 0, ends: 0 });
});

test('with a baseline: a connection listed whose NEW never came is a lost start, and its end is tracked', () => {
  const l = new LostEvents(T0, 2000);
  l.baseline(ids(100, 101));
  l.seen(ev('new', 1, T0 + 1000));
  // A read after an overflow: 100 (old), 1 (seen), 2, 3 and 5 (NEW lost), 4 (NEW on its way).
  l.table(ids(100, 1, 2, 3, 4, 5), T0 + 5000);
  l.seen(ev('new', 4, T0 + 5500));
  l.seen(ev('destroy', 3, T0 + 6000, 1)); // ends before the next read: its start was lost
  l.table(ids(100, 1, 2, 4, 5), T0 + 7500);
  assert.deepEqual(l.lost, { starts: 3, ends: 0 });
  // 2 ends and says so; 5 ends silently: its end is lost too; the old one ends: nothing.
  l.seen(ev('destroy', 2, T0 + 8000, 5));
  l.seen(ev('destroy', 100, T0 + 8000, 500));
  l.table(ids(1, 4), T0 + 9000);
  l.table(ids(1, 4), T0 + 11_500);
  assert.deepEqual(l.lost, { starts: 3, ends: 1 });
  // A DESTROY of a connection neither in the baseline nor ever seen: its NEW was lost.
  l.seen(ev('destroy', 7, T0 + 12_000, 1));
  assert.deepEqual(l.lost, { starts: 4, ends: 1 });
});

test('a connection that ends while the table is read is no lost start', () => {
  const l = new LostEvents(T0, 2000);
  l.baseline(ids());
  l.seen(ev('new', 5, T0 + 1000));
  // The read lists 5; its DESTROY is read before the read's answer is.
  l.seen(ev('destroy', 5, T0 + 4000, 3));
  l.table(ids(5), T0 + 4500);
  l.table(ids(), T0 + 7000);
  assert.deepEqual(l.lost, { starts: 0, ends: 0 });
});

test('tableIds: the last id= of each line is the conntrack id (ICMP tuples have their own)', () => {
  const text = [
    'tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=1 [ASSURED] mark=0 use=1 id=3735928559',
    'icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=7 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=7 mark=0 use=1 id=42',
    'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.',
  ].join('\n');
  assert.deepEqual(
    [...tableIds(text)].sort((a, b) => a - b),
    [42, 3735928559],
  );
});

test('ends are remembered for 30 s only, with no table read to trim them', () => {
  const l = new LostEvents(T0);
  // 100,000 connections over 100 s, one every millisecond, none of them an overflow's business.
  for (let i = 0; i < 100_000; i++) {
    l.seen(ev('new', i, T0 + i));
    l.seen(ev('destroy', i, T0 + i, 0));
  }
  assert.ok(l.rememberedEnds <= 30_001, `${l.rememberedEnds} ends remembered`);
  assert.deepEqual(l.lost, { starts: 0, ends: 0 });
});
