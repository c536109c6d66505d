import test from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { WeftError } from '../../core/errors.js';
import type { Cluster } from '../../core/model/types.js';
import { loadManifests, ManifestCache } from './load.js';

/** A small deterministic generator (the same sequence on every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const NAMESPACES = ['a', 'b', 'c'];

/** One object of a small pool, so that files often hold the same object twice. */
function randomObject(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const ns = pick(NAMESPACES);
  const n = Math.floor(r() * 4);
  const kinds = ['Namespace', 'Pod', 'Pod', 'NetworkPolicy', 'NetworkPolicy', 'CNP', 'Node'];
  switch (pick([...kinds, 'Service', 'EndpointSlice'])) {
    case 'Namespace':
      return `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}, labels: {v: "${n}"}}`;
    case 'Pod':
      // Few addresses, so that two pods sometimes share one.
      return `apiVersion: v1\nkind: Pod\nmetadata: {namespace: ${ns}, name: p${n}, labels: {app: x${n % 2}}}\nspec: {containers: [{name: c, image: x}]}\nstatus: {podIP: 10.0.0.${1 + Math.floor(r() * 8)}}`;
    case 'NetworkPolicy':
      return `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: ${ns}, name: np${n}}\nspec: {podSelector: {matchLabels: {app: x${n % 2}}}, ingress: ${r() < 0.5 ? '[]' : '[{}]'}}`;
    case 'CNP':
      return `apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: cnp${n}}\nspec:\n  tier: ${r() < 0.5 ? 'Admin' : 'Baseline'}\n  priority: ${Math.floor(r() * 3)}\n  subject: {namespaces: {}}\n  ingress: [{action: Accept, from: [{namespaces: {}}]}]`;
    case 'Service':
      return `apiVersion: v1\nkind: Service\nmetadata: {namespace: ${ns}, name: s${n}}\nspec: {selector: {app: x${n % 2}}, ports: [{port: ${80 + n}}]}`;
    case 'EndpointSlice':
      return `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {namespace: ${ns}, name: s${n}-x, labels: {kubernetes.io/service-name: s${n}}}\naddressType: IPv4\nendpoints: [{addresses: [10.1.0.${1 + n}]}]`;
    default:
      return `apiVersion: v1\nkind: Node\nmetadata: {name: n${n}, labels: {z: "${Math.floor(r() * 2)}"}}`;
  }
}

/** A load's outcome, comparable with deepEqual: the cluster (Map order kept) or the issues. */
async function outcome(load: () => Promise<{ cluster: Cluster }>): Promise<unknown> {
  try {
    const { cluster } = await load();
    return { ...cluster, namespaces: [...cluster.namespaces.entries()] };
  } catch (e) {
    if (e instanceof WeftError) return { issues: e.issues };
    throw e;
  }
}

test('a cache kept across random changes loads what a fresh load does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-assemble-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = rng(7);
  const names = ['a.yaml', 'b.yaml', 'c.yml', 'd.json', 'sub/e.yaml', 'sub/deep/f.yaml'];
  const cache = new ManifestCache();
  let previous: Cluster | undefined;
  let reusedLists = 0;
  let failures = 0;
  for (let step = 1; step <= 400; step++) {
    const file = join(dir, names[Math.floor(r() * names.length)] as string);
    const action = r();
    if (action < 0.2) {
      rmSync(file, { force: true });
    } else {
      mkdirSync(dirname(file), { recursive: true });
      const docs = Array.from({ length: Math.floor(r() * 4) }, () => randomObject(r));
      if (action > 0.95) docs.push('kind: Pod\nmetadata: [');
      const tmp = join(dirname(file), '.tmp');
      writeFileSync(tmp, docs.join('\n---\n'));
      // Every version its own time: inode, size and time together tell versions apart.
      utimesSync(tmp, step, step);
      renameSync(tmp, file);
    }
    let got: Cluster | undefined;
    const incremental = await outcome(async () => {
      const loaded = await cache.load([dir]);
      got = loaded.cluster;
      return loaded;
    });
    const fresh = await outcome(() => loadManifests([dir]));
    assert.deepEqual(incremental, fresh, `step ${step}`);
    if ('issues' in (incremental as object)) {
      failures++;
      continue;
    }
    const cluster = got as Cluster;
    if (previous) {
      const kinds = [
        'pods',
        'nodes',
        'networkPolicies',
        'clusterNetworkPolicies',
        'services',
        'endpointSlices',
      ] as const;
      const same = kinds.some((k) => cluster[k] === previous?.[k] && cluster[k].length > 0);
      if (same) reusedLists++;
    }
    previous = cluster;
  }
  // Both paths were taken many times: the patch (a kind's list kept as is) and failing loads.
  assert.ok(reusedLists > 50, `patched loads: ${reusedLists}`);
  assert.ok(failures > 20, `failing loads: ${failures}`);
});

test('a patched load keeps the objects and lists of unchanged files, and recovers after an error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-assemble-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const np = (name: string, ingress: string) =>
    `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: prod, name: ${name}}\nspec: {podSelector: {}, ingress: ${ingress}}\n`;
  const pod = `apiVersion: v1\nkind: Pod\nmetadata: {namespace: prod, name: web}\nspec: {containers: [{name: c, image: x}]}\nstatus: {podIP: 10.1.0.1}\n`;
  writeFileSync(join(dir, 'pods.yaml'), pod);
  writeFileSync(join(dir, 'a.yaml'), np('a', '[]'));
  writeFileSync(join(dir, 'b.yaml'), np('b', '[]'));
  const cache = new ManifestCache();
  const first = (await cache.load([dir])).cluster;

  writeFileSync(join(dir, '.b.tmp'), np('b', '[{}]'));
  renameSync(join(dir, '.b.tmp'), join(dir, 'b.yaml'));
  const second = (await cache.load([dir])).cluster;
  assert.equal(second.pods, first.pods, 'the pods list is the same array');
  assert.equal(second.namespaces, first.namespaces, 'the namespaces are the same map');
  assert.equal(second.networkPolicies[0], first.networkPolicies[0], 'policy a is the same object');
  assert.notEqual(second.networkPolicies[1], first.networkPolicies[1]);
  assert.deepEqual(
    second.networkPolicies.map((p) => [p.name, p.ingress.length]),
    [
      ['a', 0],
      ['b', 1],
    ],
  );

  // A duplicate across files: the load fails as a full load does, naming both.
  writeFileSync(join(dir, 'c.yaml'), np('a', '[{}]'));
  await assert.rejects(cache.load([dir]), (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.equal(e.issues.length, 1);
    assert.equal(e.issues[0]?.code, 'WEFT_DUPLICATE_OBJECT');
    assert.match(e.issues[0]?.message ?? '', /a\.yaml/);
    return true;
  });
  unlinkSync(join(dir, 'c.yaml'));
  const third = (await cache.load([dir])).cluster;
  assert.equal(third.networkPolicies, second.networkPolicies, 'back to the last good lists');

  // The last pod of a namespace without a Namespace object goes: so does the implicit namespace.
  unlinkSync(join(dir, 'pods.yaml'));
  unlinkSync(join(dir, 'a.yaml'));
  unlinkSync(join(dir, 'b.yaml'));
  const empty = (await cache.load([dir])).cluster;
  assert.deepEqual([...empty.namespaces.keys()], []);
  assert.deepEqual(empty.pods, []);
});
