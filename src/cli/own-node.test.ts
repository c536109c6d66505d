// `weft policy matrix` and `weft policy trace`, offline, on a pod and a
// hostNetwork pod of its own node: a ClusterNetworkPolicy Deny to nodes
// decides that traffic and is named; NetworkPolicy alone exempts the node.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from './main.js';

const CLUSTER = `
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/os: linux}}
status: {addresses: [{type: InternalIP, address: 192.168.7.1}]}
---
apiVersion: v1
kind: Pod
metadata: {namespace: dev, name: client, labels: {app: client}}
spec: {nodeName: n1, containers: [{name: c, image: i, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {namespace: kube-system, name: agent, labels: {app: agent}}
spec:
  nodeName: n1
  hostNetwork: true
  containers: [{name: c, image: i, ports: [{containerPort: 36363}, {containerPort: 36364}]}]
`;

const nodesPolicy = (tier: string) => `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-nodes}
spec:
  tier: ${tier}
  priority: 4
  subject: {namespaces: {}}
  egress:
  - {name: node-port, action: Accept, to: [{nodes: {matchLabels: {kubernetes.io/os: linux}}}], protocols: [{tcp: {destinationPort: {number: 36363}}}]}
  - {name: deny-nodes, action: Deny, to: [{nodes: {matchLabels: {kubernetes.io/os: linux}}}]}
`;

const ISOLATE = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: dev, name: isolate}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`;

async function weft(t: test.TestContext, docs: string[], ...argv: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'weft-own-node-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  docs.forEach((d, i) => writeFileSync(join(dir, `${i}.yaml`), d));
  let out = '';
  let err = '';
  const code = await main([argv[0] as string, argv[1] as string, '-f', dir, ...argv.slice(2)], {
    out: (s) => (out += `${s}\n`),
    write: (s) => (out += s),
    err: (s) => (err += `${s}\n`),
  });
  assert.equal(code, 0, err);
  return out;
}

type MatrixJson = { probes: { matrix: Record<string, Record<string, boolean>> }[] };

for (const tier of ['Admin', 'Baseline']) {
  test(`policy matrix and trace: a ${tier} Deny to nodes covers the pod's own node`, async (t) => {
    const docs = [CLUSTER, nodesPolicy(tier)];
    const ports = ['36363/TCP', '36364/TCP', '36363/UDP', '36364/SCTP'];
    const json = await weft(
      t,
      docs,
      'policy',
      'matrix',
      ...ports.flatMap((p) => ['--port', p]),
      '-o',
      'json',
    );
    const toAgent = (JSON.parse(json) as MatrixJson).probes.map(
      (p) => p.matrix['dev/client']?.['kube-system/agent'],
    );
    assert.deepEqual(toAgent, [true, false, false, false], ports.join(' '));
    const text = await weft(
      t,
      docs,
      'policy',
      'trace',
      '--from',
      'dev/client',
      '--to',
      'kube-system/agent',
      '--port',
      '36364/TCP',
    );
    assert.match(text, /verdict\s+DENIED/);
    assert.match(
      text,
      new RegExp(
        `denied by ClusterNetworkPolicy no-nodes \\(${tier} tier, priority 4\\) egress\\[1\\] "deny-nodes"`,
      ),
    );
    const back = await weft(
      t,
      docs,
      'policy',
      'trace',
      '--from',
      'kube-system/agent',
      '--to',
      'dev/client',
      '--port',
      '8080/TCP',
    );
    assert.match(back, /verdict\s+ALLOWED/, 'the node still reaches the pod');
  });
}

test('policy trace: NetworkPolicy alone exempts the own node, and says so', async (t) => {
  const docs = [CLUSTER, ISOLATE];
  const text = await weft(
    t,
    docs,
    'policy',
    'trace',
    '--from',
    'kube-system/agent',
    '--to',
    'dev/client',
    '--port',
    '8080/TCP',
  );
  assert.match(text, /verdict\s+ALLOWED/);
  assert.match(
    text,
    /isolated for ingress by NetworkPolicy dev\/isolate, but NetworkPolicy always allows its own node/,
  );
  const json = await weft(
    t,
    [...docs, nodesPolicy('Baseline')],
    'policy',
    'matrix',
    '--port',
    '36364/TCP',
    '-o',
    'json',
  );
  assert.equal(
    (JSON.parse(json) as MatrixJson).probes[0]?.matrix['dev/client']?.['kube-system/agent'],
    true,
    'a NetworkPolicy selects the pod: the Baseline tier is not consulted',
  );
});
