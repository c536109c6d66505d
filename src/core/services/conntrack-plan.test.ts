import test from 'node:test';
import assert from 'node:assert/strict';
import { formatIp } from '../net/ip.js';
import {
  clusterOf,
  endpointSlice,
  node,
  service,
  type EndpointSpec,
} from '../../testing/services.js';
import { nodes } from '../../testing/service-model.js';
import { planConntrackCleanup, type ConntrackFilter } from './conntrack-plan.js';
import { buildServiceModel } from './model.js';

// Expected filters are written by hand from kube-proxy's cleanup rules: an
// endpoint gone → the entries to each frontend whose reply comes from it; a
// frontend that starts forwarding → every entry to it; node ports by port.

function filterText(f: ConntrackFilter): string {
  const to = f.dst
    ? `${f.family === 6 ? `[${formatIp(f.dst)}]` : formatIp(f.dst)}:${f.dstPort}`
    : `*:${f.dstPort}`;
  const from = f.endpoint ? ` reply-src ${formatIp(f.endpoint.ip)}:${f.endpoint.port}` : '';
  return `IPv${f.family} ${f.protocol} ${to}${from} ${f.reason} (${f.service})`;
}

/** kube-system/dns: UDP and TCP 53 → 5353, an external IP, a load balancer IP, node port 30053. */
function dns(endpoints: readonly EndpointSpec[], spec: Record<string, unknown> = {}) {
  return [
    service(
      'kube-system',
      'dns',
      {
        type: 'LoadBalancer',
        clusterIP: '10.96.0.10',
        externalIPs: ['198.51.100.7'],
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353, nodePort: 30053 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353, nodePort: 30053 },
        ],
        ...spec,
      },
      { status: { loadBalancer: { ingress: [{ ip: '203.0.113.50' }] } } },
    ),
    endpointSlice(
      'kube-system',
      'dns-1',
      'dns',
      [
        { name: 'dns', port: 5353, protocol: 'UDP' },
        { name: 'dns-tcp', port: 5353, protocol: 'TCP' },
      ],
      endpoints,
    ),
  ];
}

const three: EndpointSpec[] = [
  { ip: '10.244.1.5', node: 'n1' },
  { ip: '10.244.2.5', node: 'n2' },
  { ip: '10.244.2.6', node: 'n2' },
];

function plan(
  prev: Record<string, unknown>[],
  next: Record<string, unknown>[],
  nodeName = 'n1',
): string[] {
  const before = buildServiceModel(clusterOf(...nodes, ...prev), nodeName);
  const after = buildServiceModel(clusterOf(...nodes, ...next), nodeName);
  return planConntrackCleanup(before, after).map(filterText);
}

test('N → N-1: entries to every frontend whose reply comes from the gone endpoint; TCP untouched', () => {
  assert.deepEqual(plan(dns(three), dns([three[0] as EndpointSpec, three[2] as EndpointSpec])), [
    'IPv4 UDP 10.96.0.10:53 reply-src 10.244.2.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP 198.51.100.7:53 reply-src 10.244.2.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP 203.0.113.50:53 reply-src 10.244.2.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP *:30053 reply-src 10.244.2.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
  ]);
});

test('N → 0: every endpoint, at every frontend', () => {
  assert.deepEqual(plan(dns(three.slice(0, 2)), dns([])), [
    'IPv4 UDP 10.96.0.10:53 reply-src 10.244.1.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP 10.96.0.10:53 reply-src 10.244.2.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP 198.51.100.7:53 reply-src 10.244.1.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP 198.51.100.7:53 reply-src 10.244.2.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP 203.0.113.50:53 reply-src 10.244.1.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP 203.0.113.50:53 reply-src 10.244.2.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP *:30053 reply-src 10.244.1.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP *:30053 reply-src 10.244.2.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
  ]);
});

test('0 → N: every entry to each frontend, the node port once for all node addresses', () => {
  const notReady = dns([{ ip: '10.244.2.5', node: 'n2', ready: false, serving: false }]);
  const expected = [
    'IPv4 UDP 10.96.0.10:53 frontend-opened (kube-system/dns:dns/UDP)',
    'IPv4 UDP 198.51.100.7:53 frontend-opened (kube-system/dns:dns/UDP)',
    'IPv4 UDP 203.0.113.50:53 frontend-opened (kube-system/dns:dns/UDP)',
    'IPv4 UDP *:30053 frontend-opened (kube-system/dns:dns/UDP)',
  ];
  assert.deepEqual(plan(dns([]), dns(three)), expected);
  // An endpoint that is not serving is no endpoint: becoming ready is 0 → 1.
  assert.deepEqual(plan(notReady, dns([{ ip: '10.244.2.5', node: 'n2' }])), expected);
  // A new Service: its frontends did not forward before either.
  assert.deepEqual(plan([], dns(three)), expected);
});

test('unchanged, growing, or changed only in TCP: nothing to delete', () => {
  assert.deepEqual(plan(dns(three), dns(three)), []);
  assert.deepEqual(plan(dns(three.slice(0, 1)), dns(three)), []);
  const tcpOnly = (port: number) => [
    service('shop', 'web', { clusterIP: '10.96.0.20', ports: [{ port: 80, targetPort: port }] }),
    endpointSlice('shop', 'web-1', 'web', [{ port }], [{ ip: '10.244.1.9' }]),
  ];
  assert.deepEqual(plan(tcpOnly(8080), []), []);
  assert.deepEqual(plan(tcpOnly(8080), tcpOnly(8081)), []);
});

