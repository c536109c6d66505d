import test from 'node:test';
import assert from 'node:assert/strict';
import { parseObject } from '../../core/model/parse.js';
import { NodeAnnotation } from '../../core/model/node-annotations.js';
import {
  projectEndpointSlice,
  projectNode,
  projectPod,
  projectPolicy,
  projectService,
} from './resources.js';

/** A Pod as `kubectl get pod -o json` shows it: most of it is of no use to weft. */
function fullPod(phase = 'Running'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-7d9f-abcde',
      generateName: 'web-7d9f-',
      namespace: 'prod',
      uid: '0a1b2c3d',
      resourceVersion: '4711',
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { app: 'web', 'pod-template-hash': '7d9f' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' },
      ownerReferences: [
        { apiVersion: 'v1', kind: 'ConfigMap', name: 'not-a-controller', uid: 'x' },
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web-7d9f',
          uid: 'y',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        { manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': {} } },
      ],
    },
    spec: {
      nodeName: 'node-1',
      serviceAccountName: 'web',
      containers: [
        {
          name: 'web',
          image: 'nginx:1.27',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          resources: { limits: { cpu: '1' } },
          env: [{ name: 'A', value: 'b' }],
        },
        {
          name: 'sidecar',
          image: 'envoy',
          ports: [{ containerPort: 9901, protocol: 'UDP', hostPort: 9901 }],
        },
      ],
      volumes: [{ name: 'x', emptyDir: {} }],
    },
    status: {
      phase,
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' },
        { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:01Z' },
      ],
      hostIP: '192.168.1.10',
      podIP: '10.244.1.5',
      podIPs: [{ ip: '10.244.1.5' }, { ip: 'fd00::5' }],
      containerStatuses: [{ name: 'web', ready: true, restartCount: 0, image: 'nginx:1.27' }],
    },
  };
}

test('projection: a Pod keeps what the parser reads, and parses to the same model', () => {
  const full = fullPod();
  const projected = projectPod(full);
  assert.deepEqual(projected, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-7d9f-abcde',
      namespace: 'prod',
      labels: { app: 'web', 'pod-template-hash': '7d9f' },
      resourceVersion: '4711',
      ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9f', controller: true }],
    },
    spec: {
      nodeName: 'node-1',
      containers: [
        { ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] },
        { ports: [{ containerPort: 9901, protocol: 'UDP', hostPort: 9901 }] },
      ],
    },
    status: {
      phase: 'Running',
      podIP: '10.244.1.5',
      podIPs: [{ ip: '10.244.1.5' }, { ip: 'fd00::5' }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  });
  const fromFull = parseObject(full);
  assert.deepEqual(fromFull.issues, []);
  assert.deepEqual(parseObject(projected), fromFull);
});

test('projection: a Pod being deleted keeps its deletionTimestamp, and reads as terminating', () => {
  const full = fullPod();
  const meta = full['metadata'] as Record<string, unknown>;
  meta['deletionTimestamp'] = '2026-01-02T00:00:00Z';
  meta['deletionGracePeriodSeconds'] = 30;
  const projected = projectPod(full);
  assert.equal(
    (projected['metadata'] as Record<string, unknown>)['deletionTimestamp'],
    '2026-01-02T00:00:00Z',
  );
  const pod = parseObject(projected).object;
  assert.ok(pod?.kind === 'Pod');
  assert.equal(pod.terminating, true);
  assert.equal(pod.ready, true);
  assert.deepEqual(parseObject(projected), parseObject(full));
});

test("projection: a Pod that ended has no addresses (its IP may be another pod's now)", () => {
  for (const phase of ['Succeeded', 'Failed']) {
    const pod = parseObject(projectPod(fullPod(phase))).object;
    assert.ok(pod && pod.kind === 'Pod');
    assert.deepEqual(pod.ips, []);
    assert.equal(pod.ports.length, 2);
  }
});

