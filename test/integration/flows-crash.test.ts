// An agent killed with SIGKILL leaves its tcpdump and conntrack behind; the
// next agent of the node ends them and records flows again — on an idle node
// (where nothing makes the helpers write, so they would run on forever) and
// on a busy one (traffic flowing through the crash).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Flow, FlowEndpoint } from '../../src/core/flows/types.js';
import { TestLab } from '../support/lab.js';
import { agentGet } from '../support/sandbox.js';
import { friendServerManifests } from '../support/friend-server.js';
import { AgentRoutes } from '../../src/api/routes.js';
import type { FlowStats } from '../../src/api/types.js';

const MANIFESTS = friendServerManifests('crash');

interface Proc {
  readonly pid: number;
  readonly name: string;
  /** /proc/PID/stat field 22: tells a process from a later one with its PID. */
  readonly start: string;
}

/** The processes whose parent is `ppid`, read from /proc by this test. */
function childrenOf(ppid: number): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const p = stat(Number(d));
    if (p && p.ppid === ppid) out.push({ pid: Number(d), name: p.name, start: p.start });
  }
  return out;
}

function stat(
  pid: number,
): { name: string; ppid: number; start: string; state: string } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return {
      name: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')),
      state: f[0] ?? '',
      ppid: Number(f[1]),
      start: f[19] ?? '',
    };
  } catch {
    return undefined;
  }
}

/** Still the same process, and not a zombie. */
function running(p: Proc): boolean {
  const s = stat(p.pid);
  return s !== undefined && s.start === p.start && s.state !== 'Z';
}

function agentOf(lab: TestLab, node: string): { pid: number; socket: string } {
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as {
    nodes: { name: string; socket: string; agentPid: number }[];
  };
  const n = state.nodes.find((x) => x.name === node);
  assert.ok(n, node);
  return { pid: n.agentPid, socket: n.socket };
}

async function until<T>(what: string, ms: number, get: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await get();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (${String(last)})` : ''}`);
}

const isPod = (e: FlowEndpoint, key: string) =>
  e.kind === 'pod' && `${e.namespace}/${e.pod}` === key;

async function flowsOf(lab: TestLab, node: string): Promise<Flow[]> {
  const body = await agentGet(agentOf(lab, node).socket, AgentRoutes.flows);
  return [...body.flows];
}

/** Sends SIGKILL to the node's agent; returns its helpers as they were, once it is gone. */
async function crash(lab: TestLab, node: string): Promise<Proc[]> {
  const { pid } = agentOf(lab, node);
  const helpers = childrenOf(pid).filter((p) => p.name === 'tcpdump' || p.name === 'conntrack');
  assert.deepEqual(helpers.map((p) => p.name).sort(), ['conntrack', 'tcpdump'], 'helpers before');
  process.kill(pid, 'SIGKILL');
  await until('the agent to die', 5000, async () => (stat(pid) ? undefined : true));
  return helpers;
}

/** Starts the node's agent again; waits until it is ready. */
async function restart(lab: TestLab, node: string): Promise<number> {
  await lab.lab('restart', node);
  return Date.now();
}

/** Both readers run, a drop and an allowed start of this node come after `since`. */
async function flowsBack(lab: TestLab, node: string, since: number, probe: boolean) {
  const { socket } = agentOf(lab, node);
  const status = await until('both readers running', 45_000, async () => {
    const s = await agentGet(socket, AgentRoutes.status);
    const flows = s.flows as FlowStats;
    return Object.values(flows.readers).every((r) => r === 'running') ? s : undefined;
  });
  assert.equal(status.health, 'ok');
  const fresh = (pred: (f: Flow) => boolean) => async () => {
    if (probe) {
      await lab.lab(...probeArgs('crash/stranger'), '--timeout-ms', '300').catch(() => '');
      await lab.lab(...probeArgs('crash/friend'));
    }
    return (await flowsOf(lab, node)).find((f) => f.time >= since && pred(f));
  };
  const drop = await until(
    'a drop after the restart',
    15_000,
    fresh((f) => f.event === 'drop' && isPod(f.source, 'crash/stranger')),
  );
  assert.ok(isPod(drop.destination, 'crash/server'));
  const start = await until(
    'an allowed start after the restart',
    15_000,
    fresh((f) => f.event === 'start' && isPod(f.source, 'crash/friend')),
  );
  assert.equal(start.verdict, 'forwarded');
}

const probeArgs = (from: string) =>
  ['probe', '--from', from, '--to', 'crash/server', '--port', '80/TCP'] as const;

