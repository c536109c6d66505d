import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterFrom, docs, namespace, pod } from '../testing/policy.js';
import { compilePolicies } from '../core/policy/compile.js';
import type { Flow, FlowEndpoint } from '../core/flows/types.js';
import { formatIp } from '../core/net/ip.js';
import type { Cluster } from '../core/model/types.js';
import { FlowFeed, type FlowStream } from './feed.js';
import type { PolicySource } from './policy-source.js';
import { createUiServer } from './server.js';
import { HostNames } from '../core/listen/host.js';
import { ListenerMetrics } from '../listen/metrics.js';

const cluster: Cluster = clusterFrom(
  docs(
    namespace('shop'),
    namespace('tools'),
    pod('shop', 'api', { app: 'api' }, { node: 'node-1', ports: [{ port: 8080 }] }),
    pod('shop', 'db', { app: 'db' }, { node: 'node-2', ports: [{ port: 5432 }] }),
    pod('tools', 'loadgen', {}, { node: 'node-1' }),
    JSON.stringify({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { namespace: 'shop', name: 'db-only-api' },
      spec: {
        podSelector: { matchLabels: { app: 'db' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }] }],
      },
    }),
  ),
);

function ep(key: string, port?: number): FlowEndpoint {
  const p = cluster.pods.find((x) => `${x.namespace}/${x.name}` === key);
  if (!p) throw new Error(key);
  return {
    kind: 'pod',
    ip: formatIp(p.ips[0]!),
    ...(port !== undefined ? { port } : {}),
    namespace: p.namespace,
    pod: p.name,
    labels: p.labels,
  };
}

const now = Date.now();
const allowed: Flow = {
  time: now - 2000,
  node: 'node-1',
  direction: 'egress',
  source: ep('shop/api', 40000),
  destination: ep('shop/db', 5432),
  protocol: 'TCP',
  ipProtocol: 6,
  event: 'start',
  verdict: 'forwarded',
  decidedBy: { kind: 'default' },
};
const dropped: Flow = {
  ...allowed,
  time: now - 1000,
  node: 'node-2',
  direction: 'ingress',
  source: ep('tools/loadgen', 41000),
  event: 'drop',
  verdict: 'dropped',
  decidedBy: {
    kind: 'isolation',
    isolatedBy: [{ kind: 'NetworkPolicy', namespace: 'shop', name: 'db-only-api' }],
  },
};

