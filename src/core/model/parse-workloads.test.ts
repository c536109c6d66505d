import test from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes, type Issue } from '../errors.js';
import { parseIp } from '../net/ip.js';
import { parseCidr } from '../net/cidr.js';
import { parseObject } from './parse.js';
import type { ModelObject, Namespace, Node, Pod } from './types.js';

const origin = { file: 'workloads.yaml', line: 3 };

function ok(raw: unknown): ModelObject {
  const r = parseObject(raw, origin);
  assert.deepEqual(r.issues, []);
  assert.ok(r.object, 'expected an object');
  return r.object;
}

/** The (code, field) of every issue, in order; the object must not be returned. */
function fails(raw: unknown): [string, string][] {
  const r = parseObject(raw, origin);
  assert.equal(r.object, undefined);
  assert.ok(r.issues.length > 0, 'expected issues');
  return r.issues.map((i: Issue) => [i.code, i.field]);
}

function ip(s: string) {
  const a = parseIp(s);
  assert.ok(a);
  return a;
}

function cidr(s: string) {
  const c = parseCidr(s);
  assert.ok(c);
  return c.cidr;
}

const { INVALID_FIELD, MISSING_FIELD, UNKNOWN_FIELD } = ErrorCodes;

// --- Namespace ---

test('Namespace: kubernetes.io/metadata.name is always the name, overriding what is written', () => {
  const ns = ok({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'prod', labels: { team: 'a', 'kubernetes.io/metadata.name': 'other' } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  }) as Namespace;
  assert.deepEqual(ns, {
    kind: 'Namespace',
    name: 'prod',
    labels: { team: 'a', 'kubernetes.io/metadata.name': 'prod' },
    implicit: false,
    origin,
  });
});

test('Namespace: the name must be a DNS-1123 label (no dots), metadata.namespace is ignored', () => {
  assert.deepEqual(fails({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'my.ns' } }), [
    [INVALID_FIELD, 'metadata.name'],
  ]);
  const ns = ok({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', namespace: 'x' } });
  assert.equal(ns.name, 'a');
  assert.equal('namespace' in ns, false);
});

// --- Pod ---

const fullPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-7d9f-abcde',
    namespace: 'prod',
    labels: { app: 'web' },
    annotations: { 'example.com/x': 'y' },
    uid: '1b2c',
    resourceVersion: '42',
    creationTimestamp: '2024-01-01T00:00:00Z',
    generateName: 'web-7d9f-',
    ownerReferences: [
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'not-controller', uid: 'u1' },
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u2', controller: true },
    ],
  },
  spec: {
    nodeName: 'node-1',
    restartPolicy: 'Always',
    volumes: [{ name: 'data', emptyDir: {} }],
    initContainers: [{ name: 'init', image: 'busybox', ports: [{ containerPort: 9999 }] }],
    containers: [
      {
        name: 'app',
        image: 'nginx',
        resources: { limits: { cpu: '1' } },
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'dns', containerPort: 53, protocol: 'UDP', hostPort: 53, hostIP: '0.0.0.0' },
        ],
      },
      { name: 'sidecar', image: 'envoy', ports: [{ containerPort: 9901, protocol: 'SCTP' }] },
    ],
  },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True' }],
    podIP: '10.244.1.5',
    podIPs: [{ ip: '10.244.1.5' }, { ip: 'fd00::5' }],
  },
};

test('Pod: reads node, container ports (init containers excluded), IPs and controller owner; ignores the rest of spec/status', () => {
  const pod = ok(fullPod) as Pod;
  assert.deepEqual(pod, {
    kind: 'Pod',
    namespace: 'prod',
    name: 'web-7d9f-abcde',
    labels: { app: 'web' },
    nodeName: 'node-1',
    hostNetwork: false,
    ports: [
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'dns', port: 53, protocol: 'UDP' },
      { port: 9901, protocol: 'SCTP' },
    ],
    ips: [ip('10.244.1.5'), ip('fd00::5')],
    owner: { kind: 'ReplicaSet', name: 'web-7d9f' },
    phase: 'Running',
    ready: true,
    origin,
  });
});

test('Pod: readiness from the Ready condition (False and Unknown are not ready), absent when not reported', () => {
  const withConditions = (conditions: unknown) =>
    ok(pod({ containers: [] }, { conditions })) as Pod;
  assert.equal(withConditions([{ type: 'Ready', status: 'True' }]).ready, true);
  assert.equal(withConditions([{ type: 'Ready', status: 'False', reason: 'x' }]).ready, false);
  assert.equal(withConditions([{ type: 'Ready', status: 'Unknown' }]).ready, false);
  assert.equal('ready' in withConditions([{ type: 'PodScheduled', status: 'True' }]), false);
  assert.equal('ready' in (ok(pod({ containers: [] }, { phase: 'Pending' })) as Pod), false);
  assert.deepEqual(fails(pod({}, { conditions: [{ type: 'Ready', status: 'true' }] })), [
    [INVALID_FIELD, 'status.conditions[0].status'],
  ]);
  assert.deepEqual(fails(pod({}, { conditions: [{ status: 'True' }] })), [
    [MISSING_FIELD, 'status.conditions[0].type'],
  ]);
  assert.deepEqual(
    fails(
      pod(
        {},
        {
          conditions: [
            { type: 'Ready', status: 'True' },
            { type: 'Ready', status: 'False' },
          ],
        },
      ),
    ),
    [[INVALID_FIELD, 'status.conditions[1].type']],
  );
  assert.deepEqual(fails(pod({}, { phase: 'Done' })), [[INVALID_FIELD, 'status.phase']]);
});

