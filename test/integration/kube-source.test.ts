// The Kubernetes API source against a strict fake API server on loopback:
// paginated lists, watches resumed from the last resourceVersion, relists on
// 410 Gone, bookmarks, backoff, absent APIs and invalid objects. Each test
// checks that the Cluster handed on is exactly the one the server's objects
// make (parsed whole by the core parser), with nothing lost or duplicated.
import test from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/core/errors.js';
import { KubeError } from '../../src/sources/kubernetes/errors.js';
import {
  cnp,
  converged,
  expectedCluster,
  np,
  ns,
  pod,
  seed,
  slice,
  svc,
  startServer,
  startSource,
  waitFor,
} from '../support/kube-harness.js';

const kubeErrors = (errors: unknown[], code: string) =>
  errors.filter((e): e is KubeError => e instanceof KubeError && e.code === code);

test('kube source: lists in pages, then watches from the list resourceVersion', async (t) => {
  const server = await startServer(t);
  seed(server, 40);
  const h = await startSource(t, server, { pageSize: 7 });
  assert.equal(h.clusters.length, 1, 'one Cluster once every resource has listed');
  assert.equal(h.latest().pods.length, 40);
  assert.deepEqual(h.latest(), expectedCluster(server));
  const podLists = server.requests.filter((r) => r.verb === 'list' && r.resource === 'pods');
  assert.equal(podLists.length, 6, '40 pods, 7 a page');
  assert.equal(podLists[0]?.query['continue'], undefined);
  assert.ok(podLists.slice(1).every((r) => r.query['continue'] && r.query['limit'] === '7'));
  const listRv = String(server.store.rv);
  for (const w of server.requests.filter((r) => r.verb === 'watch')) {
    assert.equal(w.query['resourceVersion'], listRv);
    assert.equal(w.query['allowWatchBookmarks'], 'true');
    assert.match(w.query['timeoutSeconds'] ?? '', /^\d+$/);
  }
  assert.deepEqual(h.errors, []);
});

test('kube source: events of every kind are applied; no relist', async (t) => {
  const server = await startServer(t);
  seed(server, 10);
  const h = await startSource(t, server);
  server.create('namespaces', ns('new', { team: 'x' }));
  server.create('pods', pod('new', 'a', '10.2.0.1'));
  server.update('pods', pod('prod', 'p0', '10.1.0.0', { app: 'db' }));
  server.remove('pods', 'dev/p1');
  server.update('networkpolicies', np('dev', 'np0', 'db'));
  server.remove('nodes', 'node-2');
  server.create('clusternetworkpolicies', cnp('late', 9));
  await converged(h);
  assert.equal(h.latest().pods.find((p) => p.name === 'p0')?.labels['app'], 'db');
  assert.equal(server.countRequests('list'), 7, 'one list per resource, no more');
  for (const r of h.watch.status().resources) assert.equal(r.relists, 0);
  assert.deepEqual(h.errors, []);
});

test('kube source: Services and EndpointSlices arrive, change and go by watch', async (t) => {
  const server = await startServer(t);
  seed(server, 4);
  const h = await startSource(t, server);
  assert.deepEqual(
    h.latest().services.map((s) => `${s.namespace}/${s.name}`),
    ['dev/web', 'prod/web'],
  );
  assert.deepEqual(
    h.latest().endpointSlices.map((s) => [`${s.namespace}/${s.name}`, s.endpoints.length]),
    [
      ['dev/web-x1', 2],
      ['prod/web-x1', 2],
    ],
  );
  server.create('services', svc('prod', 'api', 8443));
  server.create('endpointslices', slice('prod', 'api-x1', 'api', ['10.1.0.3'], false));
  await converged(h);
  const api = h.latest().services.find((s) => s.name === 'api');
  assert.deepEqual(
    api?.ports.map((p) => [p.name, p.port, p.targetPort]),
    [['http', 8443, { kind: 'named', name: 'http' }]],
  );
  const apiSlice = h.latest().endpointSlices.find((s) => s.name === 'api-x1');
  assert.deepEqual(apiSlice?.endpoints[0]?.conditions, {
    ready: false,
    serving: false,
    terminating: false,
  });
  assert.deepEqual(apiSlice?.endpoints[0]?.target, { kind: 'Pod', namespace: 'prod', name: 'p0' });
  // The endpoint becomes ready; the other Service loses an endpoint, then goes.
  server.update('endpointslices', slice('prod', 'api-x1', 'api', ['10.1.0.3']));
  server.update('endpointslices', slice('dev', 'web-x1', 'web', ['10.1.0.1']));
  await converged(h);
  assert.equal(
    h.latest().endpointSlices.find((s) => s.name === 'api-x1')?.endpoints[0]?.conditions.ready,
    true,
  );
  server.remove('services', 'dev/web');
  server.remove('endpointslices', 'dev/web-x1');
  await converged(h);
  assert.deepEqual(
    h.latest().services.map((s) => `${s.namespace}/${s.name}`),
    ['prod/api', 'prod/web'],
  );
  assert.deepEqual(
    h.latest().endpointSlices.map((s) => `${s.namespace}/${s.name}`),
    ['prod/api-x1', 'prod/web-x1'],
  );
  assert.equal(server.countRequests('list', 'services'), 1, 'by watch, no relist');
  assert.deepEqual(h.errors, []);
});

