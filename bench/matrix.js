// weft policy matrix on 1,000 pods and 500 policies.
//   node bench/matrix.js [--pods 1000] [--policies 500] [--runs 5]
// Reports the whole command's wall time (node start, YAML, compile, matrix,
// JSON out) and, side by side in the same run, the bitset matrix against
// answering the same pairs with one trace each.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCluster } from './generate.js';
import { loadManifests } from '../dist/sources/manifests/load.js';
import { withDefaultAddresses } from '../dist/core/model/addresses.js';
import { compilePolicies } from '../dist/core/policy/compile.js';
import { Evaluator } from '../dist/core/policy/evaluate.js';
import { declaredProbes, matrixJson, policyMatrix } from '../dist/core/policy/matrix-report.js';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '1000' },
    policies: { type: 'string', default: '500' },
    runs: { type: 'string', default: '5' },
  },
});
const pods = Number(values.pods);
const policies = Number(values.policies);
const runs = Number(values.runs);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'weft-bench-matrix-'));
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, generateCluster({ pods, policies }));
  console.log(`manifests: ${pods} pods, ${policies} policies (${file})`);

  const wall = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const outFile = join(dir, 'matrix.json');
    const fd = openSync(outFile, 'w');
    const t0 = process.hrtime.bigint();
    const args = [join(root, 'bin/weft.js'), 'policy', 'matrix', '-f', file, '-o', 'json'];
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', fd, 'inherit'] });
    wall.push(ms(t0));
    closeSync(fd);
    if (r.status !== 0) throw new Error(`weft policy matrix exited ${r.status}`);
    bytes = statSync(outFile).size;
    process.stderr.write(`  run ${i + 1}/${runs}: ${wall.at(-1).toFixed(0)} ms\n`);
  }
  console.log(
    `weft policy matrix -o json: median ${median(wall).toFixed(0)} ms, min ${Math.min(...wall).toFixed(0)} ms, max ${Math.max(...wall).toFixed(0)} ms over ${runs} runs (${(bytes / 1e6).toFixed(1)} MB of JSON)`,
  );

  // In-process stages.
  let t0 = process.hrtime.bigint();
  const { cluster: loaded } = await loadManifests([file]);
  const cluster = withDefaultAddresses(loaded).cluster;
  const tLoad = ms(t0);
  t0 = process.hrtime.bigint();
  const ir = compilePolicies(cluster);
  const tCompile = ms(t0);
  const probes = declaredProbes(cluster);
  t0 = process.hrtime.bigint();
  const m = policyMatrix(cluster, ir, probes);
  const tMatrix = ms(t0);
  t0 = process.hrtime.bigint();
  matrixJson(m);
  const tJson = ms(t0);
  console.log(
    `stages: load ${tLoad.toFixed(0)} ms, compile ${tCompile.toFixed(0)} ms, matrix ${tMatrix.toFixed(0)} ms (${probes.length} probes), json ${tJson.toFixed(0)} ms`,
  );

  // Side by side: one probe, bitset matrix vs a trace per pair.
  const probe = probes[0];
  const ev = new Evaluator(ir);
  t0 = process.hrtime.bigint();
  const one = policyMatrix(cluster, ir, [probe]).probes[0];
  const tBits = ms(t0);
  t0 = process.hrtime.bigint();
  let mismatches = 0;
  for (let i = 0; i < cluster.pods.length; i++) {
    for (let j = 0; j < cluster.pods.length; j++) {
      const t = ev.trace({
        src: cluster.pods[i].ips[0],
        dst: cluster.pods[j].ips[0],
        protocol: probe.protocol,
        port: probe.port,
      });
      if (t.allowed !== one.allowed(i, j)) mismatches++;
    }
  }
  const tTrace = ms(t0);
  console.log(
    `one probe (${probe.port}/${probe.protocol}), ${pods * pods} pairs: bitset matrix ${tBits.toFixed(0)} ms, trace per pair ${tTrace.toFixed(0)} ms, ratio ${(tTrace / tBits).toFixed(1)}x; mismatches ${mismatches}`,
  );
  if (mismatches > 0) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