test('a frontend removed: its entries DNATed to any endpoint; the others keep theirs', () => {
  const two = three.slice(0, 2);
  // The external IP is taken off the Service; its other frontends are unchanged.
  assert.deepEqual(plan(dns(two), dns(two, { externalIPs: [] })), [
    'IPv4 UDP 198.51.100.7:53 reply-src 10.244.1.5:5353 frontend-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP 198.51.100.7:53 reply-src 10.244.2.5:5353 frontend-removed (kube-system/dns:dns/UDP)',
  ]);
  // The Service is deleted: all of them.
  assert.deepEqual(plan(dns(three.slice(0, 1)), []), [
    'IPv4 UDP 10.96.0.10:53 reply-src 10.244.1.5:5353 frontend-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP 198.51.100.7:53 reply-src 10.244.1.5:5353 frontend-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP 203.0.113.50:53 reply-src 10.244.1.5:5353 frontend-removed (kube-system/dns:dns/UDP)',
    'IPv4 UDP *:30053 reply-src 10.244.1.5:5353 frontend-removed (kube-system/dns:dns/UDP)',
  ]);
  // A Service without endpoints had nothing DNATed: nothing to delete.
  assert.deepEqual(plan(dns([]), []), []);
});

test('node ports: a new node port opens, the old one is removed; the Service port moves likewise', () => {
  const one = three.slice(0, 1);
  assert.deepEqual(
    plan(
      dns(one),
      dns(one, {
        ports: [{ name: 'dns', port: 5300, protocol: 'UDP', targetPort: 5353, nodePort: 30054 }],
      }),
    ),
    [
      'IPv4 UDP 10.96.0.10:53 reply-src 10.244.1.5:5353 frontend-removed (kube-system/dns:dns/UDP)',
      'IPv4 UDP 10.96.0.10:5300 frontend-opened (kube-system/dns:dns/UDP)',
      'IPv4 UDP 198.51.100.7:53 reply-src 10.244.1.5:5353 frontend-removed (kube-system/dns:dns/UDP)',
      'IPv4 UDP 198.51.100.7:5300 frontend-opened (kube-system/dns:dns/UDP)',
      'IPv4 UDP 203.0.113.50:53 reply-src 10.244.1.5:5353 frontend-removed (kube-system/dns:dns/UDP)',
      'IPv4 UDP 203.0.113.50:5300 frontend-opened (kube-system/dns:dns/UDP)',
      'IPv4 UDP *:30053 reply-src 10.244.1.5:5353 frontend-removed (kube-system/dns:dns/UDP)',
      'IPv4 UDP *:30054 frontend-opened (kube-system/dns:dns/UDP)',
    ],
  );
});

test('an endpoint that stays at its address on another port: the old address and port go', () => {
  const at = (port: number) => [
    service('kube-system', 'dns', {
      clusterIP: '10.96.0.10',
      ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: port }],
    }),
    endpointSlice(
      'kube-system',
      'dns-1',
      'dns',
      [{ name: 'dns', port, protocol: 'UDP' }],
      [{ ip: '10.244.1.5' }],
    ),
  ];
  assert.deepEqual(plan(at(5353), at(5354)), [
    'IPv4 UDP 10.96.0.10:53 reply-src 10.244.1.5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
  ]);
});

test('SCTP is cleaned like UDP', () => {
  const sctp = (endpoints: readonly EndpointSpec[]) => [
    service('tel', 'sig', {
      clusterIP: '10.96.0.30',
      ports: [{ port: 3868, protocol: 'SCTP' }],
    }),
    endpointSlice('tel', 'sig-1', 'sig', [{ port: 3868, protocol: 'SCTP' }], endpoints),
  ];
  assert.deepEqual(plan(sctp(three.slice(0, 2)), sctp(three.slice(1, 2))), [
    'IPv4 SCTP 10.96.0.30:3868 reply-src 10.244.1.5:3868 endpoint-removed (tel/sig:/SCTP)',
  ]);
});

test('IPv6: the family of the Service port, its addresses and endpoints (on a node with an IPv6 address)', () => {
  const dual = (v6: readonly EndpointSpec[]) => [
    node('n6', ['fd00:1::6']),
    service('kube-system', 'dns', {
      type: 'NodePort',
      clusterIPs: ['10.96.0.10', 'fd00:10:96::a'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353, nodePort: 30053 }],
    }),
    endpointSlice(
      'kube-system',
      'dns-4',
      'dns',
      [{ name: 'dns', port: 5353, protocol: 'UDP' }],
      [{ ip: '10.244.1.5' }],
    ),
    endpointSlice(
      'kube-system',
      'dns-6',
      'dns',
      [{ name: 'dns', port: 5353, protocol: 'UDP' }],
      v6,
      { addressType: 'IPv6' },
    ),
  ];
  assert.deepEqual(
    plan(dual([{ ip: 'fd00:244::5' }, { ip: 'fd00:244::6' }]), dual([{ ip: 'fd00:244::6' }]), 'n6'),
    [
      'IPv6 UDP [fd00:10:96::a]:53 reply-src fd00:244::5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
      'IPv6 UDP *:30053 reply-src fd00:244::5:5353 endpoint-removed (kube-system/dns:dns/UDP)',
    ],
  );
  assert.deepEqual(plan(dual([]), dual([{ ip: 'fd00:244::6' }]), 'n6'), [
    'IPv6 UDP [fd00:10:96::a]:53 frontend-opened (kube-system/dns:dns/UDP)',
    'IPv6 UDP *:30053 frontend-opened (kube-system/dns:dns/UDP)',
  ]);
});