test('Pod: metadata.deletionTimestamp makes it terminating; it must be an RFC 3339 time', () => {
  const deleting = (deletionTimestamp: unknown) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', deletionTimestamp, deletionGracePeriodSeconds: 30 },
  });
  assert.equal((ok(deleting('2026-01-02T03:04:05Z')) as Pod).terminating, true);
  assert.equal((ok(deleting('2026-01-02T03:04:05.123+02:00')) as Pod).terminating, true);
  assert.equal('terminating' in (ok(pod({})) as Pod), false);
  assert.deepEqual(fails(deleting('yesterday')), [[INVALID_FIELD, 'metadata.deletionTimestamp']]);
  assert.deepEqual(fails(deleting(5)), [[INVALID_FIELD, 'metadata.deletionTimestamp']]);
});

test('Pod: namespace defaults to "default"; no status means no IPs; hostNetwork read', () => {
  const pod = ok({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: { hostNetwork: true, containers: [{ name: 'c', image: 'x' }] },
  }) as Pod;
  assert.equal(pod.namespace, 'default');
  assert.equal(pod.hostNetwork, true);
  assert.deepEqual(pod.ips, []);
  assert.deepEqual(pod.ports, []);
  assert.equal(pod.nodeName, undefined);
  assert.equal(pod.owner, undefined);
});

test('Pod: status.podIP alone gives one IP', () => {
  const pod = ok({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    status: { podIP: '10.0.0.9' },
  }) as Pod;
  assert.deepEqual(pod.ips, [ip('10.0.0.9')]);
});

function pod(spec: unknown, status?: unknown): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns' },
    spec,
    ...(status ? { status } : {}),
  };
}

test('Pod: container port validation', () => {
  const c = (ports: unknown[]) => pod({ containers: [{ name: 'c', ports }] });
  assert.deepEqual(fails(c([{ name: 'http' }])), [
    [MISSING_FIELD, 'spec.containers[0].ports[0].containerPort'],
  ]);
  assert.deepEqual(fails(c([{ containerPort: 0 }])), [
    [INVALID_FIELD, 'spec.containers[0].ports[0].containerPort'],
  ]);
  assert.deepEqual(fails(c([{ containerPort: 65536 }])), [
    [INVALID_FIELD, 'spec.containers[0].ports[0].containerPort'],
  ]);
  assert.deepEqual(fails(c([{ containerPort: '80' }])), [
    [INVALID_FIELD, 'spec.containers[0].ports[0].containerPort'],
  ]);
  assert.deepEqual(fails(c([{ containerPort: 80, protocol: 'tcp' }])), [
    [INVALID_FIELD, 'spec.containers[0].ports[0].protocol'],
  ]);
  assert.deepEqual(fails(c([{ containerPort: 80, protocol: 'HTTP' }])), [
    [INVALID_FIELD, 'spec.containers[0].ports[0].protocol'],
  ]);
  // A typo in a port entry is caught: `port` is not a ContainerPort field.
  assert.deepEqual(fails(c([{ port: 80 }])), [
    [MISSING_FIELD, 'spec.containers[0].ports[0].containerPort'],
    [UNKNOWN_FIELD, 'spec.containers[0].ports[0].port'],
  ]);
});

test('Pod: port names must be IANA_SVC_NAMEs', () => {
  const named = (name: string) =>
    pod({ containers: [{ name: 'c', ports: [{ name, containerPort: 80 }] }] });
  for (const bad of [
    'HTTP',
    'http_alt',
    'a-very-long-port-name',
    '8080',
    '-http',
    'http-',
    'ht--tp',
  ]) {
    assert.deepEqual(fails(named(bad)), [[INVALID_FIELD, 'spec.containers[0].ports[0].name']], bad);
  }
  for (const good of ['http', 'h2c', 'metrics-1', 'a', 'x123456789abcde']) {
    assert.equal((ok(named(good)) as Pod).ports[0]?.name, good);
  }
});

