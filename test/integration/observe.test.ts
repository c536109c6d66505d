// Flow observability in the lab: real packets through real agents, read back
// with `weft observe`, `weft status` and /metrics. A denied connection shows
// up within a second naming its pods and policy; an allowed one shows its
// start and its end with counters; each filter keeps exactly the flows it
// should; a 50k-connection burst leaves the agents up, with every loss counted.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Flow, FlowEndpoint } from '../../src/core/flows/types.js';
import { repoRoot } from '../../src/testing/paths.js';
import { TestLab } from '../support/lab.js';
import { AgentRoutes, type RouteBase } from '../../src/api/routes.js';
import { agentAt } from '../support/sandbox.js';

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: obs, labels: { team: obs } }
---
apiVersion: v1
kind: Pod
metadata: { namespace: obs, name: server, labels: { app: server } }
spec:
  nodeName: node-2
  containers:
    - name: s
      image: s
      ports: [{ containerPort: 80 }, { containerPort: 53, protocol: UDP }]
---
apiVersion: v1
kind: Pod
metadata: { namespace: obs, name: friend, labels: { app: friend } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: obs, name: stranger, labels: { app: stranger } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: obs, name: intruder, labels: { app: intruder } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: obs, name: sink, labels: { app: sink } }
spec: { nodeName: node-2, containers: [{ name: c, image: c, ports: [{ containerPort: 9 }] }] }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { namespace: obs, name: server-from-friend }
spec:
  podSelector: { matchLabels: { app: server } }
  policyTypes: [Ingress]
  ingress:
    - from: [{ podSelector: { matchLabels: { app: friend } } }]
      ports: [{ port: 80 }, { port: 53, protocol: UDP }]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: { name: no-intruders }
spec:
  tier: Admin
  priority: 5
  subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: server } } } }
  ingress:
    - name: deny-intruder
      action: Deny
      from: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: intruder } } } }]
`;

interface Lines {
  readonly lines: { at: number; flow: Flow }[];
  stop(): void;
}

/** `weft observe --follow -o json` as a child; each line with the time it arrived. */
function follow(lab: TestLab, ...args: string[]): Lines {
  const child = spawn(
    process.execPath,
    [
      join(repoRoot(), 'bin/weft.js'),
      'observe',
      '--lab',
      lab.name,
      '--follow',
      '-o',
      'json',
      ...args,
    ],
    { env: { ...process.env, WEFT_LAB_ROOT: lab.root }, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const lines: { at: number; flow: Flow }[] = [];
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts)
      if (l.trim()) lines.push({ at: Date.now(), flow: JSON.parse(l) as Flow });
  });
  return { lines, stop: () => child.kill('SIGINT') };
}

async function observe(lab: TestLab, ...args: string[]): Promise<Flow[]> {
  const r = await lab.weft('observe', '--lab', lab.name, '-o', 'json', ...args);
  assert.equal(r.code, 0, `observe ${args.join(' ')}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Flow);
}

