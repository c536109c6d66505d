// Connections through a Service, from conntrack events written by hand as
// `conntrack -E -o extended,timestamp,id` prints them: the original tuple
// addresses a frontend, the reply tuple comes from the endpoint it was
// translated to (and goes back to the masqueraded address, when it was).
import test from 'node:test';
import assert from 'node:assert/strict';
import { joinServices } from '../../core/flows/service-join.js';
import type { Flow, FlowService } from '../../core/flows/types.js';
import { podKey } from '../../core/model/types.js';
import { buildServiceModel } from '../../core/services/model.js';
import { compilePolicies } from '../../core/policy/compile.js';
import { parseConntrackLine, type ConntrackEvent } from '../../kernel-readers/conntrack.js';
import { clusterFrom } from '../../testing/policy.js';
import { SHOP_API_YAML } from '../../testing/shop-api.js';
import { FlowMaker, translationOf } from './enrich.js';
import { ServiceFrontends } from './frontends.js';
import { AddressBook } from './resolve.js';

const CLUSTER = clusterFrom(SHOP_API_YAML);
const POD_IPS: Record<string, string> = {
  'shop/web': '10.244.1.5',
  'shop/api-1': '10.244.1.7',
  'shop/api-2': '10.244.2.8',
};

/** The agent of `node` as the pipeline builds it: its own pods, its IR, its frontends. */
function agentOf(node: string): FlowMaker {
  const local = CLUSTER.pods.filter((p) => p.nodeName === node).map(podKey);
  const ir = compilePolicies(CLUSTER, (p) => local.includes(podKey(p)));
  const records = local.map((key) => ({ key, addresses: [`${POD_IPS[key]}/32`] }));
  const frontends = ServiceFrontends.fromCluster(CLUSTER, node);
  return new FlowMaker(node, AddressBook.of(CLUSTER, records), ir, frontends);
}

function ct(line: string): ConntrackEvent {
  const r = parseConntrackLine(line);
  assert.ok(r.ok, line);
  return r.event;
}

const API_HTTP: FlowService = {
  namespace: 'shop',
  name: 'api',
  portName: 'http',
  frontend: { kind: 'ClusterIP', ip: '10.96.0.10', port: 80 },
};

const pod = (ns: string, name: string, ip: string, port: number, app: string) => ({
  kind: 'pod' as const,
  ip,
  port,
  namespace: ns,
  pod: name,
  labels: { app },
});

/** A TCP connection's start on node-1, shop/web from `sport` to shop/api-1:8080. */
const webToApi1 = (time: number, sport: number) =>
  ({
    time,
    node: 'node-1',
    source: pod('shop', 'web', '10.244.1.5', sport, 'web'),
    destination: pod('shop', 'api-1', '10.244.1.7', 8080, 'api'),
    protocol: 'TCP',
    ipProtocol: 6,
    event: 'start',
    verdict: 'forwarded',
  }) as const;

const ALLOWED_FROM_WEB = {
  kind: 'rule',
  rule: {
    policy: { kind: 'NetworkPolicy', namespace: 'shop', name: 'api-in' },
    direction: 'ingress',
    index: 0,
  },
} as const;

test('the frontends of node-1: ClusterIP ports and the node port on its own address', () => {
  const f = ServiceFrontends.fromCluster(CLUSTER, 'node-1');
  assert.equal(f.size, 3);
  assert.deepEqual(f.lookup('TCP', '10.96.0.10', 80), API_HTTP);
  assert.deepEqual(f.lookup('TCP', '192.168.1.10', 30080), {
    ...API_HTTP,
    frontend: { kind: 'NodePort', ip: '192.168.1.10', port: 30080 },
  });
  assert.equal(f.lookup('TCP', '192.168.1.11', 30080), undefined, "node-2's node port");
  assert.equal(f.lookup('UDP', '10.96.0.10', 80), undefined, 'another protocol');
  assert.equal(f.lookup('TCP', '10.96.0.10', 53), undefined, 'the UDP port over TCP');
  assert.equal(f.lookup('ICMP', '10.96.0.10', undefined), undefined);
  assert.equal(ServiceFrontends.fromCluster(undefined, 'node-1').size, 0);
  // The model a proxy enforces gives the same frontends.
  const model = buildServiceModel(CLUSTER, 'node-1');
  assert.deepEqual(ServiceFrontends.of(model).lookup('TCP', '10.96.0.10', 80), API_HTTP);
});