test('kube source: an invalid Service is reported by object and field, and left out', async (t) => {
  const server = await startServer(t);
  seed(server, 2);
  const bad = svc('prod', 'bad');
  (bad['spec'] as Record<string, unknown>)['sessionAffinity'] = 'Sticky';
  server.create('services', bad);
  const h = await startSource(t, server);
  const errs = h.errors.filter((e): e is WeftError => e instanceof WeftError);
  assert.deepEqual(
    errs.flatMap((e) => e.issues.map((i) => [i.object, i.field, i.code])),
    [['Service prod/bad', 'spec.sessionAffinity', 'WEFT_INVALID_FIELD']],
  );
  assert.equal(h.latest().services.length, 2);
});

test('kube source: a watch cut mid-event resumes from the last complete event, without a relist', async (t) => {
  const server = await startServer(t);
  seed(server, 10);
  const h = await startSource(t, server);
  server.inject({ kind: 'drop', verb: 'watch', resource: 'pods', afterLines: 2, midLine: true });
  server.dropWatches('pods');
  await waitFor('the pods watch to be back', () => server.openWatches('pods') === 1);
  const rvs = [1, 2, 3, 4, 5].map((i) =>
    server.create('pods', pod('prod', `x${i}`, `10.3.0.${i}`)),
  );
  await converged(h);
  const watches = server.requests.filter((r) => r.verb === 'watch' && r.resource === 'pods');
  // The third event was cut in half: the next watch starts after the second.
  assert.equal(watches[watches.length - 1]?.query['resourceVersion'], String(rvs[1]));
  assert.equal(h.resource('pods').relists, 0);
  assert.equal(server.countRequests('list', 'pods'), 1);
  const cut = kubeErrors(h.errors, 'WEFT_KUBE_CONNECTION');
  assert.ok(
    cut.some((e) => /after 2 events \(a partial event dropped\)/.test(e.message)),
    String(cut),
  );
});

test('kube source: 410 Gone as a watch ERROR event relists; objects deleted meanwhile are gone', async (t) => {
  const server = await startServer(t);
  seed(server, 20);
  const h = await startSource(t, server);
  server.inject({ kind: 'delay', verb: 'watch', resource: 'pods', ms: 300 });
  server.dropWatches('pods');
  await waitFor('the delayed watch request', () => server.countRequests('watch', 'pods') === 2);
  for (let i = 0; i < 10; i++)
    server.remove('pods', `${['prod', 'dev', 'kube-system'][i % 3]}/p${i}`);
  server.create('pods', pod('prod', 'fresh', '10.4.0.1'));
  server.compact();
  await converged(h);
  assert.equal(h.latest().pods.length, 11);
  assert.equal(h.resource('pods').relists, 1);
  assert.equal(h.resource('nodes').relists, 0);
  // The cut watch is an error; the 410 is not (it is reported by the relist count).
  assert.equal(h.resource('pods').errors, 1);
  assert.deepEqual(kubeErrors(h.errors, 'WEFT_KUBE_GONE'), []);
});

test('kube source: 410 Gone as the HTTP status relists too', async (t) => {
  const server = await startServer(t);
  seed(server, 5);
  const h = await startSource(t, server);
  server.inject({
    kind: 'status',
    code: 410,
    reason: 'Expired',
    verb: 'watch',
    resource: 'networkpolicies',
  });
  server.dropWatches('networkpolicies');
  await waitFor('a relist', () => h.resource('networkpolicies').relists === 1);
  server.remove('networkpolicies', 'dev/np0');
  await converged(h);
  assert.equal(server.countRequests('list', 'networkpolicies'), 2);
});

