import test from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicies } from '../../core/policy/compile.js';
import { podKey } from '../../core/model/types.js';
import { parseConntrackLine, type ConntrackEvent } from '../../kernel-readers/conntrack.js';
import type { DropEvent } from '../../kernel-readers/nflog-reader.js';
import { dropLogPrefix } from '../../components/policy/drop-log.js';
import { clusterFrom } from '../../testing/policy.js';
import { FlowMaker } from './enrich.js';
import { AddressBook } from './resolve.js';

const YAML = `
apiVersion: v1
kind: Node
metadata: { name: node-1 }
status: { addresses: [{ type: InternalIP, address: 192.168.1.10 }] }
---
apiVersion: v1
kind: Pod
metadata:
  namespace: shop
  name: web-7d9f-abcde
  labels: { app: web, pod-template-hash: 7d9f }
  ownerReferences: [{ apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f, uid: u1, controller: true }]
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
status: { podIP: 10.244.1.5 }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: db, labels: { app: db } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
status: { podIP: 10.244.1.6 }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: far, labels: { app: far } }
spec: { nodeName: node-2, containers: [{ name: c, image: c }] }
status: { podIP: 10.244.2.7 }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { namespace: shop, name: db-from-web }
spec:
  podSelector: { matchLabels: { app: db } }
  ingress: [{ from: [{ podSelector: { matchLabels: { app: web } } }], ports: [{ port: 5432 }] }]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: { name: no-far }
spec:
  tier: Admin
  priority: 1
  subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: db } } } }
  ingress:
    - name: deny-far
      action: Deny
      from: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: far } } } }]
  egress: [{ name: no-nodes, action: Deny, to: [{ nodes: {} }] }]
`;

function maker(): FlowMaker {
  const cluster = clusterFrom(YAML);
  const local = new Set(['shop/web-7d9f-abcde', 'shop/db']);
  const ir = compilePolicies(cluster, (p) => local.has(podKey(p)));
  const records = [
    { key: 'shop/web-7d9f-abcde', addresses: ['10.244.1.5/32'] },
    { key: 'shop/db', addresses: ['10.244.1.6/32'] },
  ];
  return new FlowMaker('node-1', AddressBook.of(cluster, records), ir);
}

function drop(prefix: string, src: string, dst: string, dport: number): DropEvent {
  return {
    time: 1000,
    group: 1,
    prefix,
    packet: {
      ipVersion: 4,
      src,
      dst,
      ipProtocol: 6,
      ttl: 64,
      length: 60,
      fragment: false,
      sport: 40000,
      dport,
      tcpFlags: 0x02,
    },
  };
}

function ct(line: string): ConntrackEvent {
  const r = parseConntrackLine(line);
  assert.ok(r.ok, line);
  return r.event;
}

test('a drop of an isolated pod names the NetworkPolicies; an Admin Deny names its rule', () => {
  const m = maker();
  const isolated = m.fromDrop(
    drop(dropLogPrefix('shop/db', 'ingress', 'isolated'), '10.244.1.5', '10.244.1.6', 80),
  );
  assert.equal(isolated?.event, 'drop');
  assert.equal(isolated?.direction, 'ingress');
  assert.deepEqual(isolated?.tcpFlags, ['SYN']);
  assert.deepEqual(isolated?.decidedBy, {
    kind: 'isolation',
    isolatedBy: [{ kind: 'NetworkPolicy', namespace: 'shop', name: 'db-from-web' }],
  });
  assert.deepEqual(isolated?.source, {
    kind: 'pod',
    ip: '10.244.1.5',
    port: 40000,
    namespace: 'shop',
    pod: 'web-7d9f-abcde',
    labels: { app: 'web', 'pod-template-hash': '7d9f' },
    workload: { kind: 'Deployment', name: 'web' },
  });
  const admin = m.fromDrop(
    drop(dropLogPrefix('shop/db', 'ingress', 'admin'), '10.244.2.7', '10.244.1.6', 5432),
  );
  assert.deepEqual(admin?.decidedBy, {
    kind: 'rule',
    rule: {
      policy: { kind: 'ClusterNetworkPolicy', name: 'no-far', tier: 'Admin', priority: 1 },
      direction: 'ingress',
      index: 0,
      name: 'deny-far',
    },
  });
  assert.equal(admin?.source.kind === 'pod' && admin.source.workload, undefined);
});