test('translationOf reads DNAT from the reply source and masquerade from the reply destination', () => {
  const plain = ct(
    '[1700000000.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.244.1.7 sport=40000 dport=8080 [UNREPLIED] src=10.244.1.7 dst=10.244.1.5 sport=8080 dport=40000 id=1',
  );
  assert.deepEqual(translationOf(plain), { addressed: { ip: '10.244.1.7', port: 8080 } });
  const both = ct(
    '[1700000000.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=192.168.1.100 dst=192.168.1.10 sport=50000 dport=30080 [UNREPLIED] src=10.244.1.7 dst=192.168.1.10 sport=8080 dport=61000 id=2',
  );
  assert.deepEqual(translationOf(both), {
    addressed: { ip: '192.168.1.10', port: 30080 },
    destination: { ip: '10.244.1.7', port: 8080 },
    masqueraded: { ip: '192.168.1.10', port: 61000 },
  });
  const v6 = ct(
    '[1700000000.000000]\t    [NEW] ipv6     10 tcp      6 120 SYN_SENT src=fd00::5 dst=fd00:0::7 sport=40000 dport=8080 [UNREPLIED] src=fd00::7 dst=fd00::5 sport=8080 dport=40000 id=3',
  );
  assert.equal(translationOf(v6).destination, undefined, 'one address written two ways');
});

test('to a ClusterIP, backend on this node: egress and ingress name the Service and the endpoint', () => {
  const flows = agentOf('node-1').fromConntrack(
    ct(
      '[1700000000.500000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.96.0.10 sport=40000 dport=80 [UNREPLIED] src=10.244.1.7 dst=10.244.1.5 sport=8080 dport=40000 id=7',
    ),
  );
  const common = { ...webToApi1(1700000000500, 40000), service: API_HTTP };
  assert.deepEqual(flows, [
    { ...common, direction: 'egress', decidedBy: { kind: 'default' } },
    // api-in allows web on the pod's port 8080: what the policy sees, not the Service's 80.
    { ...common, direction: 'ingress', decidedBy: ALLOWED_FROM_WEB },
  ]);
});

test("to a ClusterIP, backend on another node: the client's node and the backend's agree, joined", () => {
  const egress = agentOf('node-1').fromConntrack(
    ct(
      '[1700000001.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.96.0.10 sport=40001 dport=80 [UNREPLIED] src=10.244.2.8 dst=10.244.1.5 sport=8080 dport=40001 id=8',
    ),
  );
  // node-2 sees the connection after node-1 translated it: to the pod itself.
  const ingress = agentOf('node-2').fromConntrack(
    ct(
      '[1700000001.000400]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.244.2.8 sport=40001 dport=8080 [UNREPLIED] src=10.244.2.8 dst=10.244.1.5 sport=8080 dport=40001 id=3',
    ),
  );
  assert.equal(egress.length, 1, 'only the local client on node-1');
  assert.equal(ingress.length, 1, 'only the local backend on node-2');
  const [out, into] = [egress[0] as Flow, ingress[0] as Flow];
  assert.deepEqual(
    [out.node, out.direction, out.service, out.destination],
    ['node-1', 'egress', API_HTTP, pod('shop', 'api-2', '10.244.2.8', 8080, 'api')],
  );
  assert.equal(into.service, undefined, 'node-2 alone cannot tell it came through a Service');
  assert.deepEqual(into.decidedBy, ALLOWED_FROM_WEB);
  // Merged, the backend's flow names the Service the client's node translated to it.
  const joined = joinServices([out, into]);
  assert.deepEqual(joined[0], out);
  assert.deepEqual(joined[1], { ...into, service: API_HTTP });
  assert.deepEqual(
    [joined[1]?.source, joined[1]?.destination],
    [out.source, out.destination],
    'both sides name the same client and endpoint',
  );
});

test('a node port from outside, masqueraded, to a pod of this node: ingress decided on the client', () => {
  const [flow, ...more] = agentOf('node-1').fromConntrack(
    ct(
      '[1700000002.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=192.168.1.100 dst=192.168.1.10 sport=50000 dport=30080 [UNREPLIED] src=10.244.1.7 dst=192.168.1.10 sport=8080 dport=61000 id=9',
    ),
  );
  assert.equal(more.length, 0);
  assert.deepEqual(flow, {
    time: 1700000002000,
    node: 'node-1',
    source: { kind: 'world', ip: '192.168.1.100', port: 50000 },
    destination: pod('shop', 'api-1', '10.244.1.7', 8080, 'api'),
    protocol: 'TCP',
    ipProtocol: 6,
    service: { ...API_HTTP, frontend: { kind: 'NodePort', ip: '192.168.1.10', port: 30080 } },
    masqueraded: { ip: '192.168.1.10', port: 61000 },
    direction: 'ingress',
    event: 'start',
    verdict: 'forwarded',
    // The forward hook sees the client (masquerade comes after it): the ipBlock rule, not the own node.
    decidedBy: { ...ALLOWED_FROM_WEB, rule: { ...ALLOWED_FROM_WEB.rule, index: 1 } },
  });
});

