import test from 'node:test';
import assert from 'node:assert/strict';
import { formatIp } from '../net/ip.js';
import type { EndpointSlice } from '../model/service-types.js';
import type { Cluster } from '../model/types.js';
import { clusterOf, endpointSlice, node, pod, service } from '../../testing/services.js';
import { allocateServices } from './allocate.js';
import { DUAL_STACK_SERVICE_RANGES } from './ranges.js';
import { deriveEndpointSlices as deriveRaw } from './derive.js';

/** As offline: the Services allocated first (their IP families decide the address types). */
function deriveEndpointSlices(c: Cluster) {
  const allocated = allocateServices(c, DUAL_STACK_SERVICE_RANGES);
  assert.deepEqual(allocated.issues, []);
  return deriveRaw(allocated.cluster);
}

/** A slice as text: name, ports, and each endpoint's pod, address, conditions, node, zone, hints. */
function summary(s: EndpointSlice): unknown {
  return {
    name: s.name,
    type: s.addressType,
    ports: s.ports.map((p) => `${p.name}:${p.port ?? '-'}/${p.protocol}`),
    endpoints: s.endpoints.map((e) => {
      const c = e.conditions;
      const flags = `${c.ready ? 'R' : '-'}${c.serving ? 'S' : '-'}${c.terminating ? 'T' : '-'}`;
      const address =
        typeof e.addresses[0] === 'string' ? e.addresses[0] : formatIp(e.addresses[0]!);
      return [
        e.target?.name,
        address,
        flags,
        e.nodeName ?? '',
        e.zone ?? '',
        [...e.zoneHints, ...e.nodeHints].join(','),
      ].join(' ');
    }),
  };
}

function slicesOf(c: Cluster, serviceName: string): unknown[] {
  return c.endpointSlices
    .filter((s) => s.labels['kubernetes.io/service-name'] === serviceName)
    .map(summary);
}

