// The real agent against the Kubernetes API at scale: 5,000 nodes, 100,000
// pods and 10,000 policies served by the fake API server
// (test/support/fake-apiserver.ts, in bench/kube-source.js --serve), both in
// one network namespace made for the run. The agent is `weft agent --source
// kubernetes --routing vxlan` for node-1, with no --pod-cidr (it takes the
// Node's). Measured: start -> ready (every resource listed, pod CIDR from the
// Node, VXLAN peers, first full policy sync); the agent's RSS; CNI ADDs of the
// node's 20 pods (each waits for its policy in the kernel); a NetworkPolicy
// selecting one of them written to the API server -> the agent's next sync
// done (`/v1/policy` lastSync), created and deleted in turn.
//   npm run build && npm run build:test && node bench/kube-agent.js
//       [--nodes 5000] [--pods 100000] [--policies 10000] [--toggles 10]
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearInterval, setInterval } from 'node:timers';
import { parseArgs } from 'node:util';
import { podIdentity } from './kube-objects.js';
import { AgentClient } from '../dist/api/client.js';
import { AgentRoutes } from '../dist/api/routes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5000' },
    pods: { type: 'string', default: '100000' },
    policies: { type: 'string', default: '10000' },
    toggles: { type: 'string', default: '10' },
  },
});
const nodes = Number(values.nodes);
const log = (s) => process.stderr.write(`${s}\n`);
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ns = `wb-kube-${process.pid.toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'weft-kube-agent-'));
const children = [];
const agentLog = [];
const podNs = [];
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const p of podNs) spawn('ip', ['netns', 'del', p]);
  try {
    sh('ip', ['netns', 'del', ns]);
  } catch {
    // already gone
  }
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('uncaughtException', (e) => {
  process.stderr.write(`${e.stack}\nthe agent's last lines:\n${agentLog.slice(-20).join('')}\n`);
  process.exit(1);
});
process.on('SIGINT', () => process.exit(130));

function get(socket, route) {
  return new AgentClient({ kind: 'unix', node: 'bench', socket }).get(route);
}

function rssMB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(m?.[1]) / 1024);
}

function cniAdd(socket, containerId, netnsPath, pod) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'dist/weft-cni.js')], {
      env: {
        PATH: process.env.PATH,
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: containerId,
        CNI_NETNS: netnsPath,
        CNI_IFNAME: 'eth0',
        CNI_ARGS: `K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name}`,
        CNI_PATH: '/opt/cni/bin',
        WEFT_CNI_SOCKET: socket,
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`ADD ${pod.name}: ${out}`)),
    );
    child.stdin.end(JSON.stringify({ cniVersion: '1.1.0', name: 'weft', type: 'weft' }));
  });
}

const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