test('hairpin: a pod reaching itself through its Service is masqueraded, both directions recorded', () => {
  const flows = agentOf('node-1').fromConntrack(
    ct(
      '[1700000003.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.7 dst=10.96.0.10 sport=41000 dport=80 [UNREPLIED] src=10.244.1.7 dst=192.168.1.10 sport=8080 dport=41000 id=10',
    ),
  );
  const self = pod('shop', 'api-1', '10.244.1.7', 8080, 'api');
  assert.deepEqual(
    flows.map((f) => [f.direction, f.source, f.destination, f.service, f.masqueraded, f.decidedBy]),
    [
      [
        'egress',
        { ...self, port: 41000 },
        self,
        API_HTTP,
        { ip: '192.168.1.10', port: 41000 },
        { kind: 'default' },
      ],
      [
        'ingress',
        { ...self, port: 41000 },
        self,
        API_HTTP,
        { ip: '192.168.1.10', port: 41000 },
        { kind: 'default' },
      ],
    ],
  );
});

test('UDP to a ClusterIP: start and end name the Service port; the end carries its counters', () => {
  const maker = agentOf('node-1');
  const [start] = maker.fromConntrack(
    ct(
      '[1700000004.000000]\t    [NEW] ipv4     2 udp      17 30 src=10.244.1.5 dst=10.96.0.10 sport=5000 dport=53 [UNREPLIED] src=10.244.2.8 dst=10.244.1.5 sport=5353 dport=5000 id=11',
    ),
  );
  const [end] = maker.fromConntrack(
    ct(
      '[1700000034.000000]\t[DESTROY] ipv4     2 udp      17 src=10.244.1.5 dst=10.96.0.10 sport=5000 dport=53 packets=1 bytes=60 src=10.244.2.8 dst=10.244.1.5 sport=5353 dport=5000 packets=1 bytes=90 delta-time=30 id=11',
    ),
  );
  const dns: FlowService = {
    ...API_HTTP,
    portName: 'dns',
    frontend: { ...API_HTTP.frontend, port: 53 },
  };
  for (const f of [start, end]) {
    assert.equal(f?.protocol, 'UDP');
    assert.deepEqual(f?.service, dns);
    assert.deepEqual(f?.destination, pod('shop', 'api-2', '10.244.2.8', 5353, 'api'));
    assert.equal(f?.masqueraded, undefined);
  }
  assert.deepEqual(end?.event === 'end' && end.counters, {
    original: { packets: 1, bytes: 60 },
    reply: { packets: 1, bytes: 90 },
  });
});

test('no translation: the flow is what it was, with no Service, translation or masquerade', () => {
  const flows = agentOf('node-1').fromConntrack(
    ct(
      '[1700000005.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.244.1.7 sport=42000 dport=8080 [UNREPLIED] src=10.244.1.7 dst=10.244.1.5 sport=8080 dport=42000 id=12',
    ),
  );
  const common = webToApi1(1700000005000, 42000);
  assert.deepEqual(flows, [
    { ...common, direction: 'egress', decidedBy: { kind: 'default' } },
    { ...common, direction: 'ingress', decidedBy: ALLOWED_FROM_WEB },
  ]);
});

test('translated by no Service weft knows: the endpoint, and the address that was addressed', () => {
  const [flow] = agentOf('node-1').fromConntrack(
    ct(
      '[1700000006.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.96.0.10 sport=43000 dport=53 [UNREPLIED] src=10.244.2.8 dst=10.244.1.5 sport=5353 dport=43000 id=13',
    ),
  );
  assert.equal(flow?.service, undefined, 'port 53 of the Service is UDP only');
  assert.deepEqual(flow?.translatedFrom, { ip: '10.96.0.10', port: 53 });
  assert.deepEqual(flow?.destination, pod('shop', 'api-2', '10.244.2.8', 5353, 'api'));
});
