import test from 'node:test';
import assert from 'node:assert/strict';
import { escapeHelp, escapeLabelValue, formatValue, MetricsRegistry } from './prometheus.js';

test('escaping as the 0.0.4 text format says', () => {
  assert.equal(escapeLabelValue('a\\b"c"\nd'), 'a\\\\b\\"c\\"\\nd');
  assert.equal(escapeHelp('line 1\nback\\slash "quoted"'), 'line 1\\nback\\\\slash "quoted"');
  assert.equal(formatValue(Infinity), '+Inf');
  assert.equal(formatValue(-Infinity), '-Inf');
  assert.equal(formatValue(NaN), 'NaN');
  assert.equal(formatValue(0.25), '0.25');
  assert.equal(formatValue(1e21), '1e+21');
});

test('a whole exposition: counter, gauge, histogram with labels', () => {
  const reg = new MetricsRegistry();
  const flows = reg.counter('weft_flows_total', 'Flows seen.\nBy verdict.', ['verdict', 'node']);
  const lost = reg.gauge('weft_flow_queue_length', 'Events waiting.');
  const lat = reg.histogram('weft_sync_seconds', 'Sync time.', ['kind'], [0.1, 1]);
  flows.inc({ verdict: 'dropped', node: 'n"1' }, 3);
  flows.inc({ verdict: 'forwarded', node: 'n1' });
  flows.inc({ verdict: 'dropped', node: 'n"1' });
  lost.set({}, 7);
  lat.observe({ kind: 'full' }, 0.05);
  lat.observe({ kind: 'full' }, 0.5);
  lat.observe({ kind: 'full' }, 3);
  assert.equal(
    reg.render(),
    [
      '# HELP weft_flows_total Flows seen.\\nBy verdict.',
      '# TYPE weft_flows_total counter',
      'weft_flows_total{verdict="dropped",node="n\\"1"} 4',
      'weft_flows_total{verdict="forwarded",node="n1"} 1',
      '# HELP weft_flow_queue_length Events waiting.',
      '# TYPE weft_flow_queue_length gauge',
      'weft_flow_queue_length 7',
      '# HELP weft_sync_seconds Sync time.',
      '# TYPE weft_sync_seconds histogram',
      'weft_sync_seconds_bucket{kind="full",le="0.1"} 1',
      'weft_sync_seconds_bucket{kind="full",le="1"} 2',
      'weft_sync_seconds_bucket{kind="full",le="+Inf"} 3',
      'weft_sync_seconds_sum{kind="full"} 3.55',
      'weft_sync_seconds_count{kind="full"} 3',
      '',
    ].join('\n'),
  );
});

test('collectors run before each render; counters set from elsewhere must not go down', () => {
  const reg = new MetricsRegistry();
  const c = reg.counter('weft_lost_total', 'Lost.', ['reader']);
  let lost = 2;
  reg.onCollect(() => c.set({ reader: 'nflog' }, lost));
  assert.match(reg.render(), /weft_lost_total\{reader="nflog"\} 2\n/);
  lost = 5;
  assert.match(reg.render(), /weft_lost_total\{reader="nflog"\} 5\n/);
  lost = 1;
  assert.throws(() => reg.render(), /can only go up \(5 -> 1\)/);
  assert.throws(() => c.inc({ reader: 'x' }, -1), /can only go up/);
});

test('names, label sets and buckets are checked', () => {
  const reg = new MetricsRegistry();
  assert.throws(() => reg.counter('weft-flows', 'x'), /name must match/);
  assert.throws(() => reg.counter('ok', 'x', ['__reserved']), /must match .* not start with "__"/);
  assert.throws(() => reg.counter('ok2', 'x', ['a', 'a']), /duplicate label names/);
  assert.throws(() => reg.histogram('h', 'x', ['le']), /"le" is reserved/);
  assert.throws(() => reg.histogram('h2', 'x', [], [1, 1]), /strictly increasing/);
  const g = reg.gauge('g', 'x', ['a', 'b']);
  assert.throws(() => g.set({ a: '1' }, 1), /labels must be exactly \{a, b\} \(missing b\)/);
  assert.throws(() => g.set({ a: '1', b: '2', c: '3' }, 1), /unexpected c/);
  reg.counter('dup', 'x');
  assert.throws(() => reg.counter('dup', 'x'), /already registered/);
  assert.throws(() => reg.histogram('h3', 'x').observe({}, NaN), /cannot observe NaN/);
  assert.equal(new MetricsRegistry().render(), '');
});