async function until<T>(what: string, ms: number, get: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms / 1000} s`);
}

const isPod = (e: FlowEndpoint, key: string) =>
  e.kind === 'pod' && `${e.namespace}/${e.pod}` === key;

function nodeSocket(lab: TestLab, node: string): string {
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as {
    nodes: { name: string; socket: string; agentPid: number }[];
  };
  const n = state.nodes.find((x) => x.name === node);
  assert.ok(n, node);
  return n.socket;
}

function get(socket: string, route: RouteBase): Promise<{ status: number; text: string }> {
  return agentAt(socket, 5000)
    .exchange(route)
    .then((r) => ({ status: r.status, text: r.body }));
}

/** One connection the policies drop: obs/stranger to obs/server on 80/TCP. */
function probeStranger(lab: TestLab): Promise<string> {
  return lab.lab(
    'probe',
    '--from',
    'obs/stranger',
    '--to',
    'obs/server',
    '--port',
    '80/TCP',
    '--timeout-ms',
    '300',
  );
}

async function upLab(t: test.TestContext): Promise<TestLab> {
  const lab = TestLab.create(t);
  const file = join(lab.root, 'obs.yaml');
  writeFileSync(file, MANIFESTS);
  await lab.lab('up', '--nodes', '2', '-f', file);
  return lab;
}

test('observe: a denied connection within a second, naming pods and policy; an allowed one starts and ends with counts', async (t) => {
  const lab = await upLab(t);
  const live = follow(lab, '--verdict', 'dropped');
  t.after(() => live.stop());
  await new Promise((r) => setTimeout(r, 1500)); // the follower connects
  const t0 = Date.now();
  await probeStranger(lab);
  const seen = await until('the stranger drop in observe --follow', 3000, async () =>
    live.lines.find(
      (l) => isPod(l.flow.source, 'obs/stranger') && isPod(l.flow.destination, 'obs/server'),
    ),
  );
  const d = seen.flow;
  // From the kernel's drop to the line in `observe --follow`; t0 also counts
  // starting `weft lab probe` and its prober inside the pod.
  t.diagnostic(`visible ${seen.at - d.time} ms after the drop, ${seen.at - t0} ms after t0`);
  assert.ok(d.time >= t0 - 50, 'the drop is this probe');
  assert.ok(seen.at - d.time < 1000, `visible ${seen.at - d.time} ms after the drop`);
  assert.equal(d.verdict, 'dropped');
  assert.equal(d.event, 'drop');
  assert.equal(d.node, 'node-2');
  assert.equal(d.direction, 'ingress');
  assert.equal(d.destination.port, 80);
  assert.deepEqual(d.tcpFlags, ['SYN']);
  assert.deepEqual(d.decidedBy, {
    kind: 'isolation',
    isolatedBy: [{ kind: 'NetworkPolicy', namespace: 'obs', name: 'server-from-friend' }],
  });
  assert.ok(
    live.lines.every((l) => l.flow.verdict === 'dropped'),
    'the follower filters',
  );

  // An Admin-tier Deny names its rule.
  await lab.lab(
    'probe',
    '--from',
    'obs/intruder',
    '--to',
    'obs/server',
    '--port',
    '80/TCP',
    '--timeout-ms',
    '300',
  );
  const [denied] = await until('the intruder drop', 3000, async () => {
    const f = await observe(lab, '--verdict', 'dropped', '--from-pod', 'obs/intruder');
    return f.length ? f : undefined;
  });
  assert.equal(denied?.decidedBy.kind, 'rule');
  assert.deepEqual(denied?.decidedBy.kind === 'rule' ? denied.decidedBy.rule : undefined, {
    policy: { kind: 'ClusterNetworkPolicy', name: 'no-intruders', tier: 'Admin', priority: 5 },
    direction: 'ingress',
    index: 0,
    name: 'deny-intruder',
  });

  // Allowed: a start on both nodes (egress out of node-1, ingress into node-2), then the end:
  // TIME_WAIT (10 s in the agents' namespaces) plus at most one sweep (5 s) after the close.
  await lab.lab('probe', '--from', 'obs/friend', '--to', 'obs/server', '--port', '80/TCP');
  const flows = await until('start and end of friend -> server', 30_000, async () => {
    const f = await observe(
      lab,
      '--from-pod',
      'obs/friend',
      '--to-pod',
      'obs/server',
      '--port',
      '80',
    );
    const ends = f.filter((x) => x.event === 'end');
    return ends.length >= 2 ? f : undefined;
  });
  const ingressStart = flows.find((f) => f.event === 'start' && f.direction === 'ingress');
  const egressStart = flows.find((f) => f.event === 'start' && f.direction === 'egress');
  assert.equal(ingressStart?.node, 'node-2');
  assert.equal(egressStart?.node, 'node-1');
  assert.equal(ingressStart?.verdict, 'forwarded');
  assert.deepEqual(ingressStart?.decidedBy, {
    kind: 'rule',
    rule: {
      policy: { kind: 'NetworkPolicy', namespace: 'obs', name: 'server-from-friend' },
      direction: 'ingress',
      index: 0,
    },
  });
  assert.deepEqual(egressStart?.decidedBy, { kind: 'default' }, 'no egress policy on friend');
  for (const end of flows.filter((f) => f.event === 'end')) {
    assert.ok(end.event === 'end');
    // A TCP exchange: handshake, request, answer, close — packets and bytes both ways.
    assert.ok(end.counters.original.packets >= 3, JSON.stringify(end.counters));
    assert.ok(end.counters.reply.packets >= 2, JSON.stringify(end.counters));
    assert.ok(end.counters.original.bytes > 100 && end.counters.reply.bytes > 100);
    assert.ok(end.time > (ingressStart?.time ?? Infinity));
  }
});

/** What each filter must keep, judged on the JSON by the test itself. */
const FILTERS: [string[], (f: Flow) => boolean][] = [
  [['--from-pod', 'obs/friend'], (f) => isPod(f.source, 'obs/friend')],
  [['--to-pod', 'obs/server'], (f) => isPod(f.destination, 'obs/server')],
  [
    ['--pod', 'obs/stranger'],
    (f) => isPod(f.source, 'obs/stranger') || isPod(f.destination, 'obs/stranger'),
  ],
  [['--namespace', 'obs'], (f) => f.source.kind === 'pod' || f.destination.kind === 'pod'],
  [
    ['--from-label', 'app=intruder'],
    (f) => f.source.kind === 'pod' && f.source.labels['app'] === 'intruder',
  ],
  [
    ['--to-label', 'app in (server)'],
    (f) => f.destination.kind === 'pod' && f.destination.labels['app'] === 'server',
  ],
  [['--port', '53'], (f) => f.source.port === 53 || f.destination.port === 53],
  [['--protocol', 'udp'], (f) => f.protocol === 'UDP'],
  [['--verdict', 'forwarded'], (f) => f.verdict === 'forwarded'],
  [['--event', 'start'], (f) => f.event === 'start'],
  [
    ['--policy', 'obs/server-from-friend'],
    (f) =>
      (f.decidedBy.kind === 'rule' && f.decidedBy.rule.policy.name === 'server-from-friend') ||
      (f.decidedBy.kind === 'isolation' &&
        f.decidedBy.isolatedBy.some((p) => p.name === 'server-from-friend')),
  ],
  [
    ['--policy', 'no-intruders'],
    (f) => f.decidedBy.kind === 'rule' && f.decidedBy.rule.policy.name === 'no-intruders',
  ],
  [['--node', 'node-1'], (f) => f.node === 'node-1'],
  [['--node', 'node-*', '--verdict', 'dropped'], (f) => f.verdict === 'dropped'],
];

test('observe: every filter keeps exactly the flows it names', async (t) => {
  const lab = await upLab(t);
  for (const [from, port] of [
    ['obs/friend', '80/TCP'],
    ['obs/friend', '53/UDP'],
    ['obs/stranger', '80/TCP'],
    ['obs/intruder', '53/UDP'],
    ['obs/friend', '9/TCP'],
  ] as const)
    await lab.lab(
      'probe',
      '--from',
      from,
      '--to',
      port === '9/TCP' ? 'obs/sink' : 'obs/server',
      '--port',
      port,
      '--timeout-ms',
      '300',
    );
  await new Promise((r) => setTimeout(r, 500));
  // A fixed window: flows recorded later (ends) do not change the answers.
  const until_ = new Date().toISOString();
  const all = await observe(lab, '--until', until_);
  assert.ok(all.some((f) => f.verdict === 'dropped') && all.some((f) => f.verdict === 'forwarded'));
  assert.ok(all.some((f) => f.protocol === 'UDP') && all.some((f) => f.node === 'node-1'));
  const key = (f: Flow) => JSON.stringify(f);
  for (const [args, keep] of FILTERS) {
    const got = await observe(lab, '--until', until_, ...args);
    const want = all.filter(keep);
    assert.ok(
      (want.length > 0 && want.length < all.length) || args.includes('--namespace'),
      `${args.join(' ')} narrows (${want.length}/${all.length})`,
    );
    assert.deepEqual(got.map(key).sort(), want.map(key).sort(), args.join(' '));
  }
  const last = await observe(lab, '--until', until_, '--last', '3');
  assert.deepEqual(last.map(key), all.slice(-3).map(key), '--last 3: the newest three, in order');
  const none = await observe(lab, '--since', new Date(Date.now() + 60_000).toISOString());
  assert.deepEqual(none, [], '--since in the future');
});

/** Sends `n` UDP datagrams from one socket, each to its own destination port (one conntrack entry each). */
const BURST = (dst: string, n: number) => `
const s = require('node:dgram').createSocket('udp4');
const b = Buffer.alloc(16);
let i = 0, done = 0;
function more() {
  for (let k = 0; k < 500 && i < ${n}; k++, i++)
    s.send(b, 10000 + (i % 50000), '${dst}', () => { if (++done === ${n}) s.close(); });
  if (i < ${n}) setImmediate(more);
}
more();`;

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

test('observe: a burst of 50k connections leaves the agents up; what was not recorded is counted as lost', async (t) => {
  const lab = await upLab(t);
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as {
    pods: Record<string, { ips: string[] }>;
  };
  const sink = state.pods['obs/sink']?.ips[0];
  assert.ok(sink);
  const N = 50_000;
  const sockets = { 'node-1': nodeSocket(lab, 'node-1'), 'node-2': nodeSocket(lab, 'node-2') };
  const before: Record<string, number> = {};
  for (const [node, s] of Object.entries(sockets))
    before[node] = metric((await get(s, AgentRoutes.metrics)).text, 'weft_flows_total', {
      event: 'start',
    });
  const t0 = Date.now();
  const r = await lab.weft(
    'lab',
    'exec',
    '--name',
    lab.name,
    'obs/friend',
    '--',
    process.execPath,
    '-e',
    BURST(sink, N),
  );
  assert.equal(r.code, 0, r.stderr);
  // While the agents digest it, they answer.
  const during = await get(sockets['node-1'], AgentRoutes.status);
  assert.equal(during.status, 200);
  // Wait until the counts, recorded and lost, stop moving on both nodes (bounded): lost
  // events are counted when the agent reads the conntrack table a second after an
  // overflow and waits 2 s for stragglers.
  let last = '';
  for (let i = 0, still = 0; i < 90 && still < 8; i++) {
    await new Promise((res) => setTimeout(res, 500));
    const now: number[] = [];
    for (const s of Object.values(sockets)) {
      const text = (await get(s, AgentRoutes.metrics)).text;
      now.push(metric(text, 'weft_flows_total', { event: 'start' }));
      now.push(metric(text, 'weft_flow_events_lost_total'));
    }
    still = now.join() === last ? still + 1 : 0;
    last = now.join();
  }
  t.diagnostic(`burst sent in ${Date.now() - t0} ms`);
  for (const [node, s] of Object.entries(sockets)) {
    const status = JSON.parse((await get(s, AgentRoutes.status)).text) as {
      ready: boolean;
      health: string;
      flows: {
        seen: number;
        lost: number;
        losses: Record<string, number>;
        readers: Record<string, string>;
      };
    };
    const text = (await get(s, AgentRoutes.metrics)).text;
    assert.equal(status.ready, true, `${node} is up`);
    assert.deepEqual(status.flows.readers, { nflog: 'running', conntrack: 'running' }, node);
    const started =
      metric(text, 'weft_flows_total', {
        event: 'start',
        direction: node === 'node-1' ? 'egress' : 'ingress',
      }) - (before[node] ?? 0);
    const lost = metric(text, 'weft_flow_events_lost_total');
    t.diagnostic(
      `${node}: ${started} of ${N} starts recorded, lost ${lost} (${JSON.stringify(status.flows.losses)})`,
    );
    // /metrics and status agree on what was lost.
    assert.equal(lost, status.flows.lost, `${node}: status and /metrics`);
    assert.equal(
      Object.values(status.flows.losses).reduce((a, b) => a + b, 0),
      status.flows.lost,
    );
    // Every connection was recorded, or the loss shows.
    assert.ok(started <= N, `${node}: ${started} starts`);
    assert.ok(
      started === N || lost > 0,
      `${node}: ${N - started} starts missing and no loss counted`,
    );
    assert.ok(started > N / 10, `${node}: the pipeline kept up with some of it (${started})`);
  }
  // Flows still come through afterwards.
  await probeStranger(lab);
  await until('a drop after the burst', 5000, async () => {
    const f = await observe(lab, '--from-pod', 'obs/stranger', '--verdict', 'dropped');
    return f.length ? f : undefined;
  });
});
