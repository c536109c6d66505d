// Policy update latency: from a NetworkPolicy written to the manifests
// directory until the verdict flips for a client probing with real packets,
// with K background policies present (compiled, but not on the measured path).
//   npm run build && node bench/policy-update.js [--policies 0,1000,10000] [--runs 30]
//       [--bg-pods 1000] [--layout bulk|files] [--interval-ms 2] [--timeout-ms 300]
// A one-node lab (client and server pod, a NetworkPolicy `toggle` on the
// server switching between `ingress: []` and `ingress: [{}]`). A probe inside
// the client pod opens a new TCP connection every ~2 ms and reports the start
// time (CLOCK_MONOTONIC, the same clock this process writes the file with) and
// outcome of each; latency = start of the first attempt with the new outcome −
// time of the rename into the manifests directory. Afterwards, the same
// pipeline the agent runs on a change is timed stage by stage in this process
// (directory fingerprint, manifest load, compile, render, diff, nft in a
// scratch namespace) to show where the time goes.
import { spawn, spawnSync } from 'node:child_process';
import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'node:timers';
import { parseArgs } from 'node:util';

const here = fileURLToPath(import.meta.url);
const root = join(dirname(here), '..');
const nowNs = () => process.hrtime.bigint();

// ---------------------------------------------------------------- probe child
// Runs inside the client pod: `node policy-update.js --probe-child IP PORT INTERVAL TIMEOUT MAXSEC`.
// One line per attempt: `<start ns, CLOCK_MONOTONIC> <1 connected | 0 timed out | 2 error>`.
if (process.argv[2] === '--probe-child') {
  const [ip, port, interval, timeout, maxSec] = process.argv
    .slice(3)
    .map((x, i) => (i ? Number(x) : x));
  let buf = '';
  const flush = () => {
    if (buf) process.stdout.write(buf);
    buf = '';
  };
  const attempt = () => {
    const t0 = nowNs();
    let done = false;
    const s = connect({ host: ip, port });
    const finish = (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      buf += `${t0} ${code}\n`;
      // RST instead of FIN: no TIME_WAIT, so 500 connections a second never run out of ports.
      if (typeof s.resetAndDestroy === 'function' && code === 1) s.resetAndDestroy();
      else s.destroy();
    };
    const timer = setTimeout(() => finish(0), timeout);
    s.once('connect', () => finish(1));
    s.once('error', () => finish(2));
  };
  const tick = setInterval(attempt, interval);
  setInterval(flush, 5);
  const stop = () => {
    clearInterval(tick);
    setTimeout(() => {
      flush();
      process.exit(0);
    }, timeout + 50);
  };
  setTimeout(stop, maxSec * 1000).unref();
  process.stdin.on('end', stop).resume();
} else {
  await main();
}

