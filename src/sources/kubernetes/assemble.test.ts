import test from 'node:test';
import assert from 'node:assert/strict';
import { formatIssue } from '../../core/errors.js';
import { buildCluster, validatePodAddresses } from '../../core/model/cluster.js';
import type { ModelObject } from '../../core/model/types.js';
import { Rng } from '../../testing/random-cluster.js';
import { ClusterAssembler, parseApiObject, PartSharer, type Parsed } from './assemble.js';
import type { Change } from './reflector.js';
import { RESOURCES, type ResourceSpec } from './resources.js';

const spec = (name: string) => RESOURCES.find((r) => r.name === name) as ResourceSpec;

// Namespaces whose `ns/name` string order differs from (namespace, name) order.
const NAMESPACES = ['a', 'a-b', 'a.b', 'b'];

function rawObject(r: Rng, resource: string, i: number): Record<string, unknown> {
  const labels = { app: r.pick(['x', 'y']), v: String(r.int(3)) };
  const ns = NAMESPACES[i % NAMESPACES.length] as string;
  switch (resource) {
    case 'namespaces':
      return { metadata: { name: ns, labels } };
    case 'pods':
      return {
        metadata: { namespace: ns, name: `p${i}`, labels },
        spec: {
          nodeName: `n${i % 3}`,
          containers: [{ ports: [{ containerPort: 80 + r.int(3) }] }],
        },
        status: { podIP: `10.0.${i >> 8}.${i & 255}` },
      };
    case 'nodes':
      return {
        metadata: { name: `n${i % 5}`, labels },
        spec: { podCIDRs: [`10.${i % 5}.0.0/24`] },
      };
    case 'networkpolicies':
      return {
        metadata: { namespace: ns, name: `np${i % 9}` },
        // One in five is invalid: a policy type that does not exist.
        spec: {
          podSelector: { matchLabels: labels },
          policyTypes: [r.chance(0.2) ? 'Sideways' : 'Ingress'],
        },
      };
    case 'services':
      return {
        metadata: { namespace: ns, name: `s${i % 7}`, labels },
        // One in five is invalid: an affinity that does not exist.
        spec: {
          selector: labels,
          ports: [{ port: 80 + r.int(3) }],
          sessionAffinity: r.chance(0.2) ? 'Sticky' : 'None',
        },
      };
    case 'endpointslices':
      return {
        metadata: {
          namespace: ns,
          name: `s${i % 7}-x`,
          labels: { 'kubernetes.io/service-name': `s${i % 7}` },
        },
        addressType: 'IPv4',
        endpoints: [
          { addresses: [`10.1.0.${1 + r.int(9)}`], conditions: { ready: r.chance(0.5) } },
        ],
        ports: [{ port: 8080 }],
      };
    default:
      return {
        metadata: { name: `cnp${i % 6}` },
        spec: {
          tier: r.pick(['Admin', 'Baseline']),
          priority: r.int(4),
          subject: { namespaces: {} },
          ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }],
        },
      };
  }
}

/** One random change to `truth`, as a reflector would report it. */
function randomChange(
  r: Rng,
  truth: Map<string, Map<string, Parsed>>,
  s: ResourceSpec,
): Change<Parsed> {
  const store = truth.get(s.name) as Map<string, Parsed>;
  const raw: Record<string, unknown> = {
    ...rawObject(r, s.name, r.int(40)),
    apiVersion: s.apiVersion,
    kind: s.kind,
  };
  const meta = raw['metadata'] as { name: string; namespace?: string };
  const key = meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
  const old = store.get(key);
  if (old && r.chance(0.3)) {
    store.delete(key);
    return { type: 'delete', key, old };
  }
  const value = parseApiObject(s, raw);
  store.set(key, value);
  return old ? { type: 'set', key, value, old } : { type: 'set', key, value };
}

test('assembler: any sequence of changes gives the Cluster built from scratch', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = new Rng(seed);
    const assembler = new ClusterAssembler();
    const truth = new Map<string, Map<string, Parsed>>(RESOURCES.map((s) => [s.name, new Map()]));
    let conflicts = '';
    for (let step = 0; step < 120; step++) {
      const s = spec(r.pick(RESOURCES.map((x) => x.name)));
      // Mostly single events; now and then a large batch (a relist, a busy chunk),
      // where one key may change several times.
      const n = r.chance(0.1) ? 20 + r.int(120) : 1;
      const batch = Array.from({ length: n }, () => randomChange(r, truth, s));
      assembler.apply(s.kind, batch);
      const all = [...truth.values()].flatMap((m) => [...m.values()]);
      const valid = all.flatMap((p) => (p.object ? [p.object] : [])) as ModelObject[];
      // Shuffled, so the expected order is buildCluster's own doing.
      valid.sort(() => r.next() - 0.5);
      const where = `seed ${seed} step ${step}`;
      const expected = buildCluster(valid).cluster;
      const { cluster, newIssues } = assembler.build();
      assert.deepEqual(cluster, expected, where);
      assert.equal(assembler.invalidObjects, all.filter((p) => !p.object).length, where);
      const now = validatePodAddresses(expected).map(formatIssue).join('\n');
      const said = newIssues.map(formatIssue).join('\n');
      assert.equal(said, now === conflicts ? '' : now, where);
      conflicts = now;
    }
  }
});

test('assembler: a pod address conflict is reported once, until it changes', () => {
  const assembler = new ClusterAssembler();
  const pod = (name: string) =>
    parseApiObject(spec('pods'), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'prod', name },
      status: { podIP: '10.0.0.9' },
    });
  assembler.apply('Pod', [{ type: 'set', key: 'prod/a', value: pod('a') }]);
  assert.deepEqual(assembler.build().newIssues, []);
  assembler.apply('Pod', [{ type: 'set', key: 'prod/b', value: pod('b') }]);
  const first = assembler.build();
  assert.deepEqual(
    first.newIssues.map((i) => [i.object, i.field, i.code]),
    [['Pod prod/b', 'status.podIPs', 'WEFT_ADDRESS']],
  );
  assert.equal(first.cluster.pods.length, 2, 'the cluster is still handed on');
  assert.deepEqual(assembler.build().newIssues, []);
});

test('sharing: replicas hold one copy of equal labels, ports and owner, and parse the same', () => {
  const sharer = new PartSharer(3);
  const replica = (name: string, app = 'web') => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: 'prod',
      name,
      labels: { app, 'pod-template-hash': '7d9f' },
      ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9f', controller: true }],
    },
    spec: { containers: [{ ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: { podIP: `10.0.0.${name.length}` },
  });
  const a = parseApiObject(spec('pods'), replica('a'), sharer).object;
  const b = parseApiObject(spec('pods'), replica('bb'), sharer).object;
  const other = parseApiObject(spec('pods'), replica('c', 'db'), sharer).object;
  assert.ok(a?.kind === 'Pod' && b?.kind === 'Pod' && other?.kind === 'Pod');
  assert.deepEqual(b, parseApiObject(spec('pods'), replica('bb')).object);
  assert.ok(a.labels === b.labels && a.ports === b.ports && a.owner === b.owner);
  assert.ok(a.labels !== other.labels);
  assert.deepEqual(other.labels, { app: 'db', 'pod-template-hash': '7d9f' });
  // A table of 3 parts overflowed: it started over, and equal parts are no longer one object.
  const d = parseApiObject(spec('pods'), replica('d'), sharer).object;
  assert.ok(d?.kind === 'Pod' && d.labels !== a.labels);
  assert.deepEqual(d.labels, a.labels);
});
