// Pod-to-pod dataplane cost of policy: TCP throughput (iperf3) and
// request/response latency p50/p99 (sockperf ping-pong, TCP) between two pods
// of a one-node lab, with 0 … 100k ingress policy rules on the server pod, as
// a ratio to the no-policy path measured right before. Side by side, the same
// rules written as one linear nft chain (the way iptables-based CNIs evaluate
// them), in a table of the bench's own (`inet linear`) with no weft policy
// selecting the server.
//   npm run build && node bench/dataplane.js [--rules 0,1000,10000,50000,100000]
//     [--rounds 3] [--seconds 3] [--per-policy 1000] [--budget-min 14]
// Needs root, iperf3 and sockperf (apt-get install -y iperf3 sockperf).
//
// "N rules" for weft: ceil(N / per-policy) NetworkPolicies selecting the
// server, each with one ingress rule whose `from` lists per-policy ipBlock
// /32 peers (172.16.0.0/12, every second address, never the client) and
// ports 5201-11111/TCP; plus `zz-allow-client`, which allows the client by
// podSelector on the same ports and sorts last, so every other policy chain
// is evaluated before the packet is allowed. 0 rules = only zz-allow-client.
// "N rules" linear: a forward base chain (priority filter - 1) with
// `ct direction reply accept` (the same per-connection model as weft's own
// forward chain: every packet in the original direction is evaluated), then
// N rules `ip saddr PEER ip daddr SERVER tcp dport 5201-11111 accept`, the
// client's rule last, then `ip daddr SERVER drop`.
// Every round visits the rule counts (ascending, then descending, …); for each
// it measures the bare path, then weft, then linear, and each ratio is taken
// against the bare measurement of the same visit. Reported: medians over rounds.
// In the first round, before measuring, each path is checked to do what it
// says: client -> server:80 (outside the allowed ports) connects on the bare
// path and is dropped under weft's policies and under the linear chain.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rules: { type: 'string', default: '0,1000,10000,50000,100000' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    'per-policy': { type: 'string', default: '1000' },
    'budget-min': { type: 'string', default: '14' },
  },
});
const RULES = values.rules.split(',').map(Number);
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const PER_POLICY = Number(values['per-policy']);
const t0 = Date.now();
const deadline = t0 + Number(values['budget-min']) * 60_000;
if (RULES.some((n) => !Number.isInteger(n) || n < 0) || !(ROUNDS >= 1) || !(SECONDS >= 1))
  throw new Error('bad --rules/--rounds/--seconds');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'weft-bench-dp-'));
