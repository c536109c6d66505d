// Full-sync time and agent memory: 10,000 policies over 5,000 pods, 100 of them local.
//   npm run build && npm run build:test && node bench/full-sync.js [--pods 5000] [--policies 10000]
//       [--local 100] [--no-agent]
// Manifests from bench/generate.js; pods 0..local-1 are on node-1 (this node) and get
// their addresses from its CNI (10.244.1.0/24), every other pod carries status.podIP
// from the default range (10.244.2.0 upwards), as the API server would report it.
// (b) In-process, the agent's first sync stage by stage: load manifests, mark the
//     local pods (as their CNI ADDs would), compile, render, validate, transaction
//     text, and TableSync.apply with the real nft in a namespace made for the run.
// (a) The real agent in its own network namespace: start, 100 real CNI ADDs through
//     dist/weft-cni.js, then a restart, whose first sync is the full one with 100
//     local endpoints; its log line, time to ready and RSS (/proc/PID/status).
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCluster } from './generate.js';
import { loadManifests } from '../dist/sources/manifests/load.js';
import { withLocalEndpoints } from '../dist/components/policy/dataplane.js';
import { compilePolicies } from '../dist/core/policy/compile.js';
import { renderTable } from '../dist/components/policy/render.js';
import { transactionText } from '../dist/nft/text.js';
import { fullTransaction } from '../dist/nft/transactions.js';
import { validateTable } from '../dist/nft/validate.js';
import { TableSync } from '../dist/nft/sync.js';
import { RealNft } from '../dist/nft/runner.js';
import { AgentClient } from '../dist/api/client.js';
import { AgentRoutes } from '../dist/api/routes.js';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '5000' },
    policies: { type: 'string', default: '10000' },
    local: { type: 'string', default: '100' },
    parallel: { type: 'string', default: '25' },
    'no-agent': { type: 'boolean', default: false },
  },
});
const nPods = Number(values.pods);
const nPolicies = Number(values.policies);
const nLocal = Number(values.local);
if (nLocal > 250) throw new Error('--local: at most 250 (node-1 has a /24)');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const id = process.pid.toString(36);
const dir = mkdtempSync(join(tmpdir(), 'weft-bench-fullsync-'));
const manifests = join(dir, 'manifests');
const namespaces = [];
const children = [];
const MB = (b) => `${(b / 2 ** 20).toFixed(0)} MB`;
const log = (s) => process.stderr.write(`${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function ip(args, input) {
  const r = spawnSync('ip', args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
function netns(name) {
  ip(['netns', 'add', name]);
  namespaces.push(name);
  ip(['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}
function nft(ns, args) {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
/** What the kernel holds in table inet weft: counted from `nft -j`, and the plain-listing greps. */
function tableCounts(ns) {
  const json = JSON.parse(nft(ns, ['-j', 'list', 'table', 'inet', 'weft'])).nftables;
  const c = { chains: 0, rules: 0, sets: 0, maps: 0, setElements: 0, mapElements: 0 };
  for (const o of json) {
    if (o.chain) c.chains++;
    if (o.rule) c.rules++;
    if (o.set) {
      c.sets++;
      c.setElements += o.set.elem?.length ?? 0;
    }
    if (o.map) {
      c.maps++;
      c.mapElements += o.map.elem?.length ?? 0;
    }
  }
  const text = nft(ns, ['list', 'table', 'inet', 'weft']);
  c.listingBytes = Buffer.byteLength(text);
  c.grepJump = text.split('\n').filter((l) => / jump /.test(l)).length;
  c.grepVerdictMark = text.split('\n').filter((l) => /meta mark set meta mark \| /.test(l)).length;
  return c;
}
function rss(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}
/** The agent's status; undefined when it does not answer. */
function agentStatus(socket) {
  return new AgentClient({ kind: 'unix', node: 'bench', socket })
    .get(AgentRoutes.status)
    .catch(() => undefined);
}

let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const ns of [...namespaces].reverse()) spawnSync('ip', ['netns', 'del', ns]);
  rmSync(dir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

try {
  // ------------------------------------------------------------- manifests
  mkdirSync(manifests);
  const podIp = (j) => `10.244.${2 + Math.floor(j / 250)}.${(j % 250) + 1}`;
  const docs = generateCluster({ pods: nPods, policies: nPolicies })
    .split('\n---\n')
    .map((d) => JSON.parse(d));
  const localPods = [];
  let remote = 0;
  for (const d of docs) {
    if (d.kind !== 'Pod') continue;
    const i = Number(d.metadata.name.slice(3));
    if (i < nLocal) {
      d.spec.nodeName = 'node-1';
      localPods.push({ namespace: d.metadata.namespace, name: d.metadata.name });
    } else {
      d.spec.nodeName = `node-${2 + (i % 2)}`;
      const a = podIp(remote++);
      d.status = { podIP: a, podIPs: [{ ip: a }] };
    }
  }
  const text = (ds) => ds.map((d) => JSON.stringify(d)).join('\n---\n');
  const base = docs.filter((d) => d.kind === 'Namespace' || d.kind === 'Pod');
  const pols = docs.filter((d) => d.kind !== 'Namespace' && d.kind !== 'Pod');
  writeFileSync(join(manifests, 'pods.yaml'), text(base));
  for (let i = 0; i * 1000 < pols.length; i++)
    writeFileSync(
      join(manifests, `policies-${String(i).padStart(3, '0')}.yaml`),
      text(pols.slice(i * 1000, (i + 1) * 1000)),
    );
  const head = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], {
    encoding: 'utf8',
  }).stdout.trim();
  console.log(
    `weft at ${head}; manifests: ${nPods} pods (${nLocal} on node-1), ${pols.filter((p) => p.kind === 'NetworkPolicy').length} NetworkPolicies, ${pols.filter((p) => p.kind === 'ClusterNetworkPolicy').length} ClusterNetworkPolicies, ${1 + Math.ceil(pols.length / 1000)} files`,
  );

  // ------------------------------------------------------ (b) in-process
  log('(b) in-process: load, compile, render, apply ...');
  const mem = () => process.memoryUsage();
  const m0 = mem();
  let t = performance.now();
  const { cluster } = await loadManifests([manifests]);
  const tLoad = performance.now() - t;
  const m1 = mem();
  const records = localPods.map((p, k) => ({ pod: p, addresses: [`10.244.1.${k + 1}/32`] }));
  t = performance.now();
  const merged = withLocalEndpoints(cluster, 'node-1', records);
  const local = new Set(localPods.map((p) => `${p.namespace}/${p.name}`));
  // As the agent does: only the policies that select a local pod.
  const ir = compilePolicies(merged, (p) => local.has(`${p.namespace}/${p.name}`));
  const tCompile = performance.now() - t;
  const m2 = mem();
  t = performance.now();
  const table = renderTable(ir, local);
  const tRender = performance.now() - t;
  t = performance.now();
  const problems = validateTable(table);
  const tValidate = performance.now() - t;
  if (problems.length) throw new Error(`invalid table: ${problems.slice(0, 3).join('; ')}`);
  t = performance.now();
  const script = transactionText(fullTransaction(table));
  const tText = performance.now() - t;
  const nsB = netns(`wb-fs-${id}-b`);
  const sync = new TableSync(new RealNft({ netns: nsB }));
  t = performance.now();
  const applied = await sync.apply(table);
  const tApply = performance.now() - t;
  const m3 = mem();
  const setEls = [...table.sets.values()].reduce((n, s) => n + s.elements.length, 0);
  const mapEls = [...table.maps.values()].reduce((n, s) => n + s.elements.length, 0);
  const ruleCount = [...table.chains.values()].reduce((n, c) => n + c.rules.length, 0);
  const localEps = [...ir.endpoints.values()].filter((e) => local.has(e.key));
  const perEp = localEps.map(
    (e) => e.ingress.networkPolicies.length + e.egress.networkPolicies.length,
  );
  console.log(`\n(b) in-process, the first (full) sync for ${nLocal} local pods:`);
  console.log(`  load manifests          ${tLoad.toFixed(0)} ms`);
  console.log(
    `  compile (local scope)  ${tCompile.toFixed(0)} ms: ${ir.policies.size} IR policies, ${ir.sets.size} IR sets, ${ir.endpoints.size} endpoints; local pods are selected by ${Math.min(...perEp)}-${Math.max(...perEp)} NetworkPolicies (ingress+egress), median ${[...perEp].sort((a, b) => a - b)[perEp.length >> 1]}`,
  );
  console.log(
    `  render (local only)     ${tRender.toFixed(0)} ms: ${table.chains.size} chains, ${ruleCount} rules, ${table.sets.size} sets with ${setEls} elements, ${table.maps.size} maps with ${mapEls} elements`,
  );
  console.log(`  validate                ${tValidate.toFixed(0)} ms`);
  console.log(
    `  transaction text        ${tText.toFixed(0)} ms: ${(Buffer.byteLength(script) / 1e6).toFixed(2)} MB`,
  );
  console.log(
    `  TableSync.apply (full)  ${tApply.toFixed(0)} ms (its validation reuses the one above; text + nft -f -; nft alone ≈ ${(tApply - tText).toFixed(0)} ms), ${applied.kind}, ${applied.bytes} bytes`,
  );
  console.log(
    `  total                   ${(tLoad + tCompile + tRender + tApply).toFixed(0)} ms (compile + render + apply, what the agent logs: ${(tCompile + tRender + tApply).toFixed(0)} ms)`,
  );
  console.log(
    `  memory (rss / heapUsed): start ${MB(m0.rss)} / ${MB(m0.heapUsed)}, after load ${MB(m1.rss)} / ${MB(m1.heapUsed)}, after compile ${MB(m2.rss)} / ${MB(m2.heapUsed)}, after render+apply ${MB(m3.rss)} / ${MB(m3.heapUsed)}`,
  );
  const kb = tableCounts(nsB);
  console.log(`  kernel: ${JSON.stringify(kb)}`);
  spawnSync('ip', ['netns', 'del', nsB]);
  namespaces.splice(namespaces.indexOf(nsB), 1);

  // ---------------------------------------------------------- (a) the agent
  if (!values['no-agent']) {
    const nsA = netns(`wb-fs-${id}-a`);
    const stateDir = join(dir, 'state');
    const socket = join(dir, 'cni.sock');
    const agentLog = join(dir, 'agent.log');
    const startAgent = () => {
      const fd = openSync(agentLog, 'a');
      const args = [
        ...['netns', 'exec', nsA, process.execPath, join(root, 'bin/weft.js'), 'agent'],
        ...['--node-name', 'node-1', '--pod-cidr', '10.244.1.0/24'],
        ...['--source', `manifests:${manifests}`, '--state-dir', stateDir],
        ...['--socket', socket, '--routing', 'none'],
      ];
      const c = spawn('ip', args, { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      children.push(c);
      return c;
    };
    const waitReady = async (c, what) => {
      const t0 = performance.now();
      const deadline = Date.now() + 600_000;
      let peak = 0;
      while (Date.now() < deadline) {
        if (c.exitCode !== null)
          throw new Error(`the agent exited:\n${readFileSync(agentLog, 'utf8')}`);
        try {
          peak = Math.max(peak, rss(c.pid).rss);
        } catch {
          // not yet
        }
        if ((await agentStatus(socket))?.ready) return { ms: performance.now() - t0, peak };
        await sleep(100);
      }
      throw new Error(`${what}: the agent was not ready within 600 s`);
    };
    const logLines = () =>
      readFileSync(agentLog, 'utf8')
        .split('\n')
        .filter((l) => / policy: /.test(l));

    console.log(
      `\n(a) weft agent in netns ${nsA} (ip netns exec ${nsA} node bin/weft.js agent --node-name node-1 --pod-cidr 10.244.1.0/24 --source manifests:DIR --state-dir TMP --socket TMP/cni.sock --routing none)`,
    );
    log('(a) starting the agent ...');
    let agent = startAgent();
    let r = await waitReady(agent, 'start');
    let mem1 = rss(agent.pid);
    console.log(
      `  start, no local pods: ready in ${(r.ms / 1000).toFixed(1)} s; VmRSS ${MB(mem1.rss)}, VmHWM ${MB(mem1.hwm)}; log: ${logLines()
        .map((l) => l.slice(25))
        .join(' | ')}`,
    );

    // CNI ADDs for the local pods, through the real shim.
    const podNs = [];
    for (let k = 0; k < localPods.length; k++) podNs.push(netns(`wb-fs-${id}-p${k}`));
    const add = (k) =>
      new Promise((resolve, reject) => {
        const p = localPods[k];
        const c = spawn(process.execPath, [join(root, 'dist/weft-cni.js')], {
          env: {
            PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
            CNI_COMMAND: 'ADD',
            CNI_CONTAINERID: `fs${id}${k}`,
            CNI_NETNS: `/var/run/netns/${podNs[k]}`,
            CNI_IFNAME: 'eth0',
            CNI_PATH: '/opt/cni/bin',
            CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${p.namespace};K8S_POD_NAME=${p.name}`,
            WEFT_CNI_SOCKET: socket,
            WEFT_CNI_TIMEOUT_MS: '600000',
          },
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        children.push(c);
        let out = '';
        c.stdout.setEncoding('utf8').on('data', (d) => (out += d));
        c.on('error', reject);
        c.on('close', (code) =>
          code === 0 ? resolve() : reject(new Error(`ADD ${p.name}: ${out}`)),
        );
        c.stdin.end(JSON.stringify({ cniVersion: '1.1.0', name: 'weft', type: 'weft' }));
      });
    log(`(a) ${localPods.length} CNI ADDs ...`);
    const before = logLines().length;
    let t0 = performance.now();
    let next = 0;
    let peakAdd = 0;
    const sampler = setInterval(() => {
      try {
        peakAdd = Math.max(peakAdd, rss(agent.pid).rss);
      } catch {
        // gone
      }
    }, 200);
    await Promise.all(
      Array.from({ length: Math.min(Number(values.parallel), localPods.length) }, async () => {
        while (next < localPods.length) await add(next++);
      }),
    );
    clearInterval(sampler);
    const tAdds = performance.now() - t0;
    mem1 = rss(agent.pid);
    const addLines = logLines().slice(before);
    console.log(
      `  ${localPods.length} CNI ADDs (${values.parallel} at a time): ${(tAdds / 1000).toFixed(1)} s; ${addLines.length} syncs: ${addLines.map((l) => /sync in ([\d.]+ ms \(\d+ bytes\))/.exec(l)?.[1] ?? l.slice(25)).join(', ')}; VmRSS ${MB(mem1.rss)} (peak seen ${MB(peakAdd)}), VmHWM ${MB(mem1.hwm)}`,
    );
    const ka = tableCounts(nsA);
    console.log(`  kernel after the ADDs: ${JSON.stringify(ka)}`);

    // Restart: the first sync of the new agent is the full one, with every local endpoint.
    agent.kill('SIGTERM');
    await new Promise((res) => (agent.exitCode !== null ? res() : agent.once('exit', res)));
    log('(a) restarting the agent ...');
    const before2 = logLines().length;
    t0 = performance.now();
    agent = startAgent();
    r = await waitReady(agent, 'restart');
    const full = logLines().slice(before2);
    const m = rss(agent.pid);
    console.log(
      `  restart with ${localPods.length} local endpoints: ready in ${(r.ms / 1000).toFixed(1)} s; log: ${full.map((l) => l.slice(25)).join(' | ')}; VmRSS ${MB(m.rss)} (peak seen while starting ${MB(r.peak)}), VmHWM ${MB(m.hwm)}`,
    );
    await sleep(3000);
    const m2 = rss(agent.pid);
    console.log(`  3 s later: VmRSS ${MB(m2.rss)}, VmHWM ${MB(m2.hwm)}`);
    const kr = tableCounts(nsA);
    console.log(`  kernel after the restart: ${JSON.stringify(kr)}`);
    agent.kill('SIGKILL');
  }
} finally {
  cleanup();
}
