// The flow pipeline's cost, side by side in one run: a 2-node lab, agents
// restarted with flows on and off in turn (on, off, on, off, …).
//  - load: a client pod opens RATE new UDP flows per second for SECONDS to a
//    pod on the other node (each datagram its own conntrack entry, so each
//    node records RATE flows/s); agent CPU (the agent and its tcpdump and
//    conntrack readers) and peak RSS per node, flows recorded and lost;
//  - latency: CONNECTS sequential TCP connects client -> server (a new
//    connection each: the path where conntrack events and the drop log sit),
//    p50/p99, flows on vs off as a ratio.
//   npm run build && node bench/flows.js [--rate 10000] [--seconds 10] [--connects 2000] [--rounds 2]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearInterval, setInterval } from 'node:timers';
import { parseArgs } from 'node:util';
import { AgentClient } from '../dist/api/client.js';
import { AgentRoutes } from '../dist/api/routes.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    connects: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '2' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const CONNECTS = Number(values.connects);
const ROUNDS = Number(values.rounds);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const weftBin = join(root, 'bin/weft.js');
const dir = mkdtempSync(join(tmpdir(), 'weft-bench-flows-'));
const labRoot = join(dir, 'labs');
const name = `bf${process.pid.toString(36)}`;
const env = { ...process.env, WEFT_LAB_ROOT: labRoot };
const TICK = 100; // clock ticks per second (USER_HZ)

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: bench }
---
apiVersion: v1
kind: Pod
metadata: { namespace: bench, name: client, labels: { app: client } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: bench, name: server, labels: { app: server } }
spec: { nodeName: node-2, containers: [{ name: s, image: s, ports: [{ containerPort: 80 }] }] }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { namespace: bench, name: server-from-client }
spec:
  podSelector: { matchLabels: { app: server } }
  ingress: [{ from: [{ podSelector: { matchLabels: { app: client } } }] }]
`;

function weft(...args) {
  const r = spawnSync(process.execPath, [weftBin, ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`weft ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

function status(socket) {
  return new AgentClient({ kind: 'unix', node: 'bench', socket }).get(AgentRoutes.status);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The process and its descendants (the readers). */
function tree(pid) {
  const out = [pid];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      for (const k of kids ? kids.split(' ') : []) out.push(...tree(Number(k)));
    }
  } catch {
    // exited
  }
  return out;
}

function cpuTicks(pids) {
  let sum = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      sum += Number(rest[11]) + Number(rest[12]);
    } catch {
      // exited
    }
  }
  return sum;
}

function rssKiB(pids) {
  let sum = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      sum += Number(m?.[1] ?? 0);
    } catch {
      // exited
    }
  }
  return sum;
}

async function stopPid(pid) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
}

/** Restarts a node's agent with flows on or off; returns its pid once ready. */
async function startAgent(node, flows) {
  const ns = node.netns;
  // Off means off: the namespace's conntrack accounting back to the kernel's default too.
  if (flows === 'off')
    spawnSync('ip', [
      'netns',
      'exec',
      ns,
      'sysctl',
      '-qw',
      'net.netfilter.nf_conntrack_acct=0',
      'net.netfilter.nf_conntrack_timestamp=0',
    ]);
  const args = [
    weftBin,
    'agent',
    ...['--node-name', node.name, '--pod-cidr', node.podCidr, '--routing', 'vxlan'],
    ...['--source', `manifests:${join(labRoot, name, 'manifests')}`],
    ...['--state-dir', node.stateDir, '--socket', node.socket, '--flows', flows],
  ];
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], {
    stdio: 'ignore',
    detached: true,
  });
  child.unref();
  for (let i = 0; i < 200; i++) {
    await sleep(50);
    const s = await status(node.socket).catch(() => undefined);
    if (s?.ready) return child.pid;
  }
  throw new Error(`agent of ${node.name} not ready with --flows ${flows}`);
}

function inPod(pod, script) {
  const r = spawnSync('ip', ['netns', 'exec', pod.netns, process.execPath, '-e', script], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`in ${pod.key}: ${r.stderr}`);
  return r.stdout;
}

const LOAD = (dst, rate, seconds) => `
// One socket per 50,000 datagrams: every datagram is a new (sport, dport) pair, a new flow.
const dgram = require('node:dgram');
const total = ${rate * seconds};
const socks = Array.from({ length: Math.ceil(total / 50000) }, () => dgram.createSocket('udp4'));
const b = Buffer.alloc(16);
const t0 = Date.now(); let sent = 0;
const tick = setInterval(() => {
  const due = Math.min(total, Math.floor((Date.now() - t0) * ${rate} / 1000));
  for (; sent < due; sent++) socks[Math.floor(sent / 50000)].send(b, 10000 + (sent % 50000), '${dst}');
  if (sent >= total) { clearInterval(tick); setTimeout(() => { socks.forEach((s) => s.close()); console.log(sent); }, 200); }
}, 5);`;