const name = `dp${process.pid.toString(36)}`;
const env = { ...process.env, WEFT_LAB_ROOT: join(dir, 'labs') };
const PORT_IPERF = 5201;
const PORT_SOCKPERF = 11111;
const PORTS = { protocol: 'TCP', port: PORT_IPERF, endPort: PORT_SOCKPERF };
const log = (s) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)}s] ${s}\n`);

function sh(cmd, args, { input, timeoutMs = 60_000, check = true } = {}) {
  const r = spawnSync(cmd, args, {
    env,
    input,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  if (check && r.status !== 0)
    throw new Error(
      `${cmd} ${args.slice(0, 6).join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.error ?? ''}`,
    );
  return r;
}
const weft = (...args) =>
  sh(process.execPath, [join(root, 'bin/weft.js'), ...args], { timeoutMs: 300_000 });
const inNs = (ns, cmd, args, o) => sh('ip', ['netns', 'exec', ns, cmd, ...args], o);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---------------------------------------------------------------- manifests
const doc = (o) => JSON.stringify(o);
const podsYaml = [
  doc({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } }),
  doc({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'client', namespace: 'bench', labels: { app: 'client' } },
    spec: { containers: [{ name: 'c', image: 'x' }] },
  }),
  // The lab's pod server listens on every declared port, so the server
  // declares only 80/TCP; iperf3 and sockperf listen on 5201 and 11111.
  doc({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'server', namespace: 'bench', labels: { app: 'server' } },
    spec: {
      containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80, protocol: 'TCP' }] }],
    },
  }),
].join('\n---\n');

/** The i-th peer: 172.16.0.0 + 2i, a /32 (not adjacent to the next, so nothing merges). */
function peer(i) {
  const v = ((172 << 24) | (16 << 16)) + 2 * i;
  if (i >= 1 << 19) throw new Error('too many peers for 172.16.0.0/12');
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function policyCount(n) {
  return Math.ceil(n / PER_POLICY);
}

function policiesYaml(n) {
  const docs = [];
  for (let p = 0; p < policyCount(n); p++) {
    const from = [];
    for (let i = p * PER_POLICY; i < Math.min(n, (p + 1) * PER_POLICY); i++)
      from.push({ ipBlock: { cidr: `${peer(i)}/32` } });
    docs.push(
      doc({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: `p${String(p).padStart(5, '0')}`, namespace: 'bench' },
        spec: {
          podSelector: { matchLabels: { app: 'server' } },
          policyTypes: ['Ingress'],
          ingress: [{ from, ports: [PORTS] }],
        },
      }),
    );
  }
  docs.push(
    doc({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'zz-allow-client', namespace: 'bench' },
      spec: {
        podSelector: { matchLabels: { app: 'server' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [PORTS] }],
      },
    }),
  );
  return docs.join('\n---\n');
}

function linearScript(n, client, server) {
  const lines = [
    'table inet linear {',
    '  chain forward {',
    '    type filter hook forward priority filter - 1; policy accept;',
    '    ct direction reply accept',
  ];
  for (let i = 0; i < n; i++)
    lines.push(
      `    ip saddr ${peer(i)} ip daddr ${server} tcp dport ${PORT_IPERF}-${PORT_SOCKPERF} accept`,
    );
  lines.push(
    `    ip saddr ${client} ip daddr ${server} tcp dport ${PORT_IPERF}-${PORT_SOCKPERF} accept`,
  );
  lines.push(`    ip daddr ${server} drop`);
  lines.push('  }', '}', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------- the run
const servers = [];
let lab;
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const c of servers) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (lab)
    sh('ip', ['netns', 'exec', lab.node, 'nft', 'delete', 'table', 'inet', 'linear'], {
      check: false,
    });
  // Kills whatever still runs in the lab's namespaces, removes them and the lab's files.
  sh(process.execPath, [join(root, 'bin/weft.js'), 'lab', 'down', '--name', name], {
    check: false,
    timeoutMs: 120_000,
  });
  rmSync(dir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'])
  process.once(sig, () => {
    cleanup();
    process.exit(130);
  });

function chainsOf(node) {
  return inNs(node, 'nft', ['-t', 'list', 'table', 'inet', 'weft']).stdout;
}

/** The server's ingress chain in weft's table, or undefined. */
function serverChain(node, server) {
  const out = inNs(node, 'nft', ['list', 'map', 'inet', 'weft', 'ingress4']).stdout;
  const m = new RegExp(`${server.replace(/\./g, '\\.')} : jump (\\S+)`).exec(out);
  return m?.[1];
}

/** Waits until the server's ingress chain jumps to exactly `policies` policy chains, zz-allow-client last. */
async function waitWeft(node, server, policies, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < until && i < 10_000; i++) {
    const chain = serverChain(node, server);
    if (policies === 0 ? chain === undefined && !/chain pol_/.test(chainsOf(node)) : chain) {
      if (policies === 0) return;
      const text = inNs(node, 'nft', ['list', 'chain', 'inet', 'weft', chain]).stdout;
      const jumps = text.split('\n').filter((l) => /jump pol_/.test(l));
      if (jumps.length === policies && /zz-allow-client/.test(jumps.at(-1))) return;
    }
    await sleep(200);
  }
  throw new Error(
    `weft did not program ${policies} policies for the server within ${timeoutMs / 1000} s`,
  );
}

function iperf(client, server) {
  const r = inNs(
    client,
    'iperf3',
    [
      '-c',
      server,
      '-p',
      String(PORT_IPERF),
      '-t',
      String(SECONDS),
      '-J',
      '--connect-timeout',
      '3000',
    ],
    {
      timeoutMs: (SECONDS + 20) * 1000,
      check: false,
    },
  );
  try {
    const j = JSON.parse(r.stdout);
    if (j.error) throw new Error(j.error);
    return j.end.sum_received.bits_per_second;
  } catch (e) {
    log(`iperf3 failed: ${e.message ?? e} ${r.stderr ?? ''}`);
    return NaN;
  }
}

function sockperf(client, server) {
  const r = inNs(
    client,
    'sockperf',
    ['pp', '-i', server, '-p', String(PORT_SOCKPERF), '--tcp', '-t', String(SECONDS)],
    {
      timeoutMs: (SECONDS + 20) * 1000,
      check: false,
    },
  );
  const pct = (p) =>
    Number(new RegExp(`percentile ${p} =\\s*([\\d.]+)`).exec(r.stdout + r.stderr)?.[1]);
  const obs = Number(/Total (\d+) observations/.exec(r.stdout + r.stderr)?.[1]);
  const out = { p50: pct('50.000'), p99: pct('99.000'), n: obs };
  if (!Number.isFinite(out.p50))
    log(`sockperf failed (${r.status ?? r.signal}): ${(r.stdout + r.stderr).slice(-300)}`);
  return out;
}

/** Whether the client gets a TCP connection to the server's port 80 (the lab's pod server; outside the allowed 5201-11111). */
function connects80(l) {
  const r = inNs(l.client, 'timeout', ['1', 'bash', '-c', `exec 3<>/dev/tcp/${l.serverIp}/80`], {
    check: false,
    timeoutMs: 5000,
  });
  return r.status === 0;
}

/** Once per rule count (first round): port 80 must be open on the bare path and dropped under either policy. */
function checkEnforcement(l, variant, round) {
  if (round !== 0) return;
  const open = connects80(l);
  if (open !== (variant === 'bare'))
    throw new Error(
      `enforcement check: client -> server:80 ${open ? 'connected' : 'did not connect'} on the ${variant} path`,
    );
}

function measure(l) {
  const lat = sockperf(l.client, l.serverIp);
  const bps = iperf(l.client, l.serverIp);
  return { bps, ...lat };
}

const results = []; // { round, rules, variant: 'bare'|'weft'|'linear', bps, p50, p99, n, loadMs }
let stoppedEarly = '';
try {
  writeFileSync(join(dir, 'pods.yaml'), podsYaml);
  weft('lab', 'up', '--name', name, '--nodes', '1', '-f', join(dir, 'pods.yaml'));
  const state = JSON.parse(readFileSync(join(dir, 'labs', name, 'state.json'), 'utf8'));
  lab = {
    node: state.nodes[0].netns,
    client: state.pods['bench/client'].netns,
    server: state.pods['bench/server'].netns,
    clientIp: state.pods['bench/client'].ips[0],
    serverIp: state.pods['bench/server'].ips[0],
  };
  log(`lab ${name} up: client ${lab.clientIp}, server ${lab.serverIp}, node ns ${lab.node}`);
  for (const [cmd, args] of [
    ['iperf3', ['-s', '-p', String(PORT_IPERF)]],
    ['sockperf', ['sr', '-i', lab.serverIp, '-p', String(PORT_SOCKPERF), '--tcp']],
  ]) {
    const c = spawn('ip', ['netns', 'exec', lab.server, cmd, ...args], { stdio: 'ignore' });
    c.on('error', (e) => log(`${cmd}: ${e.message}`));
    servers.push(c);
  }
  await sleep(500);
  // Warm-up (not recorded): first connections, caches, CPU frequency.
  measure(lab);

  for (let round = 0; round < ROUNDS && !stoppedEarly; round++) {
    const order = round % 2 === 0 ? RULES : [...RULES].reverse();
    for (const n of order) {
      if (Date.now() > deadline) {
        stoppedEarly = `time budget reached in round ${round + 1} before ${n} rules`;
        break;
      }
      checkEnforcement(lab, 'bare', round);
      const bare = measure(lab);
      results.push({ round, rules: n, variant: 'bare', ...bare });

      // weft
      const file = join(dir, `policies-${n}.yaml`);
      writeFileSync(file, policiesYaml(n));
      let t = Date.now();
      weft('lab', 'apply', '--name', name, '-f', file);
      await waitWeft(lab.node, lab.serverIp, policyCount(n) + 1, 240_000);
      const weftLoad = Date.now() - t;
      checkEnforcement(lab, 'weft', round);
      results.push({ round, rules: n, variant: 'weft', ...measure(lab), loadMs: weftLoad });
      weft('lab', 'delete', '--name', name, '-f', file);
      await waitWeft(lab.node, lab.serverIp, 0, 240_000);

      // linear
      t = Date.now();
      inNs(lab.node, 'nft', ['-f', '-'], {
        input: linearScript(n, lab.clientIp, lab.serverIp),
        timeoutMs: 300_000,
      });
      const linLoad = Date.now() - t;
      checkEnforcement(lab, 'linear', round);
      results.push({ round, rules: n, variant: 'linear', ...measure(lab), loadMs: linLoad });
      inNs(lab.node, 'nft', ['delete', 'table', 'inet', 'linear'], { timeoutMs: 300_000 });

      const last = results.slice(-3);
      log(
        `round ${round + 1} ${n} rules: ` +
          last
            .map(
              (r) =>
                `${r.variant} ${(r.bps / 1e9).toFixed(2)} Gbit/s p50 ${r.p50} p99 ${r.p99} us${r.loadMs !== undefined ? ` (load ${(r.loadMs / 1000).toFixed(1)} s)` : ''}`,
            )
            .join(' | '),
      );
    }
  }
} catch (e) {
  stoppedEarly = `error: ${e instanceof Error ? e.message : String(e)}`;
  process.exitCode = 1;
} finally {
  cleanup();
}

// ---------------------------------------------------------------- report
const ratio = (variant, n, key) =>
  median(
    results
      .filter((r) => r.variant === variant && r.rules === n)
      .map((r) => {
        const b = results.find((x) => x.variant === 'bare' && x.rules === n && x.round === r.round);
        return r[key] / b[key];
      }),
  );
const abs = (variant, n, key) =>
  median(results.filter((r) => r.variant === variant && r.rules === n).map((r) => r[key]));
const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const rounds = (n) => results.filter((r) => r.variant === 'bare' && r.rules === n).length;

console.log(
  `command: node bench/dataplane.js --rules ${values.rules} --rounds ${ROUNDS} --seconds ${SECONDS} --per-policy ${PER_POLICY}`,
);
console.log(
  `iperf3 -c SERVER -t ${SECONDS} -J; sockperf pp --tcp -t ${SECONDS} (latency = half round trip); ratios vs the bare path measured just before, medians over rounds\n`,
);
console.log(
  '| rules | rounds | weft throughput | weft p50 / p99 | linear throughput | linear p50 / p99 | weft load | linear load |',
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const n of RULES) {
  if (!rounds(n)) continue;
  console.log(
    `| ${n} | ${rounds(n)} | ${f(ratio('weft', n, 'bps'))} | ${f(ratio('weft', n, 'p50'))} / ${f(ratio('weft', n, 'p99'))} | ` +
      `${f(ratio('linear', n, 'bps'))} | ${f(ratio('linear', n, 'p50'))} / ${f(ratio('linear', n, 'p99'))} | ` +
      `${f(abs('weft', n, 'loadMs') / 1000, 1)} s | ${f(abs('linear', n, 'loadMs') / 1000, 1)} s |`,
  );
}
console.log('\nabsolute medians (throughput Gbit/s, latency p50/p99 us):\n');
console.log('| rules | bare | weft | linear |');
console.log('| ---: | ---: | ---: | ---: |');
for (const n of RULES) {
  if (!rounds(n)) continue;
  const cell = (v) =>
    `${f(abs(v, n, 'bps') / 1e9, 2)} Gbit/s, ${f(abs(v, n, 'p50'), 2)} / ${f(abs(v, n, 'p99'), 2)} us`;
  console.log(`| ${n} | ${cell('bare')} | ${cell('weft')} | ${cell('linear')} |`);
}
const bare = results.filter((r) => r.variant === 'bare');
console.log(
  `\nbare path over all ${bare.length} visits: ${f(median(bare.map((r) => r.bps)) / 1e9, 2)} Gbit/s ` +
    `(min ${f(Math.min(...bare.map((r) => r.bps)) / 1e9, 2)}, max ${f(Math.max(...bare.map((r) => r.bps)) / 1e9, 2)}), ` +
    `p50 ${f(median(bare.map((r) => r.p50)), 2)} us, p99 ${f(median(bare.map((r) => r.p99)), 2)} us`,
);
if (stoppedEarly) console.log(`stopped early: ${stoppedEarly}`);
console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
