// The policy dataplane's promises, with real packets in a lab running the
// examples (examples/demo.yaml + examples/policies.yaml): node-to-pod traffic
// stays allowed, a new pod is isolated before its ADD returns, a policy that
// starts denying a flow stops its established connections, and an agent
// restart opens no window for denied traffic.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import { repoRoot } from '../../src/testing/paths.js';
import { TestLab } from '../support/lab.js';

interface State {
  nodes: { name: string; netns: string }[];
  pods: Record<string, { node: string; netns: string; ips: string[] }>;
}

/** Sends a byte every 50 ms on one TCP connection for `duration` ms; prints `sent got`. */
const STREAM = `
const net = require('node:net');
const [host, port, duration] = process.argv.slice(1);
let sent = 0, got = 0;
const s = net.connect({ host, port: Number(port) });
s.on('data', (d) => { got += d.length; });
s.on('error', () => {});
const timer = setInterval(() => { s.write('x'); sent++; }, 50);
setTimeout(() => { clearInterval(timer); setTimeout(() => { console.log(sent + ' ' + got); process.exit(0); }, 700); }, Number(duration));
`;

/** Tries a new TCP connection every 20 ms for `duration` ms (150 ms timeout each); prints `attempts connected`. */
const HAMMER = `
const net = require('node:net');
const [host, port, duration] = process.argv.slice(1);
let attempts = 0, connected = 0;
const end = Date.now() + Number(duration);
const tick = () => {
  if (Date.now() > end) { setTimeout(() => { console.log(attempts + ' ' + connected); process.exit(0); }, 200); return; }
  attempts++;
  const s = net.connect({ host, port: Number(port), timeout: 150 }, () => { connected++; s.destroy(); });
  s.on('timeout', () => s.destroy());
  s.on('error', () => {});
  setTimeout(tick, 20);
};
tick();
`;

async function upExamples(t: test.TestContext): Promise<{ lab: TestLab; state: () => State }> {
  const lab = TestLab.create(t);
  await lab.lab('up', '--nodes', '2', '-f', join(repoRoot(), 'examples'));
  return { lab, state: () => JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as State };
}

test("traffic from a pod's own node reaches it through default deny; another node's does not", async (t) => {
  const { state } = await upExamples(t);
  const s = state();
  const db = s.pods['shop/db'];
  assert.ok(db);
  const own = s.nodes.find((n) => n.name === db.node);
  const other = s.nodes.find((n) => n.name !== db.node);
  const probe = (ns: string) =>
    run('ip', [
      'netns',
      'exec',
      ns,
      process.execPath,
      '-e',
      HAMMER,
      db.ips[0] ?? '',
      '5432',
      '300',
    ]).then((o) => o.trim().split(' ').map(Number));
  const [, fromOwn] = await probe(own?.netns ?? '');
  assert.ok((fromOwn ?? 0) > 0, 'kubelet-style probes from the own node connect');
  const [, fromOther] = await probe(other?.netns ?? '');
  assert.equal(fromOther, 0, 'another node is not the own node: isolated');
});

test('a new pod is isolated before its ADD returns', async (t) => {
  const { lab, state } = await upExamples(t);
  const file = join(lab.root, 'new.yaml');
  writeFileSync(
    file,
    'apiVersion: v1\nkind: Pod\nmetadata: {namespace: shop, name: cache, labels: {app: cache}}\n' +
      'spec: {containers: [{name: c, image: i, ports: [{containerPort: 6379}]}]}\n',
  );
  await lab.lab('apply', '-f', file);
  // The moment apply returns, the pod's node already holds its policy.
  const cache = state().pods['shop/cache'];
  assert.ok(cache);
  const node = state().nodes.find((n) => n.name === cache.node);
  const table = await run('ip', [
    'netns',
    'exec',
    node?.netns ?? '',
    'nft',
    'list',
    'map',
    'inet',
    'weft',
    'ingress4',
  ]);
  assert.ok(
    table.includes(`${cache.ips[0]} : jump`),
    `ingress of ${cache.ips[0]} is dispatched:\n${table}`,
  );
  const [m] = await lab.probe('--port', '6379/TCP', '--to', 'shop/cache', '--timeout-ms', '300');
  assert.equal(
    m?.['tools/loadgen']?.['shop/cache'],
    false,
    'shop default-deny isolates the new pod',
  );
  // The live trace reads the IR the agents enforce, and names why.
  const trace = await lab.weft(
    'policy',
    'trace',
    '--lab',
    lab.name,
    '--from',
    'tools/loadgen',
    '--to',
    'shop/cache',
    '--port',
    '6379/TCP',
  );
  assert.equal(trace.code, 0, trace.stderr);
  assert.match(trace.stdout, /verdict\s+DENIED/);
  assert.match(
    trace.stdout,
    /shop\/cache is isolated for ingress by NetworkPolicy shop\/default-deny/,
  );
});

test('a policy that starts denying a flow stops its established connection', async (t) => {
  const { lab, state } = await upExamples(t);
  const s = state();
  const client = s.pods['tools/loadgen'];
  const web = s.pods['shop/frontend'];
  assert.ok(client && web);
  const stream = run('ip', [
    'netns',
    'exec',
    client.netns,
    process.execPath,
    '-e',
    STREAM,
    web.ips[0] ?? '',
    '80',
    '2500',
  ]);
  await new Promise((r) => setTimeout(r, 800));
  const closed = join(lab.root, 'closed.yaml');
  writeFileSync(
    closed,
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: shop, name: frontend-open}\n' +
      'spec: {podSelector: {matchLabels: {app: frontend}}, ingress: []}\n',
  );
  await lab.lab('apply', '-f', closed);
  const [sent, got] = (await stream).trim().split(' ').map(Number);
  assert.ok((got ?? 0) > 5, `the connection worked before the change (${got} echoes)`);
  assert.ok(
    (got ?? 0) < (sent ?? 0) - 10,
    `after the change its packets are dropped (${got} of ${sent} echoed)`,
  );
});

test('an agent restart keeps enforcing (no window for denied traffic) and keeps established connections', async (t) => {
  const { lab, state } = await upExamples(t);
  const s = state();
  const loadgen = s.pods['tools/loadgen'];
  const db = s.pods['shop/db'];
  const frontend = s.pods['shop/frontend'];
  const api = s.pods['shop/api'];
  assert.ok(loadgen && db && frontend && api);
  const denied = run('ip', [
    'netns',
    'exec',
    loadgen.netns,
    process.execPath,
    '-e',
    HAMMER,
    db.ips[0] ?? '',
    '5432',
    '3000',
  ]);
  const allowed = run('ip', [
    'netns',
    'exec',
    frontend.netns,
    process.execPath,
    '-e',
    STREAM,
    api.ips[0] ?? '',
    '8080',
    '3000',
  ]);
  await new Promise((r) => setTimeout(r, 400));
  for (const n of s.nodes) await lab.lab('restart', n.name);
  const [attempts, connected] = (await denied).trim().split(' ').map(Number);
  assert.ok((attempts ?? 0) > 20, `denied flow was tried throughout (${attempts} attempts)`);
  assert.equal(connected, 0, 'no denied connection got through while the agents restarted');
  const [sent, got] = (await allowed).trim().split(' ').map(Number);
  assert.equal(got, sent, `the established allowed connection lost nothing (${got} of ${sent})`);
});