test('projection: a Node keeps labels, pod CIDRs, its traffic addresses and weft.dev/observe-url', () => {
  const full = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: 'node-1',
      labels: { zone: 'a' },
      resourceVersion: '9',
      uid: 'u',
      annotations: { a: 'b', 'weft.dev/observe-url': 'http://192.168.1.10:9963' },
    },
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'], providerID: 'x', taints: [] },
    status: {
      addresses: [
        { type: 'Hostname', address: 'node-1' },
        { type: 'InternalIP', address: '192.168.1.10' },
        { type: 'ExternalIP', address: '203.0.113.7' },
      ],
      capacity: { cpu: '4' },
      images: [{ names: ['nginx'], sizeBytes: 1 }],
      nodeInfo: { kubeletVersion: 'v1.33.0' },
    },
  };
  const projected = projectNode(full);
  assert.deepEqual(projected['status'], {
    addresses: [
      { type: 'InternalIP', address: '192.168.1.10' },
      { type: 'ExternalIP', address: '203.0.113.7' },
    ],
  });
  assert.deepEqual(projected['spec'], { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] });
  assert.deepEqual((projected['metadata'] as { annotations: unknown }).annotations, {
    'weft.dev/observe-url': 'http://192.168.1.10:9963',
  });
  const parsed = parseObject(projected);
  assert.deepEqual(parsed, parseObject(full));
  const node = parsed.object;
  assert.equal(
    node?.kind === 'Node' && node.annotations?.[NodeAnnotation.observeUrl],
    'http://192.168.1.10:9963',
  );
});

test('projection: a policy keeps its whole spec, so a mistake in it is still reported', () => {
  const np = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: 'x',
      namespace: 'prod',
      resourceVersion: '3',
      annotations: { big: 'y'.repeat(1000) },
    },
    spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ prot: 'TCP' }] }] },
  };
  const projected = projectPolicy(np);
  assert.deepEqual(projected['spec'], np.spec);
  assert.equal(JSON.stringify(projected).includes('yyyy'), false);
  const issues = parseObject(projected).issues;
  assert.deepEqual(
    issues.map((i) => [i.object, i.field, i.code]),
    [['NetworkPolicy prod/x', 'spec.ingress[0].ports[0].prot', 'WEFT_UNKNOWN_FIELD']],
  );
});

test('projection: a field of the wrong type is passed on for the parser to name', () => {
  const pod = fullPod();
  (pod['metadata'] as Record<string, unknown>)['labels'] = 'app=web';
  (pod['spec'] as Record<string, unknown>)['containers'] = { name: 'web' };
  (pod['status'] as Record<string, unknown>)['podIPs'] = ['10.244.1.5'];
  const fields = parseObject(projectPod(pod)).issues.map((i) => i.field);
  assert.deepEqual(fields.sort(), ['metadata.labels', 'spec.containers', 'status.podIPs[0]']);
});

test('projection: a Service keeps its whole spec and its load balancer status', () => {
  const full = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'web',
      namespace: 'prod',
      uid: 'u',
      resourceVersion: '5',
      labels: { app: 'web' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    },
    spec: {
      type: 'LoadBalancer',
      selector: { app: 'web' },
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }],
      sessionAffinity: 'None',
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      allocateLoadBalancerNodePorts: true,
    },
    status: {
      loadBalancer: { ingress: [{ ip: '198.51.100.1', ipMode: 'VIP' }] },
      conditions: [{ type: 'x', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    },
  };
  const projected = projectService(full);
  assert.deepEqual(projected['spec'], full.spec);
  assert.deepEqual(projected['status'], { loadBalancer: full.status.loadBalancer });
  assert.equal('annotations' in (projected['metadata'] as object), false);
  assert.deepEqual(parseObject(projected), parseObject(full));
  assert.deepEqual(parseObject(projected).issues, []);
});

test('projection: an EndpointSlice keeps what the parser reads of each endpoint', () => {
  const full = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'web-abcde',
      namespace: 'prod',
      labels: { 'kubernetes.io/service-name': 'web' },
      generateName: 'web-',
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'u', controller: true },
      ],
    },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: ['10.244.1.5'],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'node-1',
        zone: 'a',
        hints: { forZones: [{ name: 'a' }] },
        targetRef: {
          kind: 'Pod',
          namespace: 'prod',
          name: 'web-1',
          uid: 'x',
          resourceVersion: '9',
        },
        deprecatedTopology: { 'kubernetes.io/hostname': 'node-1' },
      },
    ],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
  const projected = projectEndpointSlice(full);
  assert.deepEqual(projected['endpoints'], [
    {
      addresses: ['10.244.1.5'],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: 'node-1',
      zone: 'a',
      hints: { forZones: [{ name: 'a' }] },
      targetRef: { kind: 'Pod', namespace: 'prod', name: 'web-1' },
    },
  ]);
  assert.deepEqual(parseObject(projected), parseObject(full));
  assert.deepEqual(parseObject(projected).issues, []);
});
