import test from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseSince } from './time.js';

test('durations', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('2d'), 172_800_000);
  for (const bad of ['', '5', 'm', '5 m', '-5m', '5M', '1h-2m'])
    assert.equal(parseDuration(bad), undefined, bad);
});

test('RFC 3339 times: zones, fractions, leap second; impossible dates refused', () => {
  const now = 0;
  assert.equal(parseSince('2025-01-31T12:00:00Z', now), Date.UTC(2025, 0, 31, 12));
  assert.equal(parseSince('2025-01-31t12:00:00.250z', now), Date.UTC(2025, 0, 31, 12) + 250);
  assert.equal(parseSince('2025-01-31T13:30:00+01:30', now), Date.UTC(2025, 0, 31, 12));
  assert.equal(parseSince('2025-01-31T10:00:00-02:00', now), Date.UTC(2025, 0, 31, 12));
  assert.equal(parseSince('2016-12-31T23:59:60Z', now), Date.UTC(2017, 0, 1));
  assert.equal(parseSince('5m', 1_000_000), 700_000);
  for (const bad of [
    '2025-02-29T00:00:00Z',
    '2025-13-01T00:00:00Z',
    '2025-01-01T24:00:00Z',
    '2025-01-01T00:00:00+25:00',
  ])
    assert.equal(parseSince(bad, now), 'is not a valid date and time', bad);
  assert.match(String(parseSince('2025-01-01 00:00:00', now)), /must be a duration/);
});
