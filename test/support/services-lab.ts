/**
 * A lab with Services and a hand-made Service proxy, for the tests of what
 * flows through a Service look like (observe, the UI): two nodes, a client
 * and two endpoints, Services in the manifests, and the translation a proxy
 * makes written as nftables NAT rules in the nodes' own namespaces (in a
 * table of the tests' own): DNAT from a frontend to an endpoint, and
 * masquerade where kube-proxy masquerades (a node port, a hairpin).
 *
 *   svc/remote  ClusterIP 10.96.0.50:80 TCP and UDP, node port 30080 on
 *               node-1  → svc/api-2:8080 (node-2), the node port masqueraded
 *   svc/local   ClusterIP 10.96.0.51:80 → svc/api-1:8080 (node-1)
 *   on node-2   10.96.0.50:80 TCP → svc/api-2 itself (hairpin), masqueraded
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import type { TestLab } from './lab.js';

export const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: svc }
---
apiVersion: v1
kind: Pod
metadata: { namespace: svc, name: client, labels: { app: client } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: svc, name: api-1, labels: { app: api, instance: one } }
spec:
  nodeName: node-1
  containers:
    - { name: c, image: c, ports: [{ containerPort: 8080 }, { containerPort: 8080, protocol: UDP }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: svc, name: api-2, labels: { app: api, instance: two } }
spec:
  nodeName: node-2
  containers:
    - { name: c, image: c, ports: [{ containerPort: 8080 }, { containerPort: 8080, protocol: UDP }] }
---
apiVersion: v1
kind: Service
metadata: { namespace: svc, name: remote }
spec:
  type: NodePort
  clusterIP: 10.96.0.50
  selector: { instance: two }
  ports:
    - { name: http, port: 80, targetPort: 8080, nodePort: 30080 }
    - { name: udp, port: 80, protocol: UDP, targetPort: 8080, nodePort: 30080 }
---
apiVersion: v1
kind: Service
metadata: { namespace: svc, name: local }
spec:
  clusterIP: 10.96.0.51
  selector: { instance: one }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { namespace: svc, name: one-from-client }
spec:
  podSelector: { matchLabels: { instance: one } }
  policyTypes: [Ingress]
  ingress:
    - from: [{ podSelector: { matchLabels: { app: client } } }]
      ports: [{ port: 8080 }]
`;

interface State {
  nodes: { name: string; netns: string; address: string }[];
  pods: Record<string, { ips: string[] }>;
}

/** What a Service proxy would do on one node, as NAT rules in a table of the test's own. */
async function translate(netns: string, dnat: string[], masquerade: string[]): Promise<void> {
  const ruleset = `table ip weft-test-services {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
${dnat.map((r) => `    ${r}`).join('\n')}
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
${masquerade.map((r) => `    ${r}`).join('\n')}
  }
}
`;
  await run('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], ruleset);
}

export interface ServicesLab {
  /** node-1's address: where its node port is. */
  readonly node1: string;
  /** Pod addresses by name (`client`, `api-1`, `api-2`). */
  readonly ip: (pod: string) => string;
}

/** `weft lab up` with MANIFESTS, then the NAT rules above. */
export async function upServicesLab(lab: TestLab): Promise<ServicesLab> {
  const file = join(lab.root, 'svc.yaml');
  writeFileSync(file, MANIFESTS);
  await lab.lab('up', '--nodes', '2', '-f', file);
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as State;
  const node = (name: string) => {
    const n = state.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`lab without ${name}`);
    return n;
  };
  const ip = (pod: string) => state.pods[`svc/${pod}`]?.ips[0] ?? 'missing';
  const [node1, node2] = [node('node-1'), node('node-2')];
  const [api1, api2] = [ip('api-1'), ip('api-2')];
  await translate(
    node1.netns,
    [
      `ip daddr 10.96.0.50 meta l4proto { tcp, udp } th dport 80 dnat to ${api2}:8080`,
      `ip daddr 10.96.0.51 tcp dport 80 dnat to ${api1}:8080`,
      `ip daddr ${node1.address} tcp dport 30080 dnat to ${api2}:8080`,
    ],
    [`ct original ip daddr ${node1.address} masquerade`],
  );
  await translate(
    node2.netns,
    [`ip daddr 10.96.0.50 tcp dport 80 dnat to ${api2}:8080`],
    [`ip saddr ${api2} ip daddr ${api2} masquerade`],
  );
  return { node1: node1.address, ip };
}