test('derive: one endpoint per selected pod, grouped by how the named targetPort resolves in each pod', () => {
  const c = clusterOf(
    node('n1', ['192.168.0.1'], 'zone-a'),
    node('n2', ['192.168.0.2']),
    service('shop', 'web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] }),
    pod('shop', 'web-1', {
      labels: { app: 'web' },
      node: 'n1',
      ips: ['10.244.0.1'],
      ports: ['http:8080'],
      ready: true,
    }),
    pod('shop', 'web-2', {
      labels: { app: 'web' },
      node: 'n2',
      ips: ['10.244.0.2'],
      ports: ['http:9090'],
      ready: true,
    }),
    pod('shop', 'web-3', {
      labels: { app: 'web' },
      node: 'n2',
      ips: ['10.244.0.3'],
      ports: ['web:8080'],
    }),
    pod('shop', 'web-4', {
      labels: { app: 'web' },
      node: 'n1',
      ips: ['10.244.0.4'],
      ports: ['http:8080/UDP'],
    }),
    pod('shop', 'web-5', {
      labels: { app: 'web', v: '2' },
      node: 'n1',
      ips: ['10.244.0.5'],
      ports: ['http:8080'],
      ready: false,
    }),
    pod('shop', 'web-6', {
      labels: { app: 'web' },
      node: 'n1',
      ips: ['10.244.0.6'],
      ports: ['http:8080'],
      ready: true,
      terminating: true,
    }),
    pod('shop', 'web-7', {
      labels: { app: 'web' },
      node: 'n1',
      ips: ['10.244.0.7'],
      ports: ['http:8080'],
      phase: 'Succeeded',
    }),
    pod('shop', 'db', {
      labels: { app: 'db' },
      node: 'n1',
      ips: ['10.244.0.8'],
      ports: ['http:8080'],
    }),
    pod('other', 'web-8', {
      labels: { app: 'web' },
      node: 'n1',
      ips: ['10.244.0.9'],
      ports: ['http:8080'],
    }),
  );
  const { cluster, notes } = deriveEndpointSlices(c);
  assert.deepEqual(notes, []);
  assert.deepEqual(slicesOf(cluster, 'web'), [
    // web-3 names its port "web", web-4 has "http" on UDP only: no port for them.
    {
      name: 'web-ipv4-0',
      type: 'IPv4',
      ports: [],
      endpoints: ['web-3 10.244.0.3 RS- n2  ', 'web-4 10.244.0.4 RS- n1 zone-a '],
    },
    {
      name: 'web-ipv4-1',
      type: 'IPv4',
      ports: [':8080/TCP'],
      endpoints: [
        'web-1 10.244.0.1 RS- n1 zone-a ',
        'web-5 10.244.0.5 --- n1 zone-a ',
        'web-6 10.244.0.6 -ST n1 zone-a ',
      ],
    },
    {
      name: 'web-ipv4-2',
      type: 'IPv4',
      ports: [':9090/TCP'],
      endpoints: ['web-2 10.244.0.2 RS- n2  '],
    },
  ]);
  const slice = cluster.endpointSlices[0];
  assert.deepEqual(slice?.labels, {
    'kubernetes.io/service-name': 'web',
    'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
  });
});

test('derive: several ports, numbers as written, names per pod; publishNotReadyAddresses makes all ready', () => {
  const c = clusterOf(
    service('shop', 'api', {
      selector: { app: 'api' },
      publishNotReadyAddresses: true,
      ports: [
        { name: 'http', port: 80, targetPort: 'http' },
        { name: 'metrics', port: 9100 },
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' },
      ],
    }),
    pod('shop', 'api-1', {
      labels: { app: 'api' },
      ips: ['10.244.1.1'],
      ports: ['http:8080', 'dns:5353/UDP'],
      ready: false,
    }),
    pod('shop', 'api-2', {
      labels: { app: 'api' },
      ips: ['10.244.1.2'],
      ports: ['dns:53/UDP'],
      ready: true,
      terminating: true,
    }),
  );
  assert.deepEqual(slicesOf(deriveEndpointSlices(c).cluster, 'api'), [
    {
      name: 'api-ipv4-0',
      type: 'IPv4',
      ports: ['http:8080/TCP', 'metrics:9100/TCP', 'dns:5353/UDP'],
      endpoints: ['api-1 10.244.1.1 R--   '],
    },
    {
      name: 'api-ipv4-1',
      type: 'IPv4',
      ports: ['metrics:9100/TCP', 'dns:53/UDP'],
      endpoints: ['api-2 10.244.1.2 RST   '],
    },
  ]);
});

test('derive: dual-stack Services get a slice per family; a pod lacking a family is not in its slice', () => {
  const c = clusterOf(
    service('shop', 'web', {
      selector: { app: 'web' },
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      ports: [{ port: 80 }],
    }),
    pod('shop', 'a', { labels: { app: 'web' }, ips: ['10.244.0.1', 'fd00::1'] }),
    pod('shop', 'b', { labels: { app: 'web' }, ips: ['10.244.0.2'] }),
  );
  assert.deepEqual(slicesOf(deriveEndpointSlices(c).cluster, 'web'), [
    {
      name: 'web-ipv4-0',
      type: 'IPv4',
      ports: [':80/TCP'],
      endpoints: ['a 10.244.0.1 RS-   ', 'b 10.244.0.2 RS-   '],
    },
    { name: 'web-ipv6-0', type: 'IPv6', ports: [':80/TCP'], endpoints: ['a fd00::1 RS-   '] },
  ]);
});

test('derive: no pod selected gives one empty slice; a headless Service is labelled so', () => {
  const c = clusterOf(
    service('shop', 'none', { selector: { app: 'nothing' }, ports: [{ port: 80 }] }),
    service('shop', 'db', { selector: { app: 'db' }, clusterIP: 'None', ipFamilies: ['IPv4'] }),
    pod('shop', 'db-0', { labels: { app: 'db' }, ips: ['10.244.0.5'], ports: ['5432'] }),
  );
  const { cluster } = deriveEndpointSlices(c);
  assert.deepEqual(slicesOf(cluster, 'none'), [
    { name: 'none-ipv4-0', type: 'IPv4', ports: [], endpoints: [] },
  ]);
  assert.deepEqual(slicesOf(cluster, 'db'), [
    { name: 'db-ipv4-0', type: 'IPv4', ports: [], endpoints: ['db-0 10.244.0.5 RS-   '] },
  ]);
  assert.equal(
    cluster.endpointSlices.find((s) => s.name === 'db-ipv4-0')?.labels[
      'service.kubernetes.io/headless'
    ],
    '',
  );
});

test('derive: hand-written slices are kept; the controller-managed slices of a selector Service are replaced', () => {
  const c = clusterOf(
    service('shop', 'ext', { ports: [{ port: 5432 }] }),
    service('shop', 'web', { selector: { app: 'web' }, ports: [{ port: 80 }] }),
    endpointSlice('shop', 'ext-1', 'ext', [{ port: 5432 }], [{ ip: '192.0.2.10' }]),
    endpointSlice('shop', 'web-old', 'web', [{ port: 80 }], [{ ip: '10.9.9.9' }], {
      labels: { 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
    }),
    endpointSlice('shop', 'web-extra', 'web', [{ port: 80 }], [{ ip: '192.0.2.20' }]),
    endpointSlice('shop', 'web-ipv4-0', 'other', [], []),
    pod('shop', 'web-1', { labels: { app: 'web' }, ips: ['10.244.0.1'] }),
  );
  const { cluster } = deriveEndpointSlices(c);
  assert.deepEqual(
    cluster.endpointSlices.map((s) => s.name),
    ['ext-1', 'web-extra', 'web-ipv4-0', 'web-ipv4-1'],
  );
  assert.deepEqual(slicesOf(cluster, 'web')[1], {
    name: 'web-ipv4-1',
    type: 'IPv4',
    ports: [':80/TCP'],
    endpoints: ['web-1 10.244.0.1 RS-   '],
  });
});

test('derive: a pod on a Node the cluster lacks is left out with a note (kept with publishNotReadyAddresses)', () => {
  const raws = (publish: boolean) => [
    service('shop', 'web', {
      selector: { app: 'web' },
      publishNotReadyAddresses: publish,
      ports: [{ port: 80 }],
    }),
    pod('shop', 'web-1', { labels: { app: 'web' }, node: 'gone', ips: ['10.244.0.1'] }),
  ];
  const left = deriveEndpointSlices(clusterOf(...raws(false)));
  assert.deepEqual(slicesOf(left.cluster, 'web'), [
    { name: 'web-ipv4-0', type: 'IPv4', ports: [], endpoints: [] },
  ]);
  assert.deepEqual(
    left.notes.map((n) => [n.code, n.object, n.field, n.message]),
    [
      [
        'WEFT_NOT_FOUND',
        'Pod shop/web-1',
        'spec.nodeName',
        'names Node gone, which the cluster does not have: left out of the endpoints of Service shop/web',
      ],
    ],
  );
  const kept = deriveEndpointSlices(clusterOf(...raws(true)));
  assert.deepEqual(kept.notes, []);
  assert.deepEqual(slicesOf(kept.cluster, 'web'), [
    {
      name: 'web-ipv4-0',
      type: 'IPv4',
      ports: [':80/TCP'],
      endpoints: ['web-1 10.244.0.1 RS- gone  '],
    },
  ]);
});

test('derive: trafficDistribution hints ready endpoints with their zone (and node for PreferSameNode)', () => {
  const raws = (trafficDistribution: string) => [
    node('n1', ['192.168.0.1'], 'zone-a'),
    node('n2', ['192.168.0.2']),
    service('shop', 'web', {
      selector: { app: 'web' },
      trafficDistribution,
      ports: [{ port: 80 }],
    }),
    pod('shop', 'a', { labels: { app: 'web' }, node: 'n1', ips: ['10.244.0.1'] }),
    pod('shop', 'b', { labels: { app: 'web' }, node: 'n2', ips: ['10.244.0.2'] }),
    pod('shop', 'c', { labels: { app: 'web' }, node: 'n1', ips: ['10.244.0.3'], ready: false }),
  ];
  assert.deepEqual(
    slicesOf(deriveEndpointSlices(clusterOf(...raws('PreferClose'))).cluster, 'web'),
    [
      {
        name: 'web-ipv4-0',
        type: 'IPv4',
        ports: [':80/TCP'],
        endpoints: [
          'a 10.244.0.1 RS- n1 zone-a zone-a',
          'b 10.244.0.2 RS- n2  ',
          'c 10.244.0.3 --- n1 zone-a ',
        ],
      },
    ],
  );
  assert.deepEqual(
    slicesOf(deriveEndpointSlices(clusterOf(...raws('PreferSameNode'))).cluster, 'web'),
    [
      {
        name: 'web-ipv4-0',
        type: 'IPv4',
        ports: [':80/TCP'],
        endpoints: [
          'a 10.244.0.1 RS- n1 zone-a zone-a,n1',
          'b 10.244.0.2 RS- n2  n2',
          'c 10.244.0.3 --- n1 zone-a ',
        ],
      },
    ],
  );
});

test('derive: at most 100 endpoints to a slice', () => {
  const pods = Array.from({ length: 101 }, (_, i) =>
    pod('shop', `p${String(i).padStart(3, '0')}`, {
      labels: { app: 'web' },
      ips: [`10.244.${i >> 8}.${(i & 255) + 1}`],
    }),
  );
  const c = clusterOf(
    service('shop', 'web', { selector: { app: 'web' }, ports: [{ port: 80 }] }),
    ...pods,
  );
  const slices = deriveEndpointSlices(c).cluster.endpointSlices;
  assert.deepEqual(
    slices.map((s) => [s.name, s.endpoints.length]),
    [
      ['web-ipv4-0', 100],
      ['web-ipv4-1', 1],
    ],
  );
  const last = slices[1]?.endpoints[0]?.target?.name;
  assert.equal(last, 'p100');
});

test('derive: Services without a selector, and ExternalName ones, get no derived slice', () => {
  const c = clusterOf(
    service('shop', 'manual', { ports: [{ port: 80 }] }),
    service('shop', 'alias', {
      type: 'ExternalName',
      externalName: 'db.example.com',
      selector: { app: 'web' },
    }),
    pod('shop', 'web-1', { labels: { app: 'web' }, ips: ['10.244.0.1'] }),
  );
  assert.deepEqual(deriveEndpointSlices(c).cluster.endpointSlices, []);
});

test('derive: a Service not yet allocated and without families gets slices of both types, as the controller does', () => {
  const c = clusterOf(
    service('shop', 'web', { selector: { app: 'web' }, ports: [{ port: 80 }] }),
    pod('shop', 'a', { labels: { app: 'web' }, ips: ['10.244.0.1'] }),
  );
  assert.deepEqual(slicesOf(deriveRaw(c).cluster, 'web'), [
    { name: 'web-ipv4-0', type: 'IPv4', ports: [':80/TCP'], endpoints: ['a 10.244.0.1 RS-   '] },
    { name: 'web-ipv6-0', type: 'IPv6', ports: [], endpoints: [] },
  ]);
});