const CONNECT = (dst, n) => `
const net = require('node:net');
const out = [];
(async () => {
  for (let i = 0; i < ${n} + 200; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise((res, rej) => {
      const c = net.connect({ host: '${dst}', port: 80 }, () => { const ms = Number(process.hrtime.bigint() - t0) / 1e6; if (i >= 200) out.push(ms); c.destroy(); res(); });
      c.on('error', rej);
    });
  }
  console.log(JSON.stringify(out));
})();`;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function measure(state, pids, mode) {
  const [n1, n2] = state.nodes;
  const client = state.pods['bench/client'];
  const server = state.pods['bench/server'];
  const lat = JSON.parse(inPod(client, CONNECT(server.ips[0], CONNECTS)));
  const before = await Promise.all([n1, n2].map((n) => status(n.socket)));
  const trees = pids.map(tree);
  const cpu0 = trees.map(cpuTicks);
  let peak = trees.map(rssKiB);
  const t0 = Date.now();
  const sampler = setInterval(() => {
    peak = pids.map((p, i) => Math.max(peak[i], rssKiB(tree(p))));
  }, 250);
  const loader = new Promise((resolve, reject) => {
    const c = spawn('ip', [
      'netns',
      'exec',
      client.netns,
      process.execPath,
      '-e',
      LOAD(server.ips[0], RATE, SECONDS),
    ]);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`load exited ${code}`))));
  });
  await loader;
  await sleep(1000); // the pipeline drains
  clearInterval(sampler);
  const secs = (Date.now() - t0) / 1000;
  const cpu = pids.map((p, i) => ((cpuTicks(tree(p)) - cpu0[i]) / TICK / secs) * 100);
  const after = await Promise.all([n1, n2].map((n) => status(n.socket)));
  const seen = after.map((s, i) => (s.flows.enabled ? s.flows.seen - before[i].flows.seen : 0));
  const lost = after.map((s, i) => (s.flows.enabled ? s.flows.lost - before[i].flows.lost : 0));
  return { mode, p50: pct(lat, 50), p99: pct(lat, 99), cpu, peak, seen, lost, secs };
}

/** The agents of the current round (this process's children after the first). */
let pids = [];
try {
  const file = join(dir, 'bench.yaml');
  writeFileSync(file, MANIFESTS);
  weft('lab', 'up', '--name', name, '--nodes', '2', '-f', file);
  const state = JSON.parse(readFileSync(join(labRoot, name, 'state.json'), 'utf8'));
  pids = state.nodes.map((n) => n.agentPid);
  const results = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ['on', 'off']) {
      for (const pid of pids) await stopPid(pid);
      pids = [];
      for (const n of state.nodes) pids.push(await startAgent(n, mode));
      await sleep(1000);
      const m = await measure(state, pids, mode);
      results.push(m);
      console.error(
        `round ${r + 1} flows ${mode}: connect p50 ${m.p50.toFixed(3)} ms p99 ${m.p99.toFixed(3)} ms; ` +
          `CPU ${m.cpu.map((c) => c.toFixed(1)).join('/')} %; peak RSS ${m.peak.map((k) => (k / 1024).toFixed(0)).join('/')} MiB; ` +
          `flows ${m.seen.join('/')} lost ${m.lost.join('/')} in ${m.secs.toFixed(1)} s`,
      );
    }
  }
  const avg = (mode, f) => {
    const xs = results.filter((x) => x.mode === mode).map(f);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const on50 = avg('on', (x) => x.p50);
  const off50 = avg('off', (x) => x.p50);
  const on99 = avg('on', (x) => x.p99);
  const off99 = avg('off', (x) => x.p99);
  console.log(`| | flows on | flows off | on / off |`);
  console.log(`| --- | ---: | ---: | ---: |`);
  console.log(
    `| TCP connect p50 | ${on50.toFixed(3)} ms | ${off50.toFixed(3)} ms | ${(on50 / off50).toFixed(3)} |`,
  );
  console.log(
    `| TCP connect p99 | ${on99.toFixed(3)} ms | ${off99.toFixed(3)} ms | ${(on99 / off99).toFixed(3)} |`,
  );
  for (const [i, node] of ['node-1 (client side)', 'node-2 (server side)'].entries()) {
    const on = avg('on', (x) => x.cpu[i]);
    const off = avg('off', (x) => x.cpu[i]);
    console.log(
      `| agent CPU, ${node}, ${RATE} flows/s | ${on.toFixed(1)} % | ${off.toFixed(1)} % | |`,
    );
    const mOn = avg('on', (x) => x.peak[i]) / 1024;
    const mOff = avg('off', (x) => x.peak[i]) / 1024;
    console.log(
      `| agent peak RSS, ${node} (with readers) | ${mOn.toFixed(0)} MiB | ${mOff.toFixed(0)} MiB | |`,
    );
    const seen = avg('on', (x) => x.seen[i]);
    const lost = avg('on', (x) => x.lost[i]);
    console.log(
      `| flows recorded of ${RATE * SECONDS}, ${node} (loss count) | ${seen.toFixed(0)} (${lost.toFixed(0)}) | | |`,
    );
  }
} finally {
  // Stopped here, where this process can reap them: `lab down` waits for its
  // processes to be gone, and a child nobody reaps stays a zombie.
  for (const pid of pids) await stopPid(pid);
  spawnSync(process.execPath, [weftBin, 'lab', 'down', '--name', name], { env });
  rmSync(dir, { recursive: true, force: true });
}