/** Yields the flows, then whatever `more` is given, until aborted. */
function fakeStream(flows: Flow[]): { stream: FlowStream; push: (f: Flow) => void } {
  const queue = [...flows];
  let wake: (() => void) | undefined;
  return {
    push: (f) => {
      queue.push(f);
      wake?.();
    },
    stream: async function* (signal) {
      signal.addEventListener('abort', () => wake?.());
      while (!signal.aborted) {
        const f = queue.shift();
        if (f) yield f;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

const policy: PolicySource = {
  irs: async () => ({
    irs: ['node-1', 'node-2'].map((node) => ({
      node,
      ir: compilePolicies(cluster, (p) => p.nodeName === node),
    })),
    errors: [],
  }),
  cluster: async () => cluster,
};

async function serve(t: TestContext, flows: Flow[]) {
  const assets = mkdtempSync(join(tmpdir(), 'weft-ui-'));
  writeFileSync(join(assets, 'index.html'), '<!doctype html><title>weft</title>');
  writeFileSync(join(assets, 'app.js'), 'console.log(1)');
  writeFileSync(join(assets, 'app.css'), 'body{}');
  const fake = fakeStream(flows);
  const feed = new FlowFeed(fake.stream, { capacity: 100 });
  feed.start();
  const server = createUiServer({
    feed,
    policy,
    title: 'test',
    assets,
    guard: {
      listener: 'ui',
      rule: () => ({ nodes: [], allow: [] }),
      hosts: { names: new HostNames(['127.0.0.1']), flag: '--ui-host' },
      metrics: new ListenerMetrics(),
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await feed.stop();
    rmSync(assets, { recursive: true, force: true });
  });
  // The feed has taken the initial flows once the status counts them.
  for (let i = 0; i < 100 && feed.status().received < flows.length; i++)
    await new Promise((r) => setTimeout(r, 5));
  const get = async (path: string) => {
    const res = await fetch(base + path);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { base, get, push: fake.push, feed };
}

test('pages and assets are served with a policy that allows nothing outside the server', async (t) => {
  const { base } = await serve(t, []);
  for (const path of ['/', '/trace', '/policy']) {
    const res = await fetch(base + path);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(await res.text(), '<!doctype html><title>weft</title>');
  }
  assert.match((await fetch(`${base}/app.js`)).headers.get('content-type') ?? '', /javascript/);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 405);
});

test('the map aggregates the feed and follows the filters; a bad filter is a 400 naming it', async (t) => {
  const { get } = await serve(t, [allowed, dropped]);
  const all = await get('/api/map');
  const edges = (all.body['map'] as { edges: { id: string; verdict: string }[] }).edges;
  assert.deepEqual(
    edges.map((e) => [e.id, e.verdict]),
    [
      ['shop/app=api->shop/app=db', 'forwarded'],
      ['tools/pod/loadgen->shop/app=db', 'dropped'],
    ],
  );
  const onlyDropped = await get('/api/map?verdict=dropped');
  assert.deepEqual(
    (onlyDropped.body['map'] as { edges: { id: string }[] }).edges.map((e) => e.id),
    ['tools/pod/loadgen->shop/app=db'],
  );
  const byNs = await get('/api/map?namespace=tools');
  assert.equal((byNs.body['map'] as { edges: unknown[] }).edges.length, 1);
  const byLabel = await get('/api/map?label=app%3Dapi');
  assert.equal((byLabel.body['map'] as { edges: unknown[] }).edges.length, 1);
  const old = await get('/api/map?until=1h');
  assert.equal((old.body['map'] as { edges: unknown[] }).edges.length, 0);
  const bad = await get('/api/map?verdict=maybe');
  assert.equal(bad.status, 400);
  assert.match(String(bad.body['error']), /--verdict "maybe": must be one of forwarded, dropped/);
  const unknown = await get('/api/map?colour=red');
  assert.equal(unknown.status, 400);
  assert.match(String(unknown.body['error']), /--colour: unknown flow filter/);
});

test('the stream sends the matching buffered flows, then live ones', async (t) => {
  const { base, push } = await serve(t, [allowed, dropped]);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const res = await fetch(`${base}/api/stream?verdict=dropped`, { signal: ac.signal });
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = res.body!.getReader();
  const events: { id: number; flow: Flow }[] = [];
  let text = '';
  const later: Flow = { ...dropped, time: Date.now() };
  setTimeout(() => push({ ...allowed, time: Date.now() }), 50);
  setTimeout(() => push(later), 100);
  const deadline = Date.now() + 5000;
  while (events.length < 2 && Date.now() < deadline) {
    const { value } = await reader.read();
    text += new TextDecoder().decode(value);
    const parts = text.split('\n\n');
    text = parts.pop() ?? '';
    for (const p of parts)
      if (p.startsWith('data: ')) events.push(JSON.parse(p.slice(6)) as { id: number; flow: Flow });
  }
  assert.deepEqual(
    events.map((e) => [e.id, e.flow.time]),
    [
      [2, dropped.time],
      [4, later.time],
    ],
  );
});

test('trace and policy view answer from the per-node IRs', async (t) => {
  const { get } = await serve(t, [allowed, dropped]);
  const tr = await get('/api/trace?from=tools/loadgen&to=shop/db&port=5432/TCP');
  assert.equal(tr.status, 200);
  assert.equal(tr.body['verdict'], 'denied');
  assert.match(
    String((tr.body['ingress'] as { reason: string }).reason),
    /isolated for ingress by NetworkPolicy shop\/db-only-api/,
  );
  const bad = await get('/api/trace?from=tools/nope&to=shop/db&port=5432/TCP');
  assert.equal(bad.status, 400);
  assert.match(String(bad.body['error']), /from="tools\/nope": is neither a pod/);
  const ws = await get('/api/workloads');
  assert.deepEqual(
    (ws.body['workloads'] as { id: string; pods: string[] }[]).map((w) => [w.id, w.pods]),
    [
      ['shop/app=api', ['shop/api']],
      ['shop/app=db', ['shop/db']],
      ['tools/pod/loadgen', ['tools/loadgen']],
    ],
  );
  const pv = await get('/api/policy?workload=shop%2Fapp%3Ddb');
  const view = pv.body['view'] as {
    ingress: { name: string }[];
    probes: { port: number }[];
    peers: { peer: string; in: { allowed: string }[] }[];
  };
  assert.deepEqual(
    view.ingress.map((p) => p.name),
    ['db-only-api'],
  );
  assert.deepEqual(
    view.probes.map((p) => p.port),
    [5432],
    'the port db declares',
  );
  assert.deepEqual(
    view.peers.map((p) => [p.peer, p.in[0]?.allowed]),
    [
      ['shop/api', 'yes'],
      ['tools/loadgen', 'no'],
    ],
  );
  const none = await get('/api/policy?workload=x');
  assert.equal(none.status, 400);
  assert.match(String(none.body['error']), /pick one of: shop\/app=api/);
});

test('the feed reconnects after a broken stream without repeating flows', async () => {
  let calls = 0;
  const feed = new FlowFeed(
    async function* (signal) {
      calls++;
      // Each connection replays the agents' buffer, then (first time only) breaks.
      yield allowed;
      yield dropped;
      if (calls === 1) throw new Error('agent went away');
      await new Promise<void>((r) => signal.addEventListener('abort', () => r()));
    },
    { capacity: 100 },
  );
  feed.start();
  for (let i = 0; i < 400 && calls < 2; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 20));
  await feed.stop();
  assert.equal(calls, 2);
  assert.deepEqual(
    feed.entries().map((e) => e.flow.time),
    [allowed.time, dropped.time],
  );
});

test('an idle-timed feed follows only while used: opened at the first touch, closed when unused, reopened without repeats', async () => {
  let opens = 0;
  let open = false;
  const feed = new FlowFeed(
    async function* (signal) {
      opens++;
      open = true;
      yield allowed;
      if (opens > 1) yield dropped;
      await new Promise<void>((r) => signal.addEventListener('abort', () => r()));
      open = false;
    },
    { idleMs: 80 },
  );
  const waitFor = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 300 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ok(), what);
  };
  feed.start();
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(opens, 0, 'nothing is followed before a page uses the feed');
  assert.equal(feed.status().idle, true);
  feed.touch();
  await waitFor('followed once touched', () => open && feed.entries().length === 1);
  assert.equal(feed.status().idle, undefined);
  // A page streaming from the feed keeps it open past the idle time.
  const unsubscribe = feed.subscribe(() => undefined);
  await new Promise((r) => setTimeout(r, 250));
  assert.ok(open, 'a subscriber keeps the stream open');
  unsubscribe();
  await waitFor('closed once unused', () => !open && feed.status().idle === true);
  feed.touch();
  await waitFor('reopened', () => feed.entries().length === 2);
  await feed.stop();
  assert.equal(opens, 2);
  assert.deepEqual(
    feed.entries().map((e) => e.flow.time),
    [allowed.time, dropped.time],
    'the replayed flow is not repeated',
  );
});