test('kube source: a server behind our resourceVersion (restored) is listed again', async (t) => {
  const server = await startServer(t);
  seed(server, 5);
  const h = await startSource(t, server);
  server.inject({
    kind: 'status',
    code: 504,
    reason: 'Timeout',
    message: 'Too large resource version: 99, current: 20',
    verb: 'watch',
    resource: 'pods',
  });
  server.dropWatches('pods');
  await waitFor('a relist', () => h.resource('pods').relists === 1);
  server.create('pods', pod('prod', 'after', '10.4.0.2'));
  await converged(h);
});

test('kube source: a continue token that expires mid-list starts the list over', async (t) => {
  const server = await startServer(t);
  seed(server, 30);
  server.inject({ kind: 'delay', verb: 'list', resource: 'pods', continued: true, ms: 200 });
  const started = startSource(t, server, { pageSize: 10 });
  await waitFor('the second page to be asked for', () =>
    server.requests.some((r) => r.resource === 'pods' && r.query['continue']),
  );
  server.remove('pods', 'prod/p3');
  server.compact();
  const h = await started;
  await converged(h);
  const statuses = server.requests
    .filter((r) => r.verb === 'list' && r.resource === 'pods')
    .map((r) => r.status);
  assert.deepEqual(statuses, [200, 410, 200, 200, 200]);
  assert.equal(h.latest().pods.length, 29);
});

test('kube source: bookmarks advance the resourceVersion, so a quiet resource need not relist', async (t) => {
  const server = await startServer(t, { bookmarkMs: 30 });
  seed(server, 5);
  const h = await startSource(t, server);
  const listRv = Number(h.resource('pods').resourceVersion);
  for (let i = 0; i < 10; i++) server.create('namespaces', ns(`busy${i}`));
  const now = server.store.rv;
  await waitFor(
    'a bookmark to reach the pods reflector',
    () => Number(h.resource('pods').resourceVersion) === now,
  );
  assert.ok(h.resource('pods').bookmarks > 0);
  server.compact();
  assert.ok(listRv < server.store.compactedRv, 'the list resourceVersion is compacted now');
  server.dropWatches('pods');
  server.create('pods', pod('prod', 'after', '10.5.0.1'));
  await converged(h);
  const last = server.requests.filter((r) => r.verb === 'watch' && r.resource === 'pods').pop();
  assert.equal(last?.query['resourceVersion'], String(now));
  assert.equal(last?.status, 200);
  assert.equal(h.resource('pods').relists, 0);
});

test('kube source: 500s back off exponentially, capped, and each is reported', async (t) => {
  const server = await startServer(t);
  seed(server, 3);
  for (let i = 0; i < 6; i++)
    server.inject({ kind: 'status', code: 500, verb: 'list', resource: 'nodes' });
  const h = await startSource(t, server, {
    backoff: { initialMs: 40, maxMs: 100 },
    random: () => 0.999,
  });
  const times = server.requests
    .filter((r) => r.verb === 'list' && r.resource === 'nodes')
    .map((r) => r.at);
  assert.equal(times.length, 7);
  const gaps = times.slice(1).map((at, i) => at - (times[i] as number));
  // Doubling from 40 ms, capped at 100 ms (uncapped, the last would be 1280 ms).
  [40, 80, 100, 100, 100, 100].forEach((d, i) => {
    assert.ok((gaps[i] as number) >= d - 2, `gap ${i} is ${gaps[i]} ms, expected at least ${d}`);
    assert.ok((gaps[i] as number) < d + 500, `gap ${i} is ${gaps[i]} ms, expected about ${d}`);
  });
  const errs = kubeErrors(h.errors, 'WEFT_KUBE_HTTP');
  assert.equal(errs.length, 6);
  assert.ok(
    errs.every((e) => e.status === 500 && /^nodes: list: 500 InternalError/.test(e.message)),
  );
  assert.match(errs[5]?.message ?? '', /retrying in 0\.1 s$/);
  assert.equal(h.resource('nodes').errors, 6);
  assert.deepEqual(h.latest(), expectedCluster(server));
});

