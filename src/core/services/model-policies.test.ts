import test from 'node:test';
import assert from 'node:assert/strict';
import { clusterOf, endpointSlice, node } from '../../testing/services.js';
import { CLUSTER_TRAFFIC, model, nodes, web, webSlice } from '../../testing/service-model.js';
import { buildServiceModel } from './model.js';

// Traffic policies and topology, as the Kubernetes documentation describes
// them ("Service Internal Traffic Policy", "externalTrafficPolicy",
// "Topology Aware Routing"); expected values written by hand.

test('LoadBalancer with externalTrafficPolicy Local: client address kept to local endpoints, short-circuits for pods and the node, health check', () => {
  const raws = [
    ...nodes,
    node('n3', ['192.168.0.3'], 'zone-a'),
    web(
      {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 32000,
        loadBalancerSourceRanges: ['192.168.0.0/24', '2001:db8::/64'],
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
      },
      {
        status: {
          loadBalancer: {
            ingress: [
              { ip: '198.51.100.1' },
              { ip: '198.51.100.2', ipMode: 'Proxy' },
              { hostname: 'lb.example.com' },
            ],
          },
        },
      },
    ),
    webSlice([
      { ip: '10.244.1.5', node: 'n1' },
      { ip: '10.244.1.6', node: 'n1' },
      { ip: '10.244.2.5', node: 'n2' },
    ]),
  ];
  const c = clusterOf(...raws);
  assert.deepEqual(model(c, 'n1'), [
    {
      id: 'shop/web:http/TCP IPv4',
      frontends: [
        'ClusterIP 10.96.0.10:80',
        // The node (192.168.0.1) is in a source range: the LB IP may talk to itself.
        'LoadBalancer 198.51.100.1:80 from 192.168.0.0/24,198.51.100.1/32',
        'NodePort 192.168.0.1:30080',
        'NodePort 203.0.113.1:30080',
      ],
      cluster: ['10.244.1.5:8080 RS- local', '10.244.1.6:8080 RS- local', '10.244.2.5:8080 RS-'],
      local: ['10.244.1.5:8080 RS- local', '10.244.1.6:8080 RS- local'],
      internal: CLUSTER_TRAFFIC,
      external: [
        'pod -> cluster endpoints',
        'node masquerade -> cluster endpoints',
        'any -> local endpoints',
      ],
    },
  ]);
  assert.deepEqual(model(c, 'n3')[0]?.['external'], [
    'pod -> cluster endpoints',
    'node masquerade -> cluster endpoints',
    'any -> drop (shop/web:http/TCP has no local endpoints)',
  ]);
  assert.deepEqual(buildServiceModel(c, 'n1').healthChecks, [
    { service: { namespace: 'shop', name: 'web' }, nodePort: 32000, localEndpoints: 2 },
  ]);
  assert.deepEqual(buildServiceModel(c, 'n3').healthChecks, [
    { service: { namespace: 'shop', name: 'web' }, nodePort: 32000, localEndpoints: 0 },
  ]);
});

test('internalTrafficPolicy Local: ClusterIP traffic to this node endpoints only, dropped where there is none', () => {
  const c = clusterOf(
    ...nodes,
    node('n3', ['192.168.0.3']),
    web({ internalTrafficPolicy: 'Local' }),
    webSlice([
      { ip: '10.244.1.5', node: 'n1' },
      { ip: '10.244.2.5', node: 'n2', ready: false, serving: true, terminating: true },
    ]),
  );
  assert.deepEqual(model(c, 'n1')[0], {
    id: 'shop/web:http/TCP IPv4',
    frontends: ['ClusterIP 10.96.0.10:80'],
    cluster: [],
    local: ['10.244.1.5:8080 RS- local'],
    internal: ['pod -> local endpoints', 'any masquerade -> local endpoints'],
    external: undefined,
  });
  // On n2 the only endpoint is terminating but serving: the Local fallback uses it.
  assert.deepEqual(model(c, 'n2')[0]?.['local'], ['10.244.2.5:8080 -ST local']);
  assert.deepEqual(model(c, 'n3')[0]?.['internal'], [
    'any -> drop (shop/web:http/TCP has no local endpoints)',
  ]);
});

test('topology hints: all or nothing, by node when every ready endpoint has a node hint, else by zone', () => {
  const hinted = (endpoints: Parameters<typeof endpointSlice>[4]) =>
    clusterOf(
      ...nodes,
      node('n3', ['192.168.0.3'], 'zone-c'),
      web({ trafficDistribution: 'PreferClose' }),
      webSlice(endpoints),
    );
  const zones = hinted([
    { ip: '10.244.1.5', node: 'n1', zones: ['zone-a'] },
    { ip: '10.244.2.5', node: 'n2', zones: ['zone-b'] },
    { ip: '10.244.2.6', node: 'n2', ready: false, serving: false },
  ]);
  assert.deepEqual(model(zones, 'n1')[0]?.['cluster'], ['10.244.1.5:8080 RS- local']);
  assert.deepEqual(model(zones, 'n2')[0]?.['cluster'], ['10.244.2.5:8080 RS- local']);
  // No endpoint is hinted for zone-c: hints are ignored there.
  assert.deepEqual(model(zones, 'n3')[0]?.['cluster'], [
    '10.244.1.5:8080 RS-',
    '10.244.2.5:8080 RS-',
  ]);
  // One ready endpoint without a hint: hints are ignored everywhere.
  const partial = hinted([
    { ip: '10.244.1.5', node: 'n1', zones: ['zone-a'] },
    { ip: '10.244.2.5', node: 'n2' },
  ]);
  assert.deepEqual(model(partial, 'n1')[0]?.['cluster'], [
    '10.244.1.5:8080 RS- local',
    '10.244.2.5:8080 RS-',
  ]);
  const byNode = hinted([
    { ip: '10.244.1.5', node: 'n1', zones: ['zone-a'], nodes: ['n1'] },
    { ip: '10.244.1.6', node: 'n3', zones: ['zone-a'], nodes: ['n3'] },
    { ip: '10.244.2.5', node: 'n2', zones: ['zone-b'], nodes: ['n2'] },
  ]);
  assert.deepEqual(model(byNode, 'n1')[0]?.['cluster'], ['10.244.1.5:8080 RS- local']);
  assert.deepEqual(model(byNode, 'n3')[0]?.['cluster'], ['10.244.1.6:8080 RS- local']);
});
