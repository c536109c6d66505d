import test from 'node:test';
import assert from 'node:assert/strict';
import { clusterOf, endpointSlice, node, pod, service } from '../../testing/services.js';
import {
  backendText,
  CLUSTER_TRAFFIC,
  model,
  nodes,
  web,
  webSlice,
} from '../../testing/service-model.js';
import { allocateServices } from './allocate.js';
import { deriveEndpointSlices } from './derive.js';
import { buildServiceModel } from './model.js';

// Expected values below are written from the Kubernetes documentation
// ("Virtual IPs and Service Proxies", "Service Internal Traffic Policy",
// "Topology Aware Routing", the Service API reference) and kube-proxy's
// documented behaviour, not computed by the code under test.

test('ClusterIP: ready endpoints anywhere; pod traffic is not masqueraded, other traffic is', () => {
  const c = clusterOf(
    ...nodes,
    web(),
    webSlice([
      { ip: '10.244.1.5', node: 'n1', ready: true, pod: 'web-a' },
      { ip: '10.244.2.5', node: 'n2', ready: true, pod: 'web-b' },
      { ip: '10.244.2.6', node: 'n2', ready: false, serving: false },
    ]),
  );
  assert.deepEqual(model(c), [
    {
      id: 'shop/web:http/TCP IPv4',
      frontends: ['ClusterIP 10.96.0.10:80'],
      cluster: ['10.244.1.5:8080 RS- local', '10.244.2.5:8080 RS-'],
      local: [],
      internal: CLUSTER_TRAFFIC,
      external: undefined,
    },
  ]);
  const [port] = buildServiceModel(c, 'n1').ports;
  assert.deepEqual(
    port?.clusterEndpoints.map((b) => [b.slice, b.target, b.nodeName]),
    [
      ['shop/web-1', 'Pod shop/web-a', 'n1'],
      ['shop/web-1', 'Pod shop/web-b', 'n2'],
    ],
  );
  assert.deepEqual(port?.frontends[0]?.service, 'shop/web:http/TCP');
  assert.deepEqual(port?.affinity, { kind: 'None' });
});