test('kube source: refused connections, slow or stalled answers and silent watches are retried', async (t) => {
  // Bookmarks keep the healthy watches from looking silent.
  const server = await startServer(t, { bookmarkMs: 50 });
  seed(server, 5);
  server.inject({ kind: 'reset', verb: 'list', resource: 'pods' });
  server.inject({ kind: 'delay', verb: 'list', resource: 'nodes', ms: 400 });
  server.inject({ kind: 'delay', verb: 'list', resource: 'namespaces', ms: 50 });
  server.inject({ kind: 'stall', verb: 'list', resource: 'networkpolicies' });
  const h = await startSource(t, server, { requestTimeoutMs: 200, idleTimeoutMs: 300 });
  const errs = kubeErrors(h.errors, 'WEFT_KUBE_CONNECTION');
  assert.ok(
    errs.some((e) => /^pods: list: .*socket hang up/.test(e.message)),
    String(errs),
  );
  assert.ok(
    errs.some((e) => /^nodes: list: .*no response .* within 200 ms/.test(e.message)),
    String(errs),
  );
  assert.ok(
    errs.some((e) => /^networkpolicies: list: .*the response stalled for 200 ms/.test(e.message)),
    String(errs),
  );
  assert.equal(h.resource('namespaces').errors, 0, 'slow but in time is no error');
  server.inject({ kind: 'silence', verb: 'watch', resource: 'pods' });
  server.dropWatches('pods');
  await waitFor('the silent watch to be given up', () =>
    kubeErrors(h.errors, 'WEFT_KUBE_CONNECTION').some((e) => /silent for 300 ms/.test(e.message)),
  );
  server.create('pods', pod('prod', 'late', '10.6.0.1'));
  await converged(h);
});

test('kube source: watches that time out are resumed, not relisted', async (t) => {
  const server = await startServer(t);
  seed(server, 5);
  const h = await startSource(t, server, { watchTimeoutSeconds: 1 });
  await waitFor('every watch to time out once', () => server.countRequests('watch') >= 14, 5000);
  server.create('pods', pod('prod', 'late', '10.6.0.1'));
  await converged(h);
  assert.equal(server.countRequests('list'), 7);
  assert.deepEqual(h.errors, []);
});

test('kube source: a periodic resync relists, heals a watch gone quiet, and is silent when nothing changed', async (t) => {
  const server = await startServer(t);
  seed(server, 5);
  // A watch that stays open and says nothing (and is not timed out for a minute).
  server.inject({ kind: 'silence', verb: 'watch', resource: 'pods' });
  const h = await startSource(t, server, { resyncMs: 300, idleTimeoutMs: 60_000 });
  server.create('pods', pod('prod', 'unseen', '10.6.0.9'));
  await converged(h);
  assert.ok(h.resource('pods').relists >= 1, 'found by a resync, not by the silent watch');
  await waitFor('every resource to resync', () =>
    h.watch.status().resources.every((r) => r.relists >= 2),
  );
  assert.equal(h.clusters.length, 2, 'resyncs that change nothing make no Cluster');
  assert.deepEqual(h.errors, []);
});

test('kube source: an API that is not served reads as empty, is said once, and is found later', async (t) => {
  const served = ['namespaces', 'pods', 'nodes', 'networkpolicies', 'services', 'endpointslices'];
  const server = await startServer(t, { resources: served });
  seed(server, 5, false);
  const h = await startSource(t, server);
  assert.deepEqual(h.latest().clusterNetworkPolicies, []);
  assert.equal(h.resource('clusternetworkpolicies').state, 'absent');
  await waitFor(
    'two more looks',
    () => server.countRequests('list', 'clusternetworkpolicies') >= 3,
  );
  const absent = kubeErrors(h.errors, 'WEFT_KUBE_ABSENT');
  assert.equal(absent.length, 1, 'said once, though looked for again');
  assert.match(
    absent[0]?.message ?? '',
    /clusternetworkpolicies: .* is not served .* treating ClusterNetworkPolicys as none/,
  );
  server.serve('clusternetworkpolicies', true);
  server.create('clusternetworkpolicies', cnp('arrived', 1));
  await converged(h);
  assert.equal(h.latest().clusterNetworkPolicies[0]?.name, 'arrived');
  await waitFor('the watch', () => h.resource('clusternetworkpolicies').state === 'watching');
});

test('kube source: an invalid policy is reported by object and field, and left out', async (t) => {
  const server = await startServer(t);
  seed(server, 5);
  const bad = np('prod', 'bad');
  (bad['spec'] as Record<string, unknown>)['policyTypes'] = ['Ingress', 'Sideways'];
  server.create('networkpolicies', bad);
  const h = await startSource(t, server);
  const errs = h.errors.filter((e): e is WeftError => e instanceof WeftError);
  assert.deepEqual(
    errs.flatMap((e) => e.issues.map((i) => [i.object, i.field, i.code])),
    [['NetworkPolicy prod/bad', 'spec.policyTypes[1]', 'WEFT_INVALID_FIELD']],
  );
  assert.equal(h.latest().networkPolicies.length, 4);
  assert.equal(h.watch.status().invalidObjects, 1);
  server.update('networkpolicies', np('prod', 'bad'));
  await converged(h);
  assert.equal(h.latest().networkPolicies.length, 5);
  assert.equal(h.watch.status().invalidObjects, 0);
  assert.equal(errs.length, 1, 'reported once');
});