// ---- the namespace and the API server ----
sh('ip', ['netns', 'add', ns]);
sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
sh('ip', ['-n', ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
sh('ip', ['-n', ns, 'addr', 'add', '192.168.0.1/16', 'dev', 'u0']);
sh('ip', ['-n', ns, 'link', 'set', 'u0', 'up']);
sh('ip', ['-n', ns, 'link', 'set', 'u1', 'up']);

const server = spawn(
  'ip',
  [
    'netns',
    'exec',
    ns,
    process.execPath,
    '--max-old-space-size=16384',
    join(root, 'bench/kube-source.js'),
    '--serve',
    '--nodes',
    values.nodes,
    '--pods',
    values.pods,
    '--policies',
    values.policies,
  ],
  { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
);
children.push(server);
const replies = [];
let wake;
server.on('message', (m) => {
  replies.push(m);
  wake?.();
});
const reply = async (cmd) => {
  for (;;) {
    if (server.exitCode !== null) throw new Error(`the server exited (${server.exitCode})`);
    const i = replies.findIndex((m) => m.cmd === cmd);
    if (i >= 0) return replies.splice(i, 1)[0];
    await new Promise((r) => (wake = r));
  }
};
log(`generating ${values.nodes} nodes, ${values.pods} pods, ${values.policies} policies ...`);
const ready = await reply('ready');
log(`served at ${ready.url} (inside ${ns})`);

// ---- the agent ----
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeconfig,
  `apiVersion: v1\nkind: Config\ncurrent-context: b\ncontexts: [{name: b, context: {cluster: c, user: u}}]\n` +
    `clusters: [{name: c, cluster: {server: "${ready.url}"}}]\nusers: [{name: u, user: {}}]\n`,
);
const socket = join(dir, 'cni.sock');
const t0 = Date.now();
const agent = spawn(
  'ip',
  [
    'netns',
    'exec',
    ns,
    process.execPath,
    // e.g. WEFT_AGENT_NODE_ARGS=--cpu-prof to profile the agent alone.
    ...(process.env.WEFT_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean),
    join(root, 'bin/weft.js'),
    'agent',
    '--node-name=node-1',
    '--source=kubernetes',
    `--kubeconfig=${kubeconfig}`,
    '--routing=vxlan',
    `--socket=${socket}`,
    `--state-dir=${join(dir, 'state')}`,
  ],
  {
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
children.push(agent);
agent.stderr.on('data', (d) => agentLog.push(String(d)));
let peakRss = 0;
const sampler = setInterval(() => {
  try {
    peakRss = Math.max(peakRss, rssMB(agent.pid));
  } catch {
    // not started or gone
  }
}, 50);
for (;;) {
  if (agent.exitCode !== null) throw new Error(`the agent exited:\n${agentLog.join('')}`);
  if (Date.now() - t0 > 600_000) throw new Error(`not ready in 10 min:\n${agentLog.join('')}`);
  const s = await get(socket, AgentRoutes.status).catch(() => undefined);
  if (s?.ready) break;
  await sleep(50);
}
const readyMs = Date.now() - t0;
const readyRss = rssMB(agent.pid);
log(`ready after ${(readyMs / 1000).toFixed(1)} s; RSS ${readyRss} MB (peak ${peakRss} MB)`);
// Routes to every other node's pods: programmed beside the policy, not awaited by ready.
const vxlanRoutes = () => {
  try {
    const out = sh('ip', ['-n', ns, 'route', 'show', 'dev', 'weft-vxlan']);
    return out.split('\n').filter((l) => l.trim()).length;
  } catch {
    return 0;
  }
};
let routes = vxlanRoutes();
while (routes < nodes - 1 && Date.now() - t0 < 600_000) {
  await sleep(200);
  routes = vxlanRoutes();
}
const routesMs = Date.now() - t0;
log(`${routes} VXLAN routes after ${(routesMs / 1000).toFixed(1)} s`);

// ---- the node's pods: CNI ADD each (its policy in the kernel before ADD returns) ----
const local = [];
for (let i = 1; i < Number(values.pods); i += nodes) local.push(podIdentity(i));
const addMs = [];
for (const [k, pod] of local.entries()) {
  const p = `${ns}-p${k}`;
  sh('ip', ['netns', 'add', p]);
  podNs.push(p);
  const a = Date.now();
  await cniAdd(socket, `c${k}`, `/var/run/netns/${p}`, pod);
  addMs.push(Date.now() - a);
}
const podsRss = rssMB(agent.pid);
log(
  `${local.length} ADDs: p50 ${pct(addMs, 0.5)} ms, max ${Math.max(...addMs)} ms; RSS ${podsRss} MB`,
);

// ---- a policy on one of them, created and deleted in turn ----
const target = local[0];
const policy = {
  metadata: { namespace: target.namespace, name: 'bench-toggle' },
  spec: {
    podSelector: { matchLabels: { app: target.app } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }],
  },
};
const syncMs = [];
for (let k = 0; k < Number(values.toggles); k++) {
  const before = (await get(socket, AgentRoutes.policy)).lastSync?.at;
  server.send(
    k % 2 === 0
      ? { cmd: 'create', resource: 'networkpolicies', obj: policy }
      : { cmd: 'remove', resource: 'networkpolicies', key: `${target.namespace}/bench-toggle` },
  );
  const { writtenAt } = await reply('written');
  for (let tries = 0; ; tries++) {
    const last = (await get(socket, AgentRoutes.policy)).lastSync;
    if (last?.at !== before && Date.parse(last.at) >= Math.floor(writtenAt)) {
      syncMs.push(Date.parse(last.at) - writtenAt);
      break;
    }
    if (tries > 2000) throw new Error('no sync after a policy write');
    await sleep(2);
  }
}
clearInterval(sampler);
const result = {
  nodes,
  pods: Number(values.pods),
  policies: Number(values.policies),
  readySeconds: +(readyMs / 1000).toFixed(1),
  readyRssMB: readyRss,
  peakRssMB: peakRss,
  vxlanRoutes: routes,
  routesSeconds: +(routesMs / 1000).toFixed(1),
  localPods: local.length,
  addP50Ms: pct(addMs, 0.5),
  rssWithPodsMB: podsRss,
  policyWriteToSyncedP50Ms: Math.round(pct(syncMs, 0.5)),
  policyWriteToSyncedMaxMs: Math.round(Math.max(...syncMs)),
};
console.log(JSON.stringify(result, null, 2));
server.send({ cmd: 'exit' });
// A clean stop (SIGTERM), as an upgrade would: the agent exits by itself.
const stopped = new Promise((r) => agent.once('exit', r));
agent.kill('SIGTERM');
await Promise.race([stopped, sleep(10_000)]);
process.exit(0);
