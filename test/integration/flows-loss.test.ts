// A burst of allowed connections and of denied SYNs through real agents: what
// the agents did not record, they counted, cause by cause — recorded plus
// counted as lost is at least what was sent.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestLab } from '../support/lab.js';
import { agentAt, agentGet } from '../support/sandbox.js';
import { friendServerManifests } from '../support/friend-server.js';
import { AgentRoutes } from '../../src/api/routes.js';
import type { FlowStats } from '../../src/api/types.js';

const MANIFESTS = friendServerManifests('loss');

/** Sizes: each burst takes a few seconds on two busy cores. */
const ALLOWED = 20_000;
const DENIED = 20_000;

/** `n` short connections, `conc` at a time: connect, send, close. Prints those that connected. */
const CONNECTIONS = (dst: string, n: number, conc: number) => `
const net = require('node:net');
let started = 0, ok = 0, done = 0;
function one() {
  if (started >= ${n}) return;
  started++;
  const s = net.connect(80, '${dst}');
  s.on('connect', () => { ok++; s.end('x'); });
  s.on('data', () => {});
  s.on('error', () => {});
  s.on('close', () => { if (++done === ${n}) console.log(ok); else one(); });
}
for (let i = 0; i < ${conc}; i++) one();`;

/**
 * \`n\` SYNs, one per socket: each socket is closed 100 ms after its connect,
 * before the first retransmission (1 s), so each sends exactly one SYN.
 * Prints how many connects were issued without an error.
 */
const SYNS = (dst: string, n: number, conc: number) => `
const net = require('node:net');
let started = 0, sent = 0, done = 0;
function one() {
  if (started >= ${n}) return;
  started++;
  let failed = false;
  const s = net.connect(80, '${dst}');
  s.on('error', () => { failed = true; });
  setTimeout(() => {
    if (!failed) sent++;
    s.destroy();
    if (++done === ${n}) console.log(sent); else one();
  }, 100);
}
for (let i = 0; i < ${conc}; i++) one();`;

function metrics(socket: string): Promise<string> {
  return agentAt(socket, 5000).text(AgentRoutes.metrics);
}

function metric(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function countsOf(socket: string) {
  const text = await metrics(socket);
  const status = await agentGet(socket, AgentRoutes.status);
  const flows = (labels: Record<string, string>) => metric(text, 'weft_flows_total', labels);
  return {
    ingressStarts: flows({ event: 'start', direction: 'ingress' }),
    egressStarts: flows({ event: 'start', direction: 'egress' }),
    ingressEnds: flows({ event: 'end', direction: 'ingress' }),
    egressEnds: flows({ event: 'end', direction: 'egress' }),
    drops: flows({ event: 'drop' }),
    lostMetric: metric(text, 'weft_flow_events_lost_total', {}),
    ...(status.flows as FlowStats),
  };
}

/** Until `get` returns the same value twice 2 s apart, and `done` holds for it (bounded). */
async function settle<T>(ms: number, get: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  let last = JSON.stringify(await get());
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    const v = await get();
    const now = JSON.stringify(v);
    if ((now === last && done(v)) || Date.now() > deadline) return v;
    last = now;
  }
}

async function upLossLab(t: test.TestContext) {
  const lab = TestLab.create(t);
  const file = join(lab.root, 'loss.yaml');
  writeFileSync(file, MANIFESTS);
  await lab.lab('up', '--nodes', '2', '-f', file);
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as {
    nodes: { name: string; socket: string }[];
    pods: Record<string, { ips: string[] }>;
  };
  const server = state.pods['loss/server']?.ips[0];
  assert.ok(server);
  const sock = (n: string) => state.nodes.find((x) => x.name === n)?.socket ?? '';
  return { lab, server, n1: sock('node-1'), n2: sock('node-2') };
}

test('burst: 20k denied SYNs; drops recorded plus those the log rate limit refused (nft counters) account for every one', async (t) => {
  const { lab, server, n2 } = await upLossLab(t);
  const before = await countsOf(n2);
  const t0 = Date.now();
  const syns = Number(
    (
      await lab.lab(
        'exec',
        'loss/stranger',
        '--',
        process.execPath,
        '-e',
        SYNS(server, DENIED, 512),
      )
    ).trim(),
  );
  t.diagnostic(`${syns} SYNs sent in ${Date.now() - t0} ms`);
  assert.ok(syns > DENIED * 0.9, `${syns} of ${DENIED} SYNs sent`);
  const after = await settle(
    20_000,
    () => countsOf(n2),
    () => true,
  );
  const drops = after.drops - before.drops;
  const l = after.losses;
  t.diagnostic(`node-2: ${drops} drops recorded of ${syns} SYNs; losses ${JSON.stringify(l)}`);
  assert.equal(after.lostMetric, after.lost, '/metrics and status agree');
  assert.ok(l.dropLogLimit > 0, 'the rate limit refused some: counted');
  assert.ok(
    drops + l.dropLogLimit + l.nflogQueue + l.nflogKernel + l.malformed >= syns,
    `${drops} drops + ${l.dropLogLimit} over the limit account for ${syns} SYNs`,
  );
  // Not counted twice: what is recorded plus counted is not more than was sent.
  assert.ok(drops + l.dropLogLimit <= syns + 50, `${drops} + ${l.dropLogLimit} vs ${syns}`);
});

test('burst: 20k allowed connections; starts and ends recorded plus counted as lost account for every one', async (t) => {
  const { lab, server, n1, n2 } = await upLossLab(t);
  const before1 = await countsOf(n1);
  const before2 = await countsOf(n2);
  const t0 = Date.now();
  const connected = Number(
    (
      await lab.lab(
        'exec',
        'loss/friend',
        '--',
        process.execPath,
        '-e',
        CONNECTIONS(server, ALLOWED, 64),
      )
    ).trim(),
  );
  t.diagnostic(`${connected} connections in ${Date.now() - t0} ms`);
  assert.ok(connected > ALLOWED * 0.9, `${connected} of ${ALLOWED} connected`);
  // Ends come after TIME_WAIT (10 s) and a sweep (5 s).
  type Counts = Awaited<ReturnType<typeof countsOf>>;
  const ended = (c: Counts, b: Counts, dir: 'ingress' | 'egress') =>
    c[`${dir}Ends`] - b[`${dir}Ends`] + c.losses.conntrackQueue + c.losses.conntrackKernel >=
    connected;
  const after2 = await settle(
    60_000,
    () => countsOf(n2),
    (c) => ended(c, before2, 'ingress'),
  );
  const after1 = await settle(
    20_000,
    () => countsOf(n1),
    (c) => ended(c, before1, 'egress'),
  );
  const results = [
    ['node-1', before1, after1, 'egress'],
    ['node-2', before2, after2, 'ingress'],
  ] as const;
  for (const [node, b, a, dir] of results) {
    const starts = a[`${dir}Starts`] - b[`${dir}Starts`];
    const ends = a[`${dir}Ends`] - b[`${dir}Ends`];
    t.diagnostic(
      `${node}: ${starts} starts, ${ends} ends of ${connected}; losses ${JSON.stringify(a.losses)}`,
    );
  }
  for (const [node, b, a, dir] of results) {
    const starts = a[`${dir}Starts`] - b[`${dir}Starts`];
    const ends = a[`${dir}Ends`] - b[`${dir}Ends`];
    const l = a.losses;
    assert.equal(a.lostMetric, a.lost, `${node}: /metrics and status agree`);
    const lost = l.conntrackQueue + l.conntrackKernel + l.malformed;
    assert.ok(starts + ends + lost >= 2 * connected, `${node}: starts and ends accounted for`);
  }
});
