import test from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from '../errors.js';
import { ipOf as ip, issueFields, parsedAs } from '../../testing/parse.js';

const origin = { file: 'eps.yaml', line: 1 };
const { INVALID_FIELD, MISSING_FIELD, UNKNOWN_FIELD } = ErrorCodes;

function slice(body: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'db-abc12',
      namespace: 'shop',
      labels: { 'kubernetes.io/service-name': 'db' },
    },
    ...body,
  };
}

test('EndpointSlice: a hand-written slice with every endpoint field', () => {
  const s = ok(
    slice({
      addressType: 'IPv4',
      ports: [
        { name: 'sql', port: 5432, protocol: 'TCP', appProtocol: 'postgresql' },
        { name: 'metrics', port: 9187 },
      ],
      endpoints: [
        {
          addresses: ['192.0.2.10'],
          conditions: { ready: true, serving: true, terminating: false },
          nodeName: 'node-1',
          zone: 'zone-a',
          hostname: 'db-0',
          hints: { forZones: [{ name: 'zone-a' }], forNodes: [{ name: 'node-1' }] },
          targetRef: { kind: 'Pod', namespace: 'shop', name: 'db-0', uid: 'u1' },
          deprecatedTopology: { 'topology.kubernetes.io/zone': 'zone-a' },
        },
        { addresses: ['192.0.2.11'] },
      ],
    }),
  );
  assert.deepEqual(s, {
    kind: 'EndpointSlice',
    namespace: 'shop',
    name: 'db-abc12',
    labels: { 'kubernetes.io/service-name': 'db' },
    ports: [
      { name: 'sql', protocol: 'TCP', port: 5432, appProtocol: 'postgresql' },
      { name: 'metrics', protocol: 'TCP', port: 9187 },
    ],
    origin,
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: [ip('192.0.2.10')],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'node-1',
        zone: 'zone-a',
        zoneHints: ['zone-a'],
        nodeHints: ['node-1'],
        target: { kind: 'Pod', namespace: 'shop', name: 'db-0' },
        hostname: 'db-0',
      },
      { addresses: [ip('192.0.2.11')], conditions: {}, zoneHints: [], nodeHints: [] },
    ],
  });
});

test('EndpointSlice: FQDN slices keep names; a port without a number or name is allowed', () => {
  const s = ok(
    slice({ addressType: 'FQDN', ports: [{}], endpoints: [{ addresses: ['db.example.com'] }] }),
  );
  assert.equal(s.addressType, 'FQDN');
  assert.deepEqual(s.endpoints[0]?.addresses, ['db.example.com']);
  assert.deepEqual(s.ports, [{ name: '', protocol: 'TCP' }]);
  assert.deepEqual(
    fails(slice({ addressType: 'FQDN', endpoints: [{ addresses: ['localhost'] }] })),
    [[INVALID_FIELD, 'endpoints[0].addresses[0]']],
  );
});

test('EndpointSlice: addresses match the addressType and are routable', () => {
  assert.deepEqual(fails(slice({ endpoints: [] })), [[MISSING_FIELD, 'addressType']]);
  assert.deepEqual(fails(slice({ addressType: 'IP', endpoints: [] })), [
    [INVALID_FIELD, 'addressType'],
  ]);
  assert.deepEqual(fails(slice({ addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }] })), [
    [INVALID_FIELD, 'endpoints[0].addresses[0]'],
  ]);
  assert.deepEqual(
    fails(slice({ addressType: 'IPv6', endpoints: [{ addresses: ['10.0.0.1'] }] })),
    [[INVALID_FIELD, 'endpoints[0].addresses[0]']],
  );
  assert.deepEqual(
    fails(slice({ addressType: 'IPv4', endpoints: [{ addresses: ['127.0.0.1'] }] })),
    [[INVALID_FIELD, 'endpoints[0].addresses[0]']],
  );
  assert.deepEqual(fails(slice({ addressType: 'IPv4', endpoints: [{ addresses: [] }] })), [
    [MISSING_FIELD, 'endpoints[0].addresses'],
  ]);
  assert.deepEqual(fails(slice({ addressType: 'IPv4', endpoints: [{ conditions: {} }] })), [
    [MISSING_FIELD, 'endpoints[0].addresses'],
  ]);
  const many = Array.from({ length: 101 }, (_, i) => `10.0.${i >> 8}.${(i & 255) + 1}`);
  assert.deepEqual(fails(slice({ addressType: 'IPv4', endpoints: [{ addresses: many }] })), [
    [INVALID_FIELD, 'endpoints[0].addresses'],
  ]);
  const endpoints = Array.from({ length: 1001 }, (_, i) => ({
    addresses: [`10.1.${i >> 8}.${i & 255}`],
  }));
  assert.deepEqual(fails(slice({ addressType: 'IPv4', endpoints })), [
    [INVALID_FIELD, 'endpoints'],
  ]);
});

test('EndpointSlice: conditions are booleans, hints at most 8 and unique, names valid', () => {
  const one = (endpoint: Record<string, unknown>) =>
    slice({ addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], ...endpoint }] });
  assert.deepEqual(fails(one({ conditions: { ready: 'yes' } })), [
    [INVALID_FIELD, 'endpoints[0].conditions.ready'],
  ]);
  assert.deepEqual(fails(one({ conditions: { healthy: true } })), [
    [UNKNOWN_FIELD, 'endpoints[0].conditions.healthy'],
  ]);
  const zones = Array.from({ length: 9 }, (_, i) => ({ name: `z${i}` }));
  assert.deepEqual(fails(one({ hints: { forZones: zones } })), [
    [INVALID_FIELD, 'endpoints[0].hints.forZones'],
  ]);
  assert.deepEqual(fails(one({ hints: { forZones: [{ name: 'a' }, { name: 'a' }] } })), [
    [INVALID_FIELD, 'endpoints[0].hints.forZones[1].name'],
  ]);
  assert.deepEqual(fails(one({ hints: { forNodes: [{ name: 'Node_1' }] } })), [
    [INVALID_FIELD, 'endpoints[0].hints.forNodes[0].name'],
  ]);
  assert.deepEqual(fails(one({ nodeName: 'Node 1', hostname: 'a.b' })), [
    [INVALID_FIELD, 'endpoints[0].nodeName'],
    [INVALID_FIELD, 'endpoints[0].hostname'],
  ]);
});

test('EndpointSlice: port names are unique DNS labels (the empty name once), protocols known', () => {
  const withPorts = (ports: unknown[]) => slice({ addressType: 'IPv4', ports, endpoints: [] });
  assert.deepEqual(fails(withPorts([{ port: 80 }, { port: 81 }])), [
    [INVALID_FIELD, 'ports[1].name'],
  ]);
  assert.deepEqual(fails(withPorts([{ name: 'HTTP', port: 80 }])), [
    [INVALID_FIELD, 'ports[0].name'],
  ]);
  assert.deepEqual(fails(withPorts([{ name: 'a', port: 80, protocol: 'tcp' }])), [
    [INVALID_FIELD, 'ports[0].protocol'],
  ]);
  assert.deepEqual(fails(withPorts([{ name: 'a', port: 70000 }])), [
    [INVALID_FIELD, 'ports[0].port'],
  ]);
});

function ok(raw: unknown) {
  return parsedAs('EndpointSlice', raw, origin);
}

function fails(raw: unknown): [string, string][] {
  return issueFields(raw, origin);
}
