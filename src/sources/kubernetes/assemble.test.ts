import test from 'node:test';
import assert from 'node:assert/strict';
import { buildCluster } from '../../core/model/cluster.js';
import type { ModelObject } from '../../core/model/types.js';
import { Rng } from '../../testing/random-cluster.js';
import { ClusterAssembler, parseApiObject, type Parsed } from './assemble.js';
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

test('assembler: any sequence of changes gives the Cluster built from scratch', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = new Rng(seed);
    const assembler = new ClusterAssembler();
    const truth = new Map<string, Map<string, Parsed>>(RESOURCES.map((s) => [s.name, new Map()]));
    for (let step = 0; step < 150; step++) {
      const s = spec(r.pick(RESOURCES.map((x) => x.name)));
      const store = truth.get(s.name) as Map<string, Parsed>;
      const raw: Record<string, unknown> = {
        ...rawObject(r, s.name, r.int(40)),
        apiVersion: s.apiVersion,
        kind: s.kind,
      };
      const meta = raw['metadata'] as { name: string; namespace?: string };
      const key = meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
      const old = store.get(key);
      let change: Change<Parsed>;
      if (old && r.chance(0.3)) {
        store.delete(key);
        change = { type: 'delete', key, old };
      } else {
        const value = parseApiObject(s, raw);
        store.set(key, value);
        change = old ? { type: 'set', key, value, old } : { type: 'set', key, value };
      }
      assembler.apply(s.kind, [change]);
      const all = [...truth.values()].flatMap((m) => [...m.values()]);
      const valid = all.flatMap((p) => (p.object ? [p.object] : [])) as ModelObject[];
      // Shuffled, so the expected order is buildCluster's own doing.
      valid.sort(() => r.next() - 0.5);
      assert.deepEqual(
        assembler.build().cluster,
        buildCluster(valid).cluster,
        `seed ${seed} step ${step}`,
      );
      assert.equal(assembler.invalidObjects, all.filter((p) => !p.object).length);
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
