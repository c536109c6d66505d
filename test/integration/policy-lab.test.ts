// Differential: for random pods, labels and policies, what real packets do in
// the lab must equal what `weft policy matrix` predicts from the lab's own
// manifests — at start, and after label changes, policy updates and deletions
// applied to the running lab.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { randomCluster, Rng } from '../../src/testing/random-cluster.js';
import { TestLab, everyPair, type CliResult } from '../support/lab.js';

const PORTS = ['80/TCP', '8080/TCP', '53/UDP', '9000/UDP'];
const SEEDS = (process.env['WEFT_DIFF_SEEDS'] ?? '1,2,3,4').split(',').map(Number);

type Matrices = Record<string, Record<string, boolean>>[];

async function predicted(lab: TestLab): Promise<Matrices> {
  const args = PORTS.flatMap((p) => ['--port', p]);
  const r: CliResult = await lab.weft(
    'policy',
    'matrix',
    '-f',
    lab.path('manifests'),
    ...args,
    '-o',
    'json',
  );
  assert.equal(r.code, 0, r.stderr);
  return (
    JSON.parse(r.stdout) as { probes: { matrix: Record<string, Record<string, boolean>> }[] }
  ).probes.map((p) => p.matrix);
}

async function assertAgree(
  lab: TestLab,
  when: string,
): Promise<{ allowed: number; denied: number }> {
  const measured = await lab.probe(...PORTS.flatMap((p) => ['--port', p]), '--timeout-ms', '300');
  const expected = await predicted(lab);
  let allowed = 0;
  let denied = 0;
  const wrong: string[] = [];
  measured.forEach((m, k) => {
    for (const [from, to, ok] of everyPair(m)) {
      const want = expected[k]?.[from]?.[to];
      if (ok !== want)
        wrong.push(`${PORTS[k]} ${from} -> ${to}: packets say ${ok}, matrix says ${want}`);
      if (ok) allowed++;
      else denied++;
    }
  });
  assert.deepEqual(wrong, [], `${when}: lab and matrix disagree`);
  return { allowed, denied };
}

function docsOf(yaml: string): Record<string, unknown>[] {
  return yaml.split('\n---\n').map((d) => JSON.parse(d) as Record<string, unknown>);
}

for (const seed of SEEDS) {
  test(`lab probe equals policy matrix, random cluster ${seed}, through changes`, async (t) => {
    const lab = TestLab.create(t);
    const yaml = randomCluster({
      seed,
      pods: 6,
      policies: 3,
      clusterPolicies: 2,
      withIps: false,
      blockNet: '10.244',
    });
    const file = join(lab.root, 'cluster.yaml');
    writeFileSync(file, yaml);
    await lab.lab('up', '--nodes', '2', '-f', file);
    const totals = await assertAgree(lab, 'after up');
    assert.ok(totals.allowed > 0 && totals.denied > 0, `seed ${seed} exercises both verdicts`);

    const r = new Rng(seed * 7919);
    const docs = docsOf(yaml);
    const pods = docs.filter((d) => d['kind'] === 'Pod');
    // A label change on a pod.
    const pod = r.pick(pods);
    const meta = pod['metadata'] as { labels: Record<string, string> };
    meta.labels = { ...meta.labels, app: r.pick(['a', 'b', 'c']), tier: r.pick(['x', 'y']) };
    const change = join(lab.root, 'change.yaml');
    writeFileSync(change, JSON.stringify(pod));
    await lab.lab('apply', '-f', change);
    await assertAgree(lab, 'after a label change');

    // A policy replaced by another random one of the same name, then deleted.
    const fresh = docsOf(
      randomCluster({
        seed: seed + 1000,
        pods: 6,
        policies: 3,
        clusterPolicies: 0,
        withIps: false,
        blockNet: '10.244',
      }),
    );
    const np = fresh.find((d) => d['kind'] === 'NetworkPolicy') as Record<string, unknown>;
    const old = docs.find((d) => d['kind'] === 'NetworkPolicy') as Record<string, unknown>;
    (np['metadata'] as Record<string, unknown>)['name'] = (
      old['metadata'] as Record<string, unknown>
    )['name'];
    (np['metadata'] as Record<string, unknown>)['namespace'] = (
      old['metadata'] as Record<string, unknown>
    )['namespace'];
    writeFileSync(change, JSON.stringify(np));
    await lab.lab('apply', '-f', change);
    await assertAgree(lab, 'after a policy update');
    const m = np['metadata'] as { namespace: string; name: string };
    await lab.lab('delete', `networkpolicy/${m.namespace}/${m.name}`);
    await assertAgree(lab, 'after a policy deletion');
    const cnp = docs.find((d) => d['kind'] === 'ClusterNetworkPolicy');
    if (cnp) {
      await lab.lab('delete', `clusternetworkpolicy/${(cnp['metadata'] as { name: string }).name}`);
      await assertAgree(lab, 'after a cluster policy deletion');
    }
    // Every manifest in the lab carries the address its pod really has.
    const stored = parse(
      readFileSync(
        lab.path(
          'manifests',
          `Pod.${(pod['metadata'] as { namespace: string }).namespace}.${(pod['metadata'] as { name: string }).name}.yaml`,
        ),
        'utf8',
      ),
    ) as {
      status: { podIP: string };
    };
    assert.match(stored.status.podIP, /^10\.244\.\d\.\d+$/);
    t.diagnostic(`seed ${seed}: ${totals.allowed} allowed, ${totals.denied} denied at start`);
  });
}