test('Pod: duplicate port names across the containers of a pod are an error', () => {
  const issues = fails(
    pod({
      containers: [
        { name: 'a', ports: [{ name: 'http', containerPort: 80 }] },
        { name: 'b', ports: [{ name: 'http', containerPort: 8080 }] },
      ],
    }),
  );
  assert.deepEqual(issues, [[INVALID_FIELD, 'spec.containers[1].ports[0].name']]);
});

test('Pod: status IP validation', () => {
  assert.deepEqual(fails(pod({}, { podIP: '10.0.0.300' })), [[INVALID_FIELD, 'status.podIP']]);
  assert.deepEqual(fails(pod({}, { podIPs: [{ ip: 'nope' }] })), [
    [INVALID_FIELD, 'status.podIPs[0].ip'],
  ]);
  assert.deepEqual(fails(pod({}, { podIPs: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }] })), [
    [INVALID_FIELD, 'status.podIPs[1].ip'],
  ]);
  assert.deepEqual(fails(pod({}, { podIP: '10.0.0.1', podIPs: [{ ip: '10.0.0.2' }] })), [
    [INVALID_FIELD, 'status.podIP'],
  ]);
  assert.deepEqual(fails(pod({}, { podIPs: [{ address: '10.0.0.2' }] })), [
    [UNKNOWN_FIELD, 'status.podIPs[0].address'],
    [MISSING_FIELD, 'status.podIPs[0].ip'],
  ]);
});

test('Pod: wrong types in the fields weft reads are errors', () => {
  assert.deepEqual(fails(pod({ hostNetwork: 'yes' })), [[INVALID_FIELD, 'spec.hostNetwork']]);
  assert.deepEqual(fails(pod({ nodeName: 'Node_1' })), [[INVALID_FIELD, 'spec.nodeName']]);
  assert.deepEqual(fails(pod({ containers: { name: 'c' } })), [[INVALID_FIELD, 'spec.containers']]);
});

test('Pod: every issue of the object is reported at once, naming the object', () => {
  const r = parseObject(
    pod(
      { hostNetwork: 1, containers: [{ name: 'c', ports: [{ containerPort: 0, name: 'BAD' }] }] },
      { podIP: 'x' },
    ),
    origin,
  );
  assert.equal(r.object, undefined);
  assert.deepEqual(
    r.issues.map((i) => [i.code, i.field]),
    [
      [INVALID_FIELD, 'spec.hostNetwork'],
      [INVALID_FIELD, 'spec.containers[0].ports[0].containerPort'],
      [INVALID_FIELD, 'spec.containers[0].ports[0].name'],
      [INVALID_FIELD, 'status.podIP'],
    ],
  );
  for (const i of r.issues) assert.equal(i.object, 'Pod ns/p (workloads.yaml:3)');
});

// --- Node ---

test('Node: labels, pod CIDRs (host bits masked) and InternalIP/ExternalIP addresses; other types ignored', () => {
  const node = ok({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1.example.com', labels: { 'kubernetes.io/hostname': 'node-1' } },
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', 'fd00:1::/64'], taints: [] },
    status: {
      capacity: { cpu: '4' },
      addresses: [
        { type: 'Hostname', address: 'node-1' },
        { type: 'InternalIP', address: '192.168.1.10' },
        { type: 'InternalDNS', address: 'node-1.internal' },
        { type: 'ExternalIP', address: '203.0.113.7' },
      ],
    },
  }) as Node;
  assert.deepEqual(node, {
    kind: 'Node',
    name: 'node-1.example.com',
    labels: { 'kubernetes.io/hostname': 'node-1' },
    addresses: [ip('192.168.1.10'), ip('203.0.113.7')],
    podCidrs: [cidr('10.244.1.0/24'), cidr('fd00:1::/64')],
    origin,
  });
  const single = ok({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n' },
    spec: { podCIDR: '10.244.2.7/24' },
  });
  assert.deepEqual((single as Node).podCidrs, [cidr('10.244.2.0/24')]);
});

test('Node: address and pod CIDR validation', () => {
  const node = (spec: unknown, status: unknown) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n' },
    spec,
    status,
  });
  assert.deepEqual(fails(node({}, { addresses: [{ type: 'InternalIP', address: 'node-1' }] })), [
    [INVALID_FIELD, 'status.addresses[0].address'],
  ]);
  assert.deepEqual(fails(node({ podCIDRs: ['10.0.0.0'] }, {})), [
    [INVALID_FIELD, 'spec.podCIDRs[0]'],
  ]);
  assert.deepEqual(fails(node({ podCIDRs: ['10.0.0.0/24', '10.0.1.0/24'] }, {})), [
    [INVALID_FIELD, 'spec.podCIDRs[1]'],
  ]);
  assert.deepEqual(fails(node({ podCIDR: '10.0.9.0/24', podCIDRs: ['10.0.0.0/24'] }, {})), [
    [INVALID_FIELD, 'spec.podCIDR'],
  ]);
  assert.deepEqual(fails({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'Node_1' } }), [
    [INVALID_FIELD, 'metadata.name'],
  ]);
});