test('a drop with a prefix weft did not write, or of an unknown endpoint, is not guessed', () => {
  const m = maker();
  assert.equal(m.fromDrop(drop('other tool', '10.244.1.5', '10.244.1.6', 80)), undefined);
  const gone = m.fromDrop(
    drop(dropLogPrefix('shop/gone', 'ingress', 'isolated'), '10.244.1.5', '10.244.1.6', 80),
  );
  assert.deepEqual(gone?.decidedBy, { kind: 'unknown' });
});

test('a connection between two local pods gives egress and ingress; the ingress names the allowing rule', () => {
  const m = maker();
  const flows = m.fromConntrack(
    ct(
      '[1700000000.500000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.244.1.6 sport=40000 dport=5432 [UNREPLIED] src=10.244.1.6 dst=10.244.1.5 sport=5432 dport=40000 id=7',
    ),
  );
  assert.deepEqual(
    flows.map((f) => [f.direction, f.event, f.verdict, f.time]),
    [
      ['egress', 'start', 'forwarded', 1700000000500],
      ['ingress', 'start', 'forwarded', 1700000000500],
    ],
  );
  assert.deepEqual(flows[0]?.decidedBy, { kind: 'default' });
  assert.deepEqual(flows[1]?.decidedBy, {
    kind: 'rule',
    rule: {
      policy: { kind: 'NetworkPolicy', namespace: 'shop', name: 'db-from-web' },
      direction: 'ingress',
      index: 0,
    },
  });
});

test('an end carries both directions of counters; node and world addresses resolve', () => {
  const m = maker();
  const [end, ...more] = m.fromConntrack(
    ct(
      '[1700000001.000000]\t[DESTROY] ipv4     2 tcp      6 TIME_WAIT src=10.244.1.5 dst=8.8.8.8 sport=41000 dport=443 packets=5 bytes=273 src=8.8.8.8 dst=10.244.1.5 sport=443 dport=41000 packets=4 bytes=5268 [ASSURED] delta-time=1 id=9',
    ),
  );
  assert.equal(more.length, 0, 'only the local source');
  assert.equal(end?.event, 'end');
  assert.deepEqual(end?.event === 'end' && end.counters, {
    original: { packets: 5, bytes: 273 },
    reply: { packets: 4, bytes: 5268 },
  });
  assert.deepEqual(end?.destination, { kind: 'world', ip: '8.8.8.8', port: 443 });
  const fromNode = m.fromConntrack(
    ct(
      '[1700000002.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=192.168.1.10 dst=10.244.1.6 sport=50000 dport=5432 [UNREPLIED] src=10.244.1.6 dst=192.168.1.10 sport=5432 dport=50000 id=10',
    ),
  );
  assert.deepEqual(fromNode[0]?.source, {
    kind: 'host',
    ip: '192.168.1.10',
    port: 50000,
    node: 'node-1',
  });
  assert.deepEqual(fromNode[0]?.decidedBy, { kind: 'default' }, "the pod's own node is allowed");
});

test('connections of no local pod are not this node’s flows', () => {
  const m = maker();
  const flows = m.fromConntrack(
    ct(
      '[1700000003.000000]\t    [NEW] ipv4     2 udp      17 30 src=10.244.2.7 dst=10.244.3.1 sport=5000 dport=53 [UNREPLIED] src=10.244.3.1 dst=10.244.2.7 sport=53 dport=5000 id=11',
    ),
  );
  assert.deepEqual(flows, []);
});

test("a drop of egress to the pod's own node names the ClusterNetworkPolicy rule that denied it", () => {
  const denied = maker().fromDrop(
    drop(dropLogPrefix('shop/db', 'egress', 'admin'), '10.244.1.6', '192.168.1.10', 10250),
  );
  assert.equal(denied?.event, 'drop');
  assert.deepEqual(denied?.decidedBy, {
    kind: 'rule',
    rule: {
      policy: { kind: 'ClusterNetworkPolicy', name: 'no-far', tier: 'Admin', priority: 1 },
      direction: 'egress',
      index: 0,
      name: 'no-nodes',
    },
  });
});