// ----------------------------------------------------------------------- main
async function main() {
  const { values } = parseArgs({
    options: {
      policies: { type: 'string', default: '0,1000,10000' },
      runs: { type: 'string', default: '30' },
      'bg-pods': { type: 'string', default: '1000' },
      layout: { type: 'string', default: 'bulk' },
      'interval-ms': { type: 'string', default: '2' },
      'timeout-ms': { type: 'string', default: '300' },
      'stage-max-s': { type: 'string', default: '900' },
      'breakdown-runs': { type: 'string', default: '5' },
    },
  });
  const Ks = values.policies.split(',').map(Number);
  const runs = Number(values.runs);
  const bgPods = Number(values['bg-pods']);
  const interval = Number(values['interval-ms']);
  const timeout = Number(values['timeout-ms']);
  const stageMaxMs = Number(values['stage-max-s']) * 1000;
  const breakdownRuns = Number(values['breakdown-runs']);
  if (!['bulk', 'files'].includes(values.layout)) throw new Error('--layout bulk|files');

  const { generateCluster } = await import('./generate.js');
  const { loadManifests, ManifestCache } = await import('../dist/sources/manifests/load.js');
  const { PolicyCompiler } = await import('../dist/core/policy/compile.js');
  const { renderTable } = await import('../dist/components/policy/render.js');
  const { transactionText } = await import('../dist/nft/text.js');
  const { partialTransaction } = await import('../dist/nft/transactions.js');
  const { validateTable } = await import('../dist/nft/validate.js');
  const { TableSync } = await import('../dist/nft/sync.js');
  const { RealNft } = await import('../dist/nft/runner.js');
  const { AgentClient } = await import('../dist/api/client.js');
  const { AgentRoutes } = await import('../dist/api/routes.js');

  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-upd-'));
  const labRoot = join(dir, 'labs');
  const name = `bu${process.pid.toString(36)}`;
  const scratchNs = `wb-upd-${process.pid.toString(36)}`;
  let scratchMade = false;
  const env = { ...process.env, WEFT_LAB_ROOT: labRoot };
  const manifests = join(labRoot, name, 'manifests');
  const agentLog = join(labRoot, name, 'nodes', 'node-1', 'agent.log');
  const socket = join(labRoot, name, 'nodes', 'node-1', 'cni.sock');
  let probe;

  const weft = (...args) => {
    const r = spawnSync(process.execPath, [join(root, 'bin/weft.js'), ...args], {
      env,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0) throw new Error(`weft ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    if (probe && probe.exitCode === null && probe.signalCode === null) {
      try {
        process.kill(probe.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync(process.execPath, [join(root, 'bin/weft.js'), 'lab', 'down', '--name', name], {
      env,
    });
    if (scratchMade) {
      spawnSync('ip', ['netns', 'del', scratchNs]);
      spawnSync('ip', ['netns', 'del', `${scratchNs}-p`]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      cleanup();
      process.exit(130);
    });
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  };
  const stats = (xs) =>
    xs.length
      ? `p50 ${pct(xs, 50).toFixed(1)} ms, p90 ${pct(xs, 90).toFixed(1)}, p99 ${pct(xs, 99).toFixed(1)}, min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)} (n=${xs.length})`
      : 'n=0';
  const median = (xs) => pct(xs, 50);
  const log = (s) => process.stderr.write(`${s}\n`);
  const agent = new AgentClient({ kind: 'unix', node: 'bench', socket }, 30_000);
  const policyAnswer = () => agent.get(AgentRoutes.policy);
  /** Writes a file the way the lab does: temp name (not a manifest extension) + rename. Returns the rename time. */
  const atomicWrite = (file, text) => {
    const tmp = join(dirname(file), `.${file.split('/').pop()}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, file);
    return nowNs();
  };
  const toggleYaml = (allow) =>
    [
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicy',
      'metadata: {namespace: bench, name: toggle}',
      'spec:',
      '  podSelector: {matchLabels: {role: server}}',
      '  policyTypes: [Ingress]',
      `  ingress: ${allow ? '[{}]' : '[]'}`,
      '',
    ].join('\n');
  const toggleFile = join(manifests, 'NetworkPolicy.bench.toggle.yaml');

  /** Background: K policies and bgPods pods (never started, addresses outside the lab's ranges). */
  const background = (K) => {
    const docs = generateCluster({ pods: bgPods, policies: K, namespaces: 20 })
      .split('\n---\n')
      .map((d) => JSON.parse(d));
    const out = [];
    let i = 0;
    for (const d of docs) {
      if (d.kind === 'Pod') {
        const ip = `10.250.${Math.floor(i / 250)}.${(i % 250) + 1}`;
        i++;
        out.push({
          ...d,
          spec: { ...d.spec, nodeName: undefined },
          status: { podIP: ip, podIPs: [{ ip }] },
        });
      } else out.push(d);
    }
    return out;
  };
  const bgPrefix = 'zz-bg-';
  const clearBackground = () => {
    for (const f of readdirSync(manifests)) if (f.startsWith(bgPrefix)) rmSync(join(manifests, f));
  };
  const writeBackground = (docs) => {
    const text = (ds) => ds.map((d) => JSON.stringify(d)).join('\n---\n');
    const base = docs.filter((d) => d.kind === 'Namespace' || d.kind === 'Pod');
    const pols = docs.filter((d) => d.kind !== 'Namespace' && d.kind !== 'Pod');
    atomicWrite(join(manifests, `${bgPrefix}pods.yaml`), text(base));
    if (values.layout === 'bulk') {
      for (let i = 0; i * 1000 < pols.length; i++)
        atomicWrite(
          join(manifests, `${bgPrefix}policies-${String(i).padStart(3, '0')}.yaml`),
          text(pols.slice(i * 1000, (i + 1) * 1000)),
        );
    } else {
      for (const p of pols)
        atomicWrite(
          join(
            manifests,
            `${bgPrefix}${p.kind}.${p.metadata.namespace ?? '_'}.${p.metadata.name}.yaml`,
          ),
          text([p]),
        );
    }
  };

  /** Agent log lines `policy: …` after a byte offset. */
  let logOffset = 0;
  const newLogLines = () => {
    const text = readFileSync(agentLog, 'utf8');
    const lines = text.slice(logOffset).split('\n').filter(Boolean);
    logOffset = text.length;
    return lines;
  };
  const syncLines = (lines) =>
    lines
      .map((l) => /^(\S+) policy: (full|partial) sync in ([\d.]+) ms \((\d+) bytes\)/.exec(l))
      .filter(Boolean)
      .map((m) => ({ at: m[1], kind: m[2], ms: Number(m[3]), bytes: Number(m[4]) }));

  try {
    // -------------------------------------------------------------- the lab
    const labFile = join(dir, 'lab.yaml');
    writeFileSync(
      labFile,
      [
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}',
        'apiVersion: v1\nkind: Pod\nmetadata: {namespace: bench, name: client, labels: {role: client}}\nspec: {containers: [{name: c, image: x}]}',
        'apiVersion: v1\nkind: Pod\nmetadata: {namespace: bench, name: server, labels: {role: server}}\nspec: {containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}',
        toggleYaml(true),
      ].join('\n---\n'),
    );
    let t0 = nowNs();
    weft('lab', 'up', '--name', name, '--nodes', '1', '-f', labFile);
    log(
      `lab ${name} up in ${(Number(nowNs() - t0) / 1e6).toFixed(0)} ms (WEFT_LAB_ROOT=${labRoot})`,
    );
    const state = JSON.parse(readFileSync(join(labRoot, name, 'state.json'), 'utf8'));
    const client = state.pods['bench/client'];
    const server = state.pods['bench/server'];
    const serverIp = server.ips[0];
    const head = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).stdout.trim();
    console.log(
      `weft at ${head}, dist/ built ${statSync(join(root, 'dist/agent/agent.js')).mtime.toISOString()}`,
    );
    console.log(
      `lab: 1 node, client ${client.ips[0]} → server ${serverIp}:8080/TCP; probe every ${interval} ms, timeout ${timeout} ms; background: ${bgPods} pods (not running) + K policies, layout ${values.layout}`,
    );

    // ------------------------------------------------------------- probe
    /** Completed attempts: { t: ms since base (start of attempt), code }. */
    const base = nowNs();
    let results = [];
    const startProbe = () => {
      results = [];
      const child = spawn(
        'ip',
        [
          'netns',
          'exec',
          client.netns,
          process.execPath,
          here,
          '--probe-child',
          serverIp,
          '8080',
          String(interval),
          String(timeout),
          String(Math.ceil(stageMaxMs / 1000) + 60),
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      let rest = '';
      child.stdout.setEncoding('utf8').on('data', (d) => {
        const lines = (rest + d).split('\n');
        rest = lines.pop();
        for (const l of lines) {
          const [ns, code] = l.split(' ');
          results.push({ t: Number(BigInt(ns) - base) / 1e6, code: Number(code) });
        }
      });
      return child;
    };
    const stopProbe = async (child) => {
      child.stdin.end();
      await new Promise((r) => {
        if (child.exitCode !== null || child.signalCode !== null) r();
        else child.once('exit', r);
      });
    };
    const msOf = (ns) => Number(ns - base) / 1e6;
    const nowMs = () => msOf(nowNs());
    const outcome = (allow) => (allow ? 1 : 0);
    /** Waits until `pred()` holds, polling; false on deadline. */
    const until = async (pred, ms) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (pred()) return true;
        await sleep(2);
      }
      return pred();
    };

    // A scratch namespace for the nft part of the breakdown (never the lab's).
    spawnSync('ip', ['netns', 'add', scratchNs]);
    spawnSync('ip', ['netns', 'add', `${scratchNs}-p`]);
    scratchMade = true;

    const summary = [];
    for (const K of Ks) {
      // ------------------------------------------------ background policies
      clearBackground();
      const docs = background(K);
      const nps = docs.filter((d) => d.kind === 'NetworkPolicy').length;
      const cnps = docs.filter((d) => d.kind === 'ClusterNetworkPolicy').length;
      newLogLines();
      const tBg = nowNs();
      const wallBg = Date.now();
      writeBackground(docs);
      // Synced: the agent knows all of them, a sync finished after the write, and then no
      // newer one for a while (a reload still queued would show up as a newer sync).
      const deadline = Date.now() + 600_000;
      let pol;
      let seen = false;
      while (Date.now() < deadline) {
        pol = await policyAnswer().catch(() => undefined);
        if (
          pol?.lastSync &&
          pol.networkPolicies.length === nps + 1 &&
          pol.clusterNetworkPolicies.length === cnps &&
          Date.parse(pol.lastSync.at) > wallBg + 30 // the watch debounce
        ) {
          seen = true;
          break;
        }
        await sleep(50);
      }
      if (!seen) throw new Error(`the agent never showed ${nps + 1} NetworkPolicies`);
      const bgMs = Number(nowNs() - tBg) / 1e6;
      // Quiet: no newer sync for a while (the periodic recheck may reload once more).
      let lastAt = pol.lastSync.at;
      for (let i = 0; i < 100; i++) {
        await sleep(Math.max(1000, 2 * (pol.lastSync.ms ?? 0)));
        pol = await policyAnswer();
        if (pol.lastSync.at === lastAt) break;
        lastAt = pol.lastSync.at;
      }
      const bgLines = newLogLines();
      console.log(
        `\nK=${K}: ${nps} NetworkPolicies + ${cnps} ClusterNetworkPolicies + ${bgPods} pods written; agent synced in ${bgMs.toFixed(0)} ms from the first write (/v1/policy lastSync: ${pol.lastSync.kind} ${pol.lastSync.ms.toFixed(1)} ms; log lines: ${
          syncLines(bgLines)
            .map((s) => `${s.kind} ${s.ms} ms`)
            .join(', ') || 'none (nothing local changed)'
        })`,
      );

      // ------------------------------------------------------ flip loop
      const child = startProbe();
      probe = child;
      let allow = true; // lab starts with ingress: [{}]
      // Make sure the current state is what we think (also after the previous K).
      atomicWrite(toggleFile, toggleYaml(allow));
      const settled = await until(() => {
        const cut = nowMs() - timeout - 20;
        const last = results.filter((r) => r.t <= cut).slice(-20);
        return last.length === 20 && last.every((r) => r.code === outcome(allow));
      }, 120_000);
      if (!settled) throw new Error('the probe never saw a steady verdict before the first flip');
      const lat = { allow: [], deny: [] };
      const agentMs = [];
      let flaps = 0;
      let misses = 0;
      const stageEnd = Date.now() + stageMaxMs;
      newLogLines();
      for (let i = 0; i < runs + 1 && Date.now() < stageEnd; i++) {
        await sleep(Math.random() * 20);
        allow = !allow;
        const want = outcome(allow);
        const wNs = atomicWrite(toggleFile, toggleYaml(allow));
        const w = msOf(wNs);
        let first;
        const seen = await until(
          () => {
            first = results.find((r) => r.t >= w && r.code === want);
            return first !== undefined;
          },
          Math.min(120_000, Math.max(0, stageEnd - Date.now()) + 30_000),
        );
        if (!seen) {
          misses++;
          log(`  K=${K} run ${i}: no flip seen`);
          break;
        }
        // Let later attempts complete, then check that the verdict stayed flipped.
        await until(
          () =>
            results.filter((r) => r.t > first.t + 40).length >= 20 &&
            nowMs() > first.t + timeout + 60,
          10_000,
        );
        const after = results.filter((r) => r.t > first.t && r.t < nowMs() - timeout - 20);
        flaps += after.filter((r) => r.code !== want).length;
        const l = first.t - w;
        const lines = syncLines(newLogLines());
        if (i === 0) {
          log(`  K=${K} warm-up flip: ${l.toFixed(1)} ms (not counted)`);
          continue;
        }
        (allow ? lat.allow : lat.deny).push(l);
        agentMs.push(...lines.map((s) => s.ms));
        log(
          `  K=${K} run ${i}/${runs} ${allow ? 'deny→allow' : 'allow→deny'}: ${l.toFixed(1)} ms (agent: ${lines.map((s) => `${s.kind} ${s.ms} ms`).join(', ')})`,
        );
      }
      await stopProbe(child);
      probe = undefined;
      const all = [...lat.allow, ...lat.deny];
      console.log(`  write → verdict flipped, both directions: ${stats(all)}`);
      console.log(`    deny→allow: ${stats(lat.allow)}`);
      console.log(`    allow→deny: ${stats(lat.deny)}`);
      console.log(
        `  agent log "policy: partial sync in X ms" (compile + render + nft): ${stats(agentMs)}`,
      );
      if (flaps || misses)
        console.log(
          `  WARNING: ${flaps} attempts went back to the old verdict, ${misses} flips never seen`,
        );

      // --------------------------------------- breakdown, in this process
      const local = new Set(['bench/client', 'bench/server']);
      const bd = {
        fingerprint: [],
        reload: [],
        fullParse: [],
        compile: [],
        render: [],
        diff: [],
        nft: [],
        nftProcess: [],
      };
      const fingerprint = () => {
        const parts = [];
        for (const n of readdirSync(manifests).sort()) {
          const s = statSync(join(manifests, n));
          parts.push(`${n}:${s.size}:${s.mtimeMs}`);
        }
        return parts.join('\n');
      };
      // The agent's runner (one long-lived nft), and side by side one nft process per transaction.
      const runner = new RealNft({ netns: scratchNs });
      const table = new TableSync(runner);
      const tableByProcess = new TableSync(
        new RealNft({ netns: `${scratchNs}-p`, processPerTransaction: true }),
      );
      const cache = ManifestCache ? new ManifestCache() : undefined;
      // As the agent does: only the policies selecting local pods, unchanged ones reused.
      const compiler = new PolicyCompiler();
      const inScope = (p) => local.has(`${p.namespace}/${p.name}`);
      let prev;
      let a = true;
      const warm = 2;
      for (let r = 0; r < breakdownRuns + warm; r++) {
        atomicWrite(toggleFile, toggleYaml(a));
        let t = performance.now();
        fingerprint();
        const tf = performance.now() - t;
        t = performance.now();
        const { cluster } = cache
          ? await cache.load([manifests])
          : await loadManifests([manifests]);
        const tl = performance.now() - t;
        t = performance.now();
        await loadManifests([manifests]);
        const tp = performance.now() - t;
        t = performance.now();
        const ir = compiler.compile(cluster, inScope);
        const tc = performance.now() - t;
        t = performance.now();
        const next = renderTable(ir, local);
        const tr = performance.now() - t;
        t = performance.now();
        validateTable(next);
        const partial = prev && partialTransaction(prev, next);
        if (partial) transactionText(partial);
        const td = performance.now() - t;
        const applied = await table.apply(next);
        const appliedByProcess = await tableByProcess.apply(next);
        prev = next;
        a = !a;
        if (r < warm) continue; // the first apply is the full one; both warm the JIT
        bd.fingerprint.push(tf);
        bd.reload.push(tl);
        bd.fullParse.push(tp);
        bd.compile.push(tc);
        bd.render.push(tr);
        bd.diff.push(td);
        bd.nft.push(applied.ms - td);
        bd.nftProcess.push(appliedByProcess.ms - td);
      }
      runner.close?.();
      atomicWrite(toggleFile, toggleYaml(true));
      const m = Object.fromEntries(Object.entries(bd).map(([k, v]) => [k, median(v)]));
      console.log(
        `  breakdown of one change, in-process, median of ${breakdownRuns}: fingerprint ${m.fingerprint.toFixed(1)} ms, reload ${cache ? '(ManifestCache, 1 file reparsed) ' : ''}${m.reload.toFixed(1)} ms [every file reparsed: ${m.fullParse.toFixed(1)} ms], compile ${m.compile.toFixed(1)} ms, render ${m.render.toFixed(1)} ms, validate+diff ${m.diff.toFixed(1)} ms, nft partial ${m.nft.toFixed(1)} ms [one nft process per transaction: ${m.nftProcess.toFixed(1)} ms]; plus the 5 ms watch debounce`,
      );
      summary.push({ K, all, agentMs, m });
    }
    console.log('\nsummary (write → flip):');
    for (const s of summary)
      console.log(
        `  K=${String(s.K).padStart(5)}: p50 ${pct(s.all, 50)?.toFixed(1)} ms, p99 ${pct(s.all, 99)?.toFixed(1)} ms (n=${s.all.length}); agent sync p50 ${pct(s.agentMs, 50)?.toFixed(1)} ms; reload ${s.m.reload.toFixed(0)} / compile ${s.m.compile.toFixed(0)} / render ${s.m.render.toFixed(1)} / nft ${s.m.nft.toFixed(1)} ms (process per transaction ${s.m.nftProcess.toFixed(1)} ms)`,
      );
  } finally {
    cleanup();
  }
}
