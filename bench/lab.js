// Time to bring up a lab: 3 nodes, 30 pods (each with three declared ports),
// then one full probe of every pair on every port, then teardown.
//   npm run build && node bench/lab.js [--nodes 3] [--pods 30]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCluster } from './generate.js';

const { values } = parseArgs({
  options: { nodes: { type: 'string', default: '3' }, pods: { type: 'string', default: '30' } },
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'weft-bench-lab-'));
const name = `bench${process.pid.toString(36)}`;
const env = { ...process.env, WEFT_LAB_ROOT: join(dir, 'labs') };
const weft = (...args) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(root, 'bin/weft.js'), ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`weft ${args.join(' ')} failed:\n${r.stderr}`);
  return { ms, stdout: r.stdout };
};

try {
  const file = join(dir, 'pods.yaml');
  const yaml = generateCluster({ pods: Number(values.pods), policies: 0, namespaces: 3 })
    .split('\n---\n')
    .map((d) => JSON.parse(d))
    .map((d) => (d.kind === 'Pod' ? { ...d, spec: { ...d.spec, nodeName: undefined } } : d))
    .map((d) => JSON.stringify(d))
    .join('\n---\n');
  writeFileSync(file, yaml);
  const up = weft('lab', 'up', '--name', name, '--nodes', values.nodes, '-f', file);
  const probe = weft('lab', 'probe', '--name', name, '-o', 'json', '--timeout-ms', '1000');
  const probes = JSON.parse(probe.stdout).probes;
  const pairs = probes.reduce(
    (n, p) => n + Object.values(p.matrix).reduce((k, row) => k + Object.keys(row).length, 0),
    0,
  );
  const allowed = probes.reduce(
    (n, p) =>
      n +
      Object.values(p.matrix).reduce((k, row) => k + Object.values(row).filter(Boolean).length, 0),
    0,
  );
  const down = weft('lab', 'down', '--name', name);
  console.log(
    `weft lab up --nodes ${values.nodes} with ${values.pods} pods: ${(up.ms / 1000).toFixed(1)} s`,
  );
  console.log(
    `weft lab probe, ${probes.length} ports, ${pairs} connections: ${(probe.ms / 1000).toFixed(1)} s (${allowed} allowed)`,
  );
  console.log(`weft lab down: ${(down.ms / 1000).toFixed(1)} s`);
} finally {
  spawnSync(process.execPath, [join(root, 'bin/weft.js'), 'lab', 'down', '--name', name], { env });
  rmSync(dir, { recursive: true, force: true });
}
