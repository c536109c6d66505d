// CNI ADD and DEL latency through the real weft-cni and agent, in network
// namespaces made for the run.
//   npm run build && npm run build:test && node bench/cni.js [--pods 60] [--parallel 20]
// Side by side in the same run: the shim end to end (what the runtime waits
// for), the agent alone (the same request straight to its socket), and
// `node -e 0` (the floor any Node.js executable pays to start).
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Sandbox } from '../dist-test/test/support/sandbox.js';
import { cni } from '../dist-test/test/support/cni.js';
import { AgentClient } from '../dist/api/client.js';

const { values } = parseArgs({
  options: { pods: { type: 'string', default: '60' }, parallel: { type: 'string', default: '20' } },
});
const pods = Number(values.pods);
const parallel = Number(values.parallel);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (xs) =>
  `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (n=${xs.length})`;

async function direct(socket, env) {
  const agent = new AgentClient({ kind: 'unix', node: 'bench', socket }, 60_000);
  const stdin = JSON.stringify({ cniVersion: '1.1.0', name: 'weft', type: 'weft' });
  const r = await agent.cni({ env, stdin });
  if (r.exitCode !== 0) throw new Error(r.stdout);
}

const sb = new Sandbox();
try {
  const nodeNs = await sb.netns('node');
  const agent = await sb.agent(nodeNs, ['--node-name', 'bench', '--pod-cidr', '10.99.0.0/16']);
  const nss = [];
  for (let i = 0; i < pods; i++) nss.push(await sb.netns(`b${i}`));
  process.stderr.write(`${pods} pod namespaces ready\n`);

  const startup = [];
  for (let i = 0; i < 20; i++) {
    const t0 = now();
    spawnSync(process.execPath, ['-e', '0']);
    startup.push(now() - t0);
  }

  const call = (command, i, id = `s${i}`) =>
    cni(agent.socket, { command, containerId: id, netns: sb.nsPath(nss[i]), ifname: 'eth0' });
  const timed = async (fn) => {
    const t0 = now();
    const r = await fn();
    if (r && r.code !== 0) throw new Error(r.stdout);
    return now() - t0;
  };
  const seqAdd = [];
  const seqDel = [];
  for (let i = 0; i < pods; i++) seqAdd.push(await timed(() => call('ADD', i)));
  for (let i = 0; i < pods; i++) seqDel.push(await timed(() => call('DEL', i)));

  const parAdd = [];
  const parDel = [];
  for (let round = 0; round < Math.floor(pods / parallel); round++) {
    const idx = Array.from({ length: parallel }, (_, k) => round * parallel + k);
    parAdd.push(...(await Promise.all(idx.map((i) => timed(() => call('ADD', i, `p${i}`))))));
    parDel.push(...(await Promise.all(idx.map((i) => timed(() => call('DEL', i, `p${i}`))))));
  }

  const env = (command, i) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: `d${i}`,
    CNI_NETNS: sb.nsPath(nss[i]),
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/opt/cni/bin',
  });
  const agentAdd = [];
  const agentDel = [];
  for (let i = 0; i < pods; i++)
    agentAdd.push(await timed(() => direct(agent.socket, env('ADD', i))));
  for (let i = 0; i < pods; i++)
    agentDel.push(await timed(() => direct(agent.socket, env('DEL', i))));

  console.log(`node -e 0 (process start floor): ${fmt(startup)}`);
  console.log(`ADD via weft-cni, sequential:     ${fmt(seqAdd)}`);
  console.log(`DEL via weft-cni, sequential:     ${fmt(seqDel)}`);
  console.log(`ADD via weft-cni, ${parallel} in parallel: ${fmt(parAdd)}`);
  console.log(`DEL via weft-cni, ${parallel} in parallel: ${fmt(parDel)}`);
  console.log(`ADD in the agent alone:           ${fmt(agentAdd)}`);
  console.log(`DEL in the agent alone:           ${fmt(agentDel)}`);
} finally {
  await sb.destroy();
}
