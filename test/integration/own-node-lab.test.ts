// A pod and a hostNetwork pod on its own node, with real packets: a
// ClusterNetworkPolicy Deny to nodes (Admin, then Baseline) drops the pod's
// TCP, UDP and SCTP to its own node while an earlier Accept port still
// passes; a NetworkPolicy that selects the pod exempts its own node again
// (the Baseline tier is then not consulted); the node always reaches the pod.
// The lab probe has no SCTP sockets on this kernel: SCTP goes through raw
// sockets (test/support/sctp.ts), the receiver counting what the input hook let in.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sctpDelivered } from '../support/sctp.js';
import { TestLab } from '../support/lab.js';

const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: dev}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Pod
metadata: {namespace: dev, name: client, labels: {app: client}}
spec: {nodeName: node-1, containers: [{name: c, image: i, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {namespace: dev, name: other, labels: {app: other}}
spec: {nodeName: node-1, containers: [{name: c, image: i, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {namespace: kube-system, name: agent, labels: {app: agent}}
spec:
  nodeName: node-1
  hostNetwork: true
  containers: [{name: c, image: i, ports: [{containerPort: 36363}, {containerPort: 36364}]}]
`;

/** Accept 36363 on TCP and SCTP to every node, then Deny everything else to them. */
const nodesPolicy = (tier: string) => `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: nodes-${tier.toLowerCase()}}
spec:
  tier: ${tier}
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}
  egress:
  - name: node-port
    action: Accept
    to: [{nodes: {matchExpressions: [{key: kubernetes.io/hostname, operator: Exists}]}}]
    protocols: [{tcp: {destinationPort: {number: 36363}}}, {sctp: {destinationPort: {number: 36363}}}]
  - name: deny-nodes
    action: Deny
    to: [{nodes: {matchExpressions: [{key: kubernetes.io/hostname, operator: Exists}]}}]
`;

const ISOLATE = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: dev, name: isolate-client}
spec: {podSelector: {matchLabels: {app: client}}, policyTypes: [Ingress, Egress]}
`;

const TO_AGENT = ['36363/TCP', '36364/TCP', '36363/UDP', '36364/UDP'];

interface State {
  pods: Record<string, { netns: string; ips: string[] }>;
}

async function setUp(t: test.TestContext) {
  const lab = TestLab.create(t);
  const file = (name: string, text: string) => {
    const path = join(lab.root, name);
    writeFileSync(path, text);
    return path;
  };
  await lab.lab('up', '--nodes', '1', '-f', file('cluster.yaml', CLUSTER));
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as State;
  const pod = (key: string) => {
    const p = state.pods[key];
    assert.ok(p, key);
    return { netns: p.netns, ip: p.ips[0] as string };
  };
  const client = pod('dev/client');
  const agent = pod('kube-system/agent');
  return {
    lab,
    file,
    /** Real packets from dev/client to the hostNetwork pod, one verdict per TO_AGENT port. */
    async toAgent(): Promise<(boolean | undefined)[]> {
      const m = await lab.probe(
        ...TO_AGENT.flatMap((p) => ['--port', p]),
        '--from',
        'dev/client',
        '--to',
        'kube-system/agent',
        '--timeout-ms',
        '300',
      );
      return m.map((row) => row['dev/client']?.['kube-system/agent']);
    },
    sctp: (port: number) =>
      sctpDelivered({
        fromNetns: client.netns,
        src: client.ip,
        toNetns: agent.netns,
        dst: agent.ip,
        port,
      }),
    async allowed(from: string, to: string): Promise<boolean | undefined> {
      const [m] = await lab.probe(
        '--port',
        '8080/TCP',
        '--from',
        from,
        '--to',
        to,
        '--timeout-ms',
        '300',
      );
      return m?.[from]?.[to];
    },
  };
}

test("a ClusterNetworkPolicy Deny to nodes drops a pod's traffic to its own node; NetworkPolicy exempts it", async (t) => {
  const l = await setUp(t);
  assert.deepEqual(await l.toAgent(), [true, true, true, true], 'no policy: all reach the node');
  assert.equal(await l.sctp(36364), 3, 'no policy: SCTP reaches the node');

  for (const tier of ['Admin', 'Baseline']) {
    await l.lab.lab('apply', '-f', l.file(`${tier}.yaml`, nodesPolicy(tier)));
    assert.deepEqual(
      await l.toAgent(),
      [true, false, false, false],
      `${tier}: ${TO_AGENT.join(' ')}`,
    );
    assert.equal(await l.sctp(36363), 3, `${tier}: the Accept port passes on SCTP`);
    assert.equal(await l.sctp(36364), 0, `${tier}: SCTP to another port is dropped`);
    assert.equal(await l.allowed('kube-system/agent', 'dev/client'), true, `${tier}: node -> pod`);
    if (tier === 'Admin') await l.lab.lab('delete', 'clusternetworkpolicy/nodes-admin');
  }

  // A NetworkPolicy selects the client: it decides, and it always allows the own node.
  await l.lab.lab('apply', '-f', l.file('isolate.yaml', ISOLATE));
  assert.deepEqual(
    await l.toAgent(),
    [true, true, true, true],
    'NetworkPolicy exempts the own node',
  );
  assert.equal(await l.sctp(36364), 3, 'on SCTP too');
  assert.equal(await l.allowed('kube-system/agent', 'dev/client'), true, 'kubelet-style probes');
  assert.equal(await l.allowed('dev/other', 'dev/client'), false, 'another pod is isolated');
  assert.equal(await l.allowed('dev/client', 'dev/other'), false, 'and so is egress to it');

  // NetworkPolicy only.
  await l.lab.lab('delete', 'clusternetworkpolicy/nodes-baseline');
  assert.equal(
    await l.allowed('kube-system/agent', 'dev/client'),
    true,
    'the node reaches the pod',
  );
  assert.deepEqual(await l.toAgent(), [true, true, true, true], 'and the pod its node');
});