test('no ready endpoint: serving terminating ones are used; none at all is a reject, inside and out', () => {
  const terminating = clusterOf(
    ...nodes,
    web({
      type: 'NodePort',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    webSlice([
      { ip: '10.244.1.5', node: 'n1', ready: false, serving: true, terminating: true },
      { ip: '10.244.2.5', node: 'n2', ready: false, serving: false, terminating: true },
      { ip: '10.244.2.6', node: 'n2', ready: false, serving: false },
    ]),
  );
  assert.deepEqual(model(terminating)[0]?.['cluster'], ['10.244.1.5:8080 -ST local']);
  assert.deepEqual(model(terminating)[0]?.['internal'], CLUSTER_TRAFFIC);
  // Not ready and not serving: nothing to send to; the ClusterIP rejects.
  const none = clusterOf(...nodes, web(), webSlice([{ ip: '10.244.2.6', ready: false }]));
  assert.deepEqual(model(none), [
    {
      id: 'shop/web:http/TCP IPv4',
      frontends: ['ClusterIP 10.96.0.10:80'],
      cluster: [],
      local: [],
      internal: ['any -> reject (shop/web:http/TCP has no endpoints)'],
      external: undefined,
    },
  ]);
});

test('no EndpointSlice at all, and a NodePort Service: rejected on the ClusterIP and the node ports', () => {
  const c = clusterOf(
    ...nodes,
    web({
      type: 'NodePort',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
  );
  assert.deepEqual(model(c), [
    {
      id: 'shop/web:http/TCP IPv4',
      frontends: [
        'ClusterIP 10.96.0.10:80',
        'NodePort 192.168.0.1:30080',
        'NodePort 203.0.113.1:30080',
      ],
      cluster: [],
      local: [],
      internal: ['any -> reject (shop/web:http/TCP has no endpoints)'],
      external: ['any -> reject (shop/web:http/TCP has no endpoints)'],
    },
  ]);
});

test('the same port on TCP and UDP: two Service ports, each with the endpoints of its protocol', () => {
  const c = clusterOf(
    ...nodes,
    service('kube-system', 'dns', {
      clusterIP: '10.96.0.10',
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ],
    }),
    endpointSlice(
      'kube-system',
      'dns-1',
      'dns',
      [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 5353, protocol: 'TCP' },
      ],
      [{ ip: '10.244.1.2', node: 'n2' }],
    ),
  );
  assert.deepEqual(
    model(c).map((p) => [p['id'], p['frontends'], p['cluster']]),
    [
      ['kube-system/dns:dns-tcp/TCP IPv4', ['ClusterIP 10.96.0.10:53'], ['10.244.1.2:5353 RS-']],
      ['kube-system/dns:dns/UDP IPv4', ['ClusterIP 10.96.0.10:53'], ['10.244.1.2:53 RS-']],
    ],
  );
});

test('dual-stack: one Service port per family, with the addresses and endpoints of that family', () => {
  const c = clusterOf(
    ...nodes.slice(0, 1),
    node('n6', ['fd00:1::6']),
    web({
      clusterIPs: ['10.96.0.10', 'fd00:10:96::a'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      externalIPs: ['198.51.100.7', '2001:db8::7'],
    }),
    webSlice([{ ip: '10.244.1.5', node: 'n6' }]),
    endpointSlice(
      'shop',
      'web-6',
      'web',
      [{ name: 'http', port: 8080 }],
      [{ ip: 'fd00:244::5', node: 'n6' }],
      {
        addressType: 'IPv6',
      },
    ),
  );
  assert.deepEqual(model(c, 'n6'), [
    {
      id: 'shop/web:http/TCP IPv4',
      frontends: ['ClusterIP 10.96.0.10:80', 'ExternalIP 198.51.100.7:80'],
      cluster: ['10.244.1.5:8080 RS- local'],
      local: [],
      internal: CLUSTER_TRAFFIC,
      external: ['any masquerade -> cluster endpoints'],
    },
    {
      id: 'shop/web:http/TCP IPv6',
      frontends: ['ClusterIP fd00:10:96::a:80', 'ExternalIP 2001:db8::7:80'],
      cluster: ['fd00:244::5:8080 RS- local'],
      local: [],
      internal: CLUSTER_TRAFFIC,
      external: ['any masquerade -> cluster endpoints'],
    },
  ]);
});

test('which Services get no rules, and why', () => {
  const c = clusterOf(
    service('a', 'headless', { clusterIP: 'None' }),
    service('a', 'alias', { type: 'ExternalName', externalName: 'db.example.com' }),
    service('a', 'labelled', { clusterIP: '10.96.0.3', ports: [{ port: 80 }] }),
    service('a', 'other-proxy', { clusterIP: '10.96.0.4', ports: [{ port: 80 }] }),
    service('a', 'unallocated', { ports: [{ port: 80 }] }),
  );
  const labelled = {
    ...c,
    services: c.services.map((s) =>
      s.name === 'labelled'
        ? { ...s, labels: { 'service.kubernetes.io/headless': '' } }
        : s.name === 'other-proxy'
          ? { ...s, labels: { 'service.kubernetes.io/service-proxy-name': 'cilium' } }
          : s,
    ),
  };
  const m = buildServiceModel(labelled, 'n1');
  assert.deepEqual(m.ports, []);
  assert.deepEqual(m.ignored, [
    { namespace: 'a', name: 'alias', reason: { kind: 'ExternalName' } },
    { namespace: 'a', name: 'headless', reason: { kind: 'headless' } },
    { namespace: 'a', name: 'labelled', reason: { kind: 'headless-label' } },
    {
      namespace: 'a',
      name: 'other-proxy',
      reason: { kind: 'service-proxy-name', proxy: 'cilium' },
    },
    { namespace: 'a', name: 'unallocated', reason: { kind: 'no-cluster-ip' } },
  ]);
});

test('slices kube-proxy does not use: FQDN, no service-name label, headless or proxy-name labelled; ports without a number', () => {
  const c = clusterOf(
    ...nodes,
    web(),
    webSlice([{ ip: '10.244.1.5' }], 'a-good'),
    webSlice([{ ip: '10.244.1.6' }], 'b-headless'),
    webSlice([{ ip: '10.244.1.7' }], 'c-proxied'),
    endpointSlice(
      'shop',
      'd-unnamed',
      undefined,
      [{ name: 'http', port: 8080 }],
      [{ ip: '10.244.1.8' }],
    ),
    endpointSlice('shop', 'e-fqdn', 'web', [{ name: 'http', port: 8080 }], [], {
      addressType: 'FQDN',
    }),
    webSlice([{ ip: '10.244.1.9' }], 'f-no-port', [{ name: 'http' }]),
  );
  const labels: Record<string, Record<string, string>> = {
    'b-headless': { 'service.kubernetes.io/headless': '' },
    'c-proxied': { 'service.kubernetes.io/service-proxy-name': 'other' },
  };
  const withLabels = {
    ...c,
    endpointSlices: c.endpointSlices.map((s) =>
      labels[s.name] ? { ...s, labels: { ...s.labels, ...labels[s.name] } } : s,
    ),
  };
  assert.deepEqual(model(withLabels)[0]?.['cluster'], ['10.244.1.5:8080 RS-']);
});

test('an endpoint in two slices counts once (the local one when they differ); affinity carried', () => {
  const c = clusterOf(
    ...nodes,
    web({
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
    }),
    webSlice([{ ip: '10.244.1.5', node: 'n1' }], 'a'),
    webSlice([{ ip: '10.244.1.5', node: 'n2' }], 'b'),
  );
  const [port] = buildServiceModel(c, 'n1').ports;
  assert.deepEqual(
    port?.clusterEndpoints.map((b) => [backendText(b), b.slice]),
    [['10.244.1.5:8080 RS- local', 'shop/a']],
  );
  assert.deepEqual(port?.affinity, { kind: 'ClientIP', timeoutSeconds: 60 });
});

test('the model is the same whatever the order of the objects', () => {
  const raws = [
    ...nodes,
    web({
      type: 'NodePort',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    service('a', 'api', {
      clusterIP: '10.96.0.20',
      ports: [
        { name: 'x', port: 1 },
        { name: 'y', port: 2 },
      ],
    }),
    webSlice(
      [
        { ip: '10.244.2.5', node: 'n2' },
        { ip: '10.244.1.5', node: 'n1' },
      ],
      'z',
    ),
    webSlice([{ ip: '10.244.1.1', node: 'n2' }], 'a'),
  ];
  const forward = buildServiceModel(clusterOf(...raws), 'n1');
  const backward = buildServiceModel(clusterOf(...[...raws].reverse()), 'n1');
  assert.deepEqual(backward, forward);
  assert.deepEqual(
    forward.ports.map((p) => p.id),
    ['a/api:x/TCP', 'a/api:y/TCP', 'shop/web:http/TCP'],
  );
});

test('offline, end to end: allocate, derive, model; a named targetPort differing per pod', () => {
  const c = clusterOf(
    ...nodes,
    service('shop', 'web', {
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    }),
    pod('shop', 'web-1', {
      labels: { app: 'web' },
      node: 'n1',
      ips: ['10.244.1.5'],
      ports: ['http:8080'],
      ready: true,
    }),
    pod('shop', 'web-2', {
      labels: { app: 'web' },
      node: 'n2',
      ips: ['10.244.2.5'],
      ports: ['http:9090'],
      ready: true,
    }),
    pod('shop', 'web-3', {
      labels: { app: 'web' },
      node: 'n2',
      ips: ['10.244.2.6'],
      ports: ['admin:8081'],
      ready: true,
    }),
  );
  const allocated = allocateServices(c);
  assert.deepEqual(allocated.issues, []);
  const derived = deriveEndpointSlices(allocated.cluster);
  assert.deepEqual(derived.notes, []);
  assert.deepEqual(model(derived.cluster, 'n2'), [
    {
      id: 'shop/web:http/TCP IPv4',
      frontends: ['ClusterIP 10.96.0.2:80', 'NodePort 192.168.0.2:30000'],
      cluster: ['10.244.1.5:8080 RS-', '10.244.2.5:9090 RS- local'],
      local: [],
      internal: CLUSTER_TRAFFIC,
      external: ['any masquerade -> cluster endpoints'],
    },
  ]);
});

test('a node port makes a Service port reachable from outside even on a node with no address known', () => {
  const c = clusterOf(
    web({
      type: 'NodePort',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    webSlice([{ ip: '10.244.1.5', node: 'elsewhere' }]),
  );
  assert.deepEqual(model(c, 'unknown-node'), [
    {
      id: 'shop/web:http/TCP IPv4',
      frontends: ['ClusterIP 10.96.0.10:80'],
      cluster: ['10.244.1.5:8080 RS-'],
      local: [],
      internal: CLUSTER_TRAFFIC,
      external: ['any masquerade -> cluster endpoints'],
    },
  ]);
});

test("load balancing: the Service's lb-algorithm annotation, else the agent's default, else random", () => {
  const annotated = service(
    'shop',
    'api',
    { clusterIP: '10.96.0.11', ports: [{ name: 'http', port: 80 }] },
    {
      metadata: {
        namespace: 'shop',
        name: 'api',
        annotations: { 'service.weft.dev/lb-algorithm': 'random' },
      },
    },
  );
  const c = clusterOf(...nodes, web(), annotated);
  const balancing = (o?: Parameters<typeof buildServiceModel>[2]) =>
    buildServiceModel(c, 'n1', o).ports.map((p) => `${p.id} ${p.loadBalancing}`);
  assert.deepEqual(balancing(), ['shop/api:http/TCP random', 'shop/web:http/TCP random']);
  assert.deepEqual(balancing({ loadBalancing: 'maglev' }), [
    'shop/api:http/TCP random',
    'shop/web:http/TCP maglev',
  ]);
});
