import test from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry } from '../../core/flows/prometheus.js';
import { parseIp } from '../../core/net/ip.js';
import { buildServiceModel } from '../../core/services/model.js';
import { nodes, web, webSlice } from '../../testing/service-model.js';
import { clusterOf } from '../../testing/services.js';
import { ServiceProxyMetrics } from './metrics.js';

/** The lines of one metric family (its samples, without HELP and TYPE). */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

test('every counter and gauge is there from the start, at 0', () => {
  const text = new ServiceProxyMetrics().render();
  const plain = text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(plain, [
    'weft_services_sync_errors_total{kind="full"} 0',
    'weft_services_sync_errors_total{kind="partial"} 0',
    'weft_services_last_sync_timestamp_seconds 0',
    'weft_services_no_local_endpoints{traffic_policy="external"} 0',
    'weft_services_no_local_endpoints{traffic_policy="internal"} 0',
    'weft_services_conntrack_entries_deleted_total 0',
    'weft_services_conntrack_cleanup_failures_total 0',
    'weft_services_health_check_servers{state="failed"} 0',
    'weft_services_health_check_servers{state="serving"} 0',
    'weft_services_proxy_healthz_total{path="healthz",code="200"} 0',
    'weft_services_proxy_healthz_total{path="healthz",code="503"} 0',
    'weft_services_proxy_healthz_total{path="livez",code="200"} 0',
    'weft_services_proxy_healthz_total{path="livez",code="503"} 0',
  ]);
  assert.match(text, /^# TYPE weft_services_sync_duration_seconds histogram$/m);
  assert.match(text, /^# TYPE weft_services_network_programming_duration_seconds histogram$/m);
  assert.match(text, /^# TYPE weft_services_conntrack_entries_deleted_total counter$/m);
});

test('syncs: duration by kind, errors counted, the time of the last good one', () => {
  const m = new ServiceProxyMetrics();
  m.onSync({ kind: 'full', ms: 40, at: 1_700_000_000_000 });
  m.onSync({ kind: 'partial', ms: 3, at: 1_700_000_001_500 });
  m.onSync({ kind: 'partial', ms: 9, error: 'nft: No such file or directory' });
  const text = m.render();
  assert.deepEqual(samples(text, 'weft_services_sync_errors_total'), [
    'weft_services_sync_errors_total{kind="full"} 0',
    'weft_services_sync_errors_total{kind="partial"} 1',
  ]);
  assert.deepEqual(samples(text, 'weft_services_last_sync_timestamp_seconds'), [
    'weft_services_last_sync_timestamp_seconds 1700000001.5',
  ]);
  assert.deepEqual(samples(text, 'weft_services_sync_duration_seconds_count'), [
    'weft_services_sync_duration_seconds_count{kind="full"} 1',
    'weft_services_sync_duration_seconds_count{kind="partial"} 1',
  ]);
  assert.deepEqual(samples(text, 'weft_services_sync_duration_seconds_sum'), [
    'weft_services_sync_duration_seconds_sum{kind="full"} 0.04',
    'weft_services_sync_duration_seconds_sum{kind="partial"} 0.003',
  ]);
  const full = samples(text, 'weft_services_sync_duration_seconds_bucket').filter((l) =>
    l.includes('kind="full"'),
  );
  assert.ok(full.includes('weft_services_sync_duration_seconds_bucket{kind="full",le="0.025"} 0'));
  assert.ok(full.includes('weft_services_sync_duration_seconds_bucket{kind="full",le="0.05"} 1'));
});

test('network programming latency: one observation per change, from its time to the commit', () => {
  const m = new ServiceProxyMetrics();
  const commit = 1_700_000_010_000;
  m.onProgrammed([commit - 20, commit - 2000, commit + 300, Number.NaN], commit);
  const text = m.render();
  const name = 'weft_services_network_programming_duration_seconds';
  assert.deepEqual(samples(text, `${name}_count`), [`${name}_count 3`]);
  assert.deepEqual(samples(text, `${name}_sum`), [`${name}_sum 2.02`]);
  const buckets = samples(text, `${name}_bucket`);
  // 0 (a change dated after the commit), 0.02 and 2 seconds.
  assert.ok(buckets.includes(`${name}_bucket{le="0.005"} 1`));
  assert.ok(buckets.includes(`${name}_bucket{le="0.025"} 2`));
  assert.ok(buckets.includes(`${name}_bucket{le="1"} 2`));
  assert.ok(buckets.includes(`${name}_bucket{le="2.5"} 3`));
  assert.ok(buckets.includes(`${name}_bucket{le="+Inf"} 3`));
});

test('Service ports with a Local policy and no endpoint on this node, by traffic policy', () => {
  const c = clusterOf(
    ...nodes,
    web({
      type: 'NodePort',
      internalTrafficPolicy: 'Local',
      externalTrafficPolicy: 'Local',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    webSlice([{ ip: '10.244.2.5', node: 'n2' }]),
  );
  const m = new ServiceProxyMetrics();
  m.onModel(buildServiceModel(c, 'n1'));
  assert.deepEqual(samples(m.render(), 'weft_services_no_local_endpoints'), [
    'weft_services_no_local_endpoints{traffic_policy="external"} 1',
    'weft_services_no_local_endpoints{traffic_policy="internal"} 1',
  ]);
  // On n2 the endpoint is local; with no endpoint anywhere the port rejects, which is not this.
  m.onModel(buildServiceModel(c, 'n2'));
  assert.deepEqual(samples(m.render(), 'weft_services_no_local_endpoints'), [
    'weft_services_no_local_endpoints{traffic_policy="external"} 0',
    'weft_services_no_local_endpoints{traffic_policy="internal"} 0',
  ]);
  const empty = clusterOf(...nodes, web({ internalTrafficPolicy: 'Local' }), webSlice([]));
  m.onModel(buildServiceModel(empty, 'n1'));
  assert.deepEqual(samples(m.render(), 'weft_services_no_local_endpoints'), [
    'weft_services_no_local_endpoints{traffic_policy="external"} 0',
    'weft_services_no_local_endpoints{traffic_policy="internal"} 0',
  ]);
});

test('conntrack cleanups, health-check servers and health answers are counted', () => {
  const m = new ServiceProxyMetrics();
  const dst = parseIp('10.96.0.10');
  assert.ok(dst);
  const filter = {
    family: 4,
    protocol: 'UDP',
    dst,
    dstPort: 53,
    reason: 'frontend-opened',
    service: 'kube-system/dns:dns/UDP',
  } as const;
  m.onConntrackCleanup({ done: 3, deleted: 5, failures: [], ms: 12 });
  m.onConntrackCleanup({ done: 0, deleted: 0, failures: [{ filter, message: 'x' }], ms: 1 });
  m.setHealthCheckServers(2, 1);
  m.onHealthz('healthz', 503);
  m.onHealthz('livez', 200);
  m.onHealthz('livez', 200);
  const text = m.render();
  assert.deepEqual(samples(text, 'weft_services_conntrack_entries_deleted_total'), [
    'weft_services_conntrack_entries_deleted_total 5',
  ]);
  assert.deepEqual(samples(text, 'weft_services_conntrack_cleanup_failures_total'), [
    'weft_services_conntrack_cleanup_failures_total 1',
  ]);
  assert.deepEqual(samples(text, 'weft_services_health_check_servers'), [
    'weft_services_health_check_servers{state="failed"} 1',
    'weft_services_health_check_servers{state="serving"} 2',
  ]);
  assert.deepEqual(samples(text, 'weft_services_proxy_healthz_total'), [
    'weft_services_proxy_healthz_total{path="healthz",code="200"} 0',
    'weft_services_proxy_healthz_total{path="healthz",code="503"} 1',
    'weft_services_proxy_healthz_total{path="livez",code="200"} 2',
    'weft_services_proxy_healthz_total{path="livez",code="503"} 0',
  ]);
});

test("on the agent's registry: one exposition holds the agent's metrics and these", () => {
  const registry = new MetricsRegistry();
  registry.counter('weft_flows_total', 'Flows recorded.').inc({}, 7);
  const m = new ServiceProxyMetrics(registry);
  const text = registry.render();
  assert.equal(m.render(), text);
  assert.match(text, /^weft_flows_total 7$/m);
  assert.match(text, /^weft_services_conntrack_entries_deleted_total 0$/m);
});