/** Connections, every 20 ms for `seconds`: allowed from friend, denied from stranger. */
const TRAFFIC = (server: string, seconds: number) => `
const net = require('node:net');
const end = Date.now() + ${seconds * 1000};
const t = setInterval(() => {
  if (Date.now() > end) { clearInterval(t); return; }
  const s = net.connect(80, '${server}');
  s.on('connect', () => s.end('x'));
  s.on('error', () => {});
  s.setTimeout(300, () => s.destroy());
}, 20);`;

test('after SIGKILL the next agent ends the old tcpdump and conntrack and records flows again, idle and busy', async (t) => {
  const lab = TestLab.create(t);
  const file = join(lab.root, 'crash.yaml');
  writeFileSync(file, MANIFESTS);
  await lab.lab('up', '--nodes', '2', '-f', file);

  // Idle: nothing flows, so nothing makes the old helpers write to their closed pipes.
  const idle = await crash(lab, 'node-2');
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(idle.every(running), 'on an idle node the helpers outlive their agent');
  const since1 = await restart(lab, 'node-2');
  await flowsBack(lab, 'node-2', since1, true);
  assert.deepEqual(idle.filter(running), [], 'no helper of the killed agent remains');

  // Busy: traffic from both pods of node-1 to node-2 throughout the crash.
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as {
    pods: Record<string, { ips: string[] }>;
  };
  const server = state.pods['crash/server']?.ips[0];
  assert.ok(server);
  const traffic = ['crash/friend', 'crash/stranger'].map((pod) =>
    lab.weft(
      'lab',
      'exec',
      '--name',
      lab.name,
      pod,
      '--',
      process.execPath,
      '-e',
      TRAFFIC(server, 40),
    ),
  );
  t.after(() => Promise.all(traffic));
  await until('traffic flowing', 10_000, async () => {
    const f = await flowsOf(lab, 'node-2');
    return f.some((x) => x.event === 'drop' && x.time > since1 + 1000) ? true : undefined;
  });
  const busy = await crash(lab, 'node-2');
  const since2 = await restart(lab, 'node-2');
  await flowsBack(lab, 'node-2', since2, false);
  assert.deepEqual(busy.filter(running), [], 'no helper of the killed agent remains');
});

test('a reader that cannot start is tried again with backoff, its reason in weft status', async (t) => {
  const lab = TestLab.create(t);
  const file = join(lab.root, 'crash.yaml');
  writeFileSync(file, MANIFESTS);
  await lab.lab('up', '--nodes', '2', '-f', file);
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as {
    nodes: { name: string; netns: string }[];
  };
  const netns = state.nodes.find((n) => n.name === 'node-2')?.netns;
  assert.ok(netns);
  // Another process, not the agent's, holds the NFLOG group when the agent starts.
  const { pid } = agentOf(lab, 'node-2');
  process.kill(pid, 'SIGTERM');
  await until('the agent to stop', 10_000, async () => (stat(pid) ? undefined : true));
  const holder = spawn(
    'ip',
    ['netns', 'exec', netns, 'tcpdump', '-i', 'nflog:1987', '-w', '/dev/null'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  t.after(() => holder.kill('SIGKILL'));
  let said = '';
  holder.stderr.setEncoding('utf8').on('data', (d: string) => (said += d));
  await until('the group taken', 5000, async () => (/listening on/.test(said) ? true : undefined));
  await lab.lab('restart', 'node-2');
  type Status = {
    agents: {
      node: string;
      status: {
        health: string;
        flows: {
          readers: Record<string, string>;
          retries: Record<string, { failures: number; nextAttemptInMs: number }>;
        };
      };
    }[];
  };
  const failing = await until('nflog reported failing twice', 10_000, async () => {
    const r = await lab.weft('status', '--lab', lab.name, '-o', 'json');
    const a = (JSON.parse(r.stdout) as Status).agents.find((x) => x.node === 'node-2');
    return (a?.status.flows.retries['nflog']?.failures ?? 0) >= 2 ? { r, a } : undefined;
  });
  assert.equal(failing.r.code, 1, 'weft status exits 1 while a reader is down');
  assert.equal(failing.a?.status.health, 'degraded');
  assert.match(
    failing.a?.status.flows.readers['nflog'] ?? '',
    /^failed: cannot read nflog group 1987/,
  );
  assert.equal(failing.a?.status.flows.readers['conntrack'], 'running');
  const retry = failing.a?.status.flows.retries['nflog'];
  assert.ok(retry && retry.nextAttemptInMs <= 30_000, JSON.stringify(retry));
  const table = await lab.weft('status', '--lab', lab.name);
  assert.match(table.stdout, /node-2\s+degraded\s.*nflog failed/);
  assert.match(
    table.stderr,
    /node-2: flows: nflog reader failed: cannot read nflog group 1987.*failed tries, next in/,
  );

  // The group is free again: the next try takes it.
  holder.kill('SIGKILL');
  await flowsBack(lab, 'node-2', Date.now(), true);
});
