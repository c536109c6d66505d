import test from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from '../errors.js';
import { EVERYTHING } from '../labels.js';
import { parseIp } from '../net/ip.js';
import { buildCluster, validatePodAddresses } from './cluster.js';
import { parseObject } from './parse.js';
import type { ClusterNetworkPolicy, Namespace, NetworkPolicy, Node, Pod, Tier } from './types.js';

function ip(s: string) {
  const a = parseIp(s);
  assert.ok(a);
  return a;
}

function pod(namespace: string, name: string, extra: Partial<Pod> = {}): Pod {
  return {
    kind: 'Pod',
    namespace,
    name,
    labels: {},
    hostNetwork: false,
    ports: [],
    ips: [],
    ...extra,
  };
}

function policy(namespace: string, name: string, file?: string, line?: number): NetworkPolicy {
  return {
    kind: 'NetworkPolicy',
    namespace,
    name,
    podSelector: EVERYTHING,
    policyTypes: ['ingress'],
    ingress: [],
    egress: [],
    ...(file ? { origin: { file, line } } : {}),
  };
}

function cnp(name: string, tier: Tier, priority: number): ClusterNetworkPolicy {
  return {
    kind: 'ClusterNetworkPolicy',
    name,
    tier,
    priority,
    subject: { kind: 'namespaces', selector: EVERYTHING },
    ingress: [],
    egress: [],
  };
}

const node = (name: string): Node => ({
  kind: 'Node',
  name,
  labels: {},
  addresses: [],
  podCidrs: [],
});

test('duplicates (same kind, namespace and name) are errors naming both origins', () => {
  const { cluster, issues } = buildCluster([
    policy('prod', 'allow-web', 'a.yaml', 3),
    policy('prod', 'allow-web', 'b.yaml', 12),
    // Same name, other namespace or other kind: not duplicates.
    policy('dev', 'allow-web'),
    pod('prod', 'allow-web'),
  ]);
  assert.equal(issues.length, 1);
  const [i] = issues;
  assert.equal(i?.code, ErrorCodes.DUPLICATE_OBJECT);
  assert.equal(i?.object, 'NetworkPolicy prod/allow-web (b.yaml:12)');
  assert.match(i?.message ?? '', /NetworkPolicy prod\/allow-web \(a\.yaml:3\)/);
  assert.equal(cluster.networkPolicies.length, 2);
  assert.equal(cluster.networkPolicies.find((p) => p.namespace === 'prod')?.origin?.file, 'a.yaml');
});

test('cluster-scoped duplicates too', () => {
  const { issues } = buildCluster([
    node('n1'),
    node('n1'),
    cnp('c', 'Admin', 1),
    cnp('c', 'Baseline', 2),
  ]);
  assert.deepEqual(
    issues.map((i) => [i.code, i.object]),
    [
      [ErrorCodes.DUPLICATE_OBJECT, 'Node n1'],
      [ErrorCodes.DUPLICATE_OBJECT, 'ClusterNetworkPolicy c'],
    ],
  );
});

test('namespaces used by pods and policies but not given are implicit, with only the name label', () => {
  const prod: Namespace = {
    kind: 'Namespace',
    name: 'prod',
    labels: { env: 'prod', 'kubernetes.io/metadata.name': 'prod' },
    implicit: false,
  };
  const { cluster, issues } = buildCluster([
    pod('prod', 'a'),
    policy('dev', 'p'),
    pod('zeta', 'z'),
    prod,
  ]);
  assert.deepEqual(issues, []);
  assert.deepEqual([...cluster.namespaces.keys()], ['dev', 'prod', 'zeta']);
  assert.equal(cluster.namespaces.get('prod'), prod);
  assert.deepEqual(cluster.namespaces.get('dev'), {
    kind: 'Namespace',
    name: 'dev',
    labels: { 'kubernetes.io/metadata.name': 'dev' },
    implicit: true,
  });
  assert.equal(cluster.namespaces.get('zeta')?.implicit, true);
});

test('everything is sorted: pods and policies by namespace/name, nodes by name, CNPs by tier, priority, name', () => {
  const { cluster } = buildCluster([
    pod('b', 'x'),
    pod('a', 'y'),
    pod('a', 'b'),
    policy('b', 'a'),
    policy('a', 'z'),
    node('n2'),
    node('n10'),
    node('n1'),
    cnp('base', 'Baseline', 0),
    cnp('z', 'Admin', 5),
    cnp('a', 'Admin', 5),
    cnp('first', 'Admin', 1),
  ]);
  assert.deepEqual(
    cluster.pods.map((p) => `${p.namespace}/${p.name}`),
    ['a/b', 'a/y', 'b/x'],
  );
  assert.deepEqual(
    cluster.networkPolicies.map((p) => `${p.namespace}/${p.name}`),
    ['a/z', 'b/a'],
  );
  assert.deepEqual(
    cluster.nodes.map((n) => n.name),
    ['n1', 'n10', 'n2'],
  );
  assert.deepEqual(
    cluster.clusterNetworkPolicies.map((c) => c.name),
    ['first', 'a', 'z', 'base'],
  );
});

test('validatePodAddresses: two pods with one IP is an error; hostNetwork pods share their node IP', () => {
  const { cluster } = buildCluster([
    pod('a', 'one', { ips: [ip('10.0.0.1'), ip('fd00::1')] }),
    pod('b', 'two', { ips: [ip('10.0.0.2'), ip('fd00::1')] }),
    pod('c', 'three', { ips: [ip('10.0.0.1')] }),
    pod('kube-system', 'proxy-1', { hostNetwork: true, ips: [ip('192.168.1.10')] }),
    pod('kube-system', 'proxy-2', { hostNetwork: true, ips: [ip('192.168.1.10')] }),
    pod('d', 'no-ip'),
    pod('d', 'no-ip-2'),
  ]);
  const issues = validatePodAddresses(cluster);
  assert.deepEqual(
    issues.map((i) => [i.code, i.object, i.field]),
    [
      [ErrorCodes.ADDRESS, 'Pod b/two', 'status.podIPs'],
      [ErrorCodes.ADDRESS, 'Pod c/three', 'status.podIPs'],
    ],
  );
  assert.match(issues[0]?.message ?? '', /fd00::1.*Pod a\/one/);
  assert.match(issues[1]?.message ?? '', /10\.0\.0\.1.*Pod a\/one/);
});

test('buildCluster: Services and EndpointSlices sorted by namespace, then name; duplicates reported', () => {
  const parsed = (raw: Record<string, unknown>) => {
    const r = parseObject(raw);
    assert.ok(r.object, JSON.stringify(r.issues));
    return r.object;
  };
  const svc = (namespace: string, name: string) =>
    parsed({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace, name },
      spec: { ports: [{ port: 80 }] },
    });
  const eps = (namespace: string, name: string) =>
    parsed({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { namespace, name },
      addressType: 'IPv4',
      endpoints: [],
    });
  const { cluster, issues } = buildCluster([
    svc('b', 'a'),
    eps('b', 'x'),
    svc('a', 'z'),
    eps('a', 'y'),
    svc('a', 'z'),
  ]);
  assert.deepEqual(
    cluster.services.map((s) => `${s.namespace}/${s.name}`),
    ['a/z', 'b/a'],
  );
  assert.deepEqual(
    cluster.endpointSlices.map((s) => `${s.namespace}/${s.name}`),
    ['a/y', 'b/x'],
  );
  assert.deepEqual(
    issues.map((i) => [i.code, i.object, i.message]),
    [[ErrorCodes.DUPLICATE_OBJECT, 'Service a/z', 'duplicates Service a/z']],
  );
});
