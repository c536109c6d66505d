import test from 'node:test';
import assert from 'node:assert/strict';
import { clusterFrom, docs, namespace, pod } from '../../testing/policy.js';
import { formatIp } from '../net/ip.js';
import { podKey } from '../model/types.js';
import { compilePolicies } from './compile.js';
import { Evaluator } from './evaluate.js';
import { NodeIrs, resolveAddress, traceToJson, workloadPolicyView } from './node-irs.js';

const YAML = docs(
  namespace('shop'),
  namespace('tools'),
  pod('shop', 'api', { app: 'api' }, { node: 'node-1', ports: [{ port: 8080 }] }),
  pod('shop', 'db-0', { app: 'db' }, { node: 'node-2', ports: [{ port: 5432 }] }),
  pod('shop', 'db-1', { app: 'db' }, { node: 'node-1', ports: [{ port: 5432 }] }),
  pod('tools', 'loadgen', { app: 'loadgen' }, { node: 'node-2' }),
  JSON.stringify({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'shop', name: 'db-only-api' },
    spec: {
      podSelector: { matchLabels: { app: 'db' } },
      ingress: [
        { from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 5432 }] },
      ],
    },
  }),
  JSON.stringify({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'tools', name: 'loadgen-egress' },
    spec: {
      podSelector: { matchLabels: { app: 'loadgen' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ namespaceSelector: {} }] }],
    },
  }),
);

function perNode() {
  const cluster = clusterFrom(YAML);
  const scoped = (node: string) => ({
    node,
    ir: compilePolicies(cluster, (p) => p.nodeName === node),
  });
  return { cluster, irs: new NodeIrs([scoped('node-1'), scoped('node-2')]) };
}

test('traces over per-node IRs agree with one whole-cluster IR for every pair and port', () => {
  const { cluster, irs } = perNode();
  const whole = new Evaluator(compilePolicies(cluster));
  let denied = 0;
  for (const a of cluster.pods)
    for (const b of cluster.pods)
      for (const port of [5432, 8080]) {
        const flow = { src: a.ips[0]!, dst: b.ips[0]!, protocol: 'TCP' as const, port };
        const want = whole.trace(flow);
        const got = irs.trace(flow);
        assert.deepEqual(got, want, `${podKey(a)} -> ${podKey(b)}:${port}`);
        if (!got.allowed) denied++;
      }
  assert.ok(denied > 0, 'the fixture denies some flows');
});

test('the JSON of a trace names pods, the verdict and each side\u2019s reason', () => {
  const { irs } = perNode();
  const src = resolveAddress(irs, 'tools/loadgen')!;
  const dst = resolveAddress(irs, 'shop/db-0')!;
  const j = traceToJson(irs.trace({ src, dst, protocol: 'TCP', port: 5432 }), irs);
  assert.equal(j.verdict, 'denied');
  assert.equal(j.from.pod, 'tools/loadgen');
  assert.equal(j.to.pod, 'shop/db-0');
  assert.equal(j.to.ip, formatIp(dst));
  assert.equal(j.egress.allowed, true);
  assert.equal(j.ingress.allowed, false);
  assert.equal(
    j.ingress.reason,
    'shop/db-0 is isolated for ingress by NetworkPolicy shop/db-only-api, and no rule allows this flow',
  );
  assert.equal(resolveAddress(irs, 'shop/nope'), undefined);
  assert.equal(formatIp(resolveAddress(irs, '10.1.2.3')!), '10.1.2.3');
});

test('workload view: selecting policies and the verdict against every peer', () => {
  const { irs } = perNode();
  const v = workloadPolicyView(
    irs,
    ['shop/db-1', 'shop/db-0', 'shop/gone'],
    [{ port: 5432, protocol: 'TCP' }],
  );
  assert.deepEqual(v.members, ['shop/db-0', 'shop/db-1']);
  assert.deepEqual(v.ingress, [{ kind: 'NetworkPolicy', namespace: 'shop', name: 'db-only-api' }]);
  assert.deepEqual(v.egress, []);
  assert.deepEqual(
    v.peers.map((p) => [p.peer, p.in[0]?.allowed, p.out[0]?.allowed]),
    [
      ['shop/api', 'yes', 'yes'],
      ['tools/loadgen', 'no', 'yes'],
    ],
  );
  assert.match(
    v.peers[1]!.in[0]!.reason,
    /isolated for ingress by NetworkPolicy shop\/db-only-api/,
  );
  const lg = workloadPolicyView(irs, ['tools/loadgen'], [{ port: 5432, protocol: 'TCP' }]);
  assert.deepEqual(lg.egress, [
    { kind: 'NetworkPolicy', namespace: 'tools', name: 'loadgen-egress' },
  ]);
  assert.deepEqual(
    lg.peers.map((p) => [p.peer, p.out[0]?.allowed]),
    [
      ['shop/api', 'yes'],
      ['shop/db-0', 'no'],
      ['shop/db-1', 'no'],
    ],
    'its egress allows every pod; the dbs\u2019 ingress refuses it',
  );
});
