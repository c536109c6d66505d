import test from 'node:test';
import assert from 'node:assert/strict';
import { buildServiceMap, endpointNodeRef, podNodeRef } from './service-map.js';
import type { DecidedBy, FlowEndpoint } from './types.js';
import { db, dbService, flow, loadgen, web } from '../../testing/flows.js';

const denyDb: DecidedBy = {
  kind: 'isolation',
  isolatedBy: [{ kind: 'NetworkPolicy', namespace: 'shop', name: 'db-only-api' }],
};

test('pods group by owner (a ReplicaSet as its Deployment), else app label, else themselves', () => {
  assert.deepEqual(podNodeRef(web as Extract<FlowEndpoint, { kind: 'pod' }>), {
    id: 'shop/Deployment/web',
    kind: 'workload',
    namespace: 'shop',
    name: 'web',
    group: 'Deployment web',
  });
  assert.equal(endpointNodeRef(db).id, 'shop/app=db');
  assert.equal(endpointNodeRef(loadgen).id, 'tools/pod/loadgen');
  const rsNoHash = podNodeRef({
    namespace: 'a',
    pod: 'x',
    labels: {},
    workload: { kind: 'StatefulSet', name: 'pg' },
  });
  assert.equal(rsNoHash.id, 'a/StatefulSet/pg');
  assert.equal(
    endpointNodeRef({ kind: 'host', ip: '192.168.220.11', node: 'node-1' }).id,
    'host/node-1',
  );
  assert.equal(endpointNodeRef({ kind: 'world', ip: '8.8.8.8' }).id, 'world');
});

test('the two nodes\u2019 records of one connection count once; a retransmitted drop once per 5 s', () => {
  const map = buildServiceMap([
    flow(1000, web, db, 'start', { direction: 'egress' }),
    flow(1001, web, db, 'start', { direction: 'ingress' }),
    flow(2000, loadgen, db, 'drop', { decidedBy: denyDb }),
    flow(3000, loadgen, db, 'drop', { decidedBy: denyDb }),
    flow(8000, loadgen, db, 'drop', { decidedBy: denyDb }),
  ]);
  const edge = (id: string) => map.edges.find((e) => e.id === id);
  const webDb = edge('shop/Deployment/web->shop/app=db');
  assert.equal(webDb?.forwarded, 1);
  assert.equal(webDb?.dropped, 0);
  assert.equal(webDb?.verdict, 'forwarded');
  assert.deepEqual(webDb?.ports, [{ protocol: 'TCP', port: 5432, forwarded: 1, dropped: 0 }]);
  const lgDb = edge('tools/pod/loadgen->shop/app=db');
  assert.equal(lgDb?.dropped, 2);
  assert.equal(lgDb?.verdict, 'dropped');
  assert.deepEqual(lgDb?.policies, [
    { kind: 'NetworkPolicy', namespace: 'shop', name: 'db-only-api' },
  ]);
  assert.deepEqual(
    map.nodes.map((n) => [n.id, n.pods]),
    [
      ['shop/Deployment/web', ['shop/web-7d9f-abcde']],
      ['shop/app=db', ['shop/db']],
      ['tools/pod/loadgen', ['tools/loadgen']],
    ],
  );
});

test('a start let out by the source node and dropped by the destination node is a drop', () => {
  const map = buildServiceMap([
    flow(1000, loadgen, db, 'drop', { direction: 'ingress', decidedBy: denyDb }),
    flow(1000, loadgen, db, 'start', { direction: 'egress' }),
    flow(1200, loadgen, db, 'start', { direction: 'egress' }),
  ]);
  const [e] = map.edges;
  assert.equal(e?.verdict, 'dropped');
  assert.equal(e?.forwarded, 0);
  assert.equal(e?.dropped, 1);
  assert.deepEqual(e?.decidedBy, denyDb);
  const later = buildServiceMap([
    flow(1000, loadgen, db, 'drop', { decidedBy: denyDb }),
    flow(7000, loadgen, db, 'start'),
  ]);
  assert.equal(
    later.edges[0]?.verdict,
    'forwarded',
    'a start 6 s after the drop is a new connection',
  );
});

test('a start dropped elsewhere whose drop the other node named differently makes no edge of its own', () => {
  // The destination's node did not know the source pod yet: an address.
  const asAddress: FlowEndpoint = { kind: 'world', ip: loadgen.ip, port: 41000 };
  const map = buildServiceMap([
    flow(1000, asAddress, db, 'drop', { direction: 'ingress', decidedBy: denyDb }),
    flow(1000, loadgen, db, 'start', { direction: 'egress' }),
  ]);
  assert.deepEqual(
    map.edges.map((e) => [e.id, e.verdict, e.dropped]),
    [[`world->shop/app=db`, 'dropped', 1]],
  );
});

test('an edge takes the verdict of its latest start or drop, not of a late end', () => {
  const map = buildServiceMap([
    flow(5000, { ...web, port: 40001 }, db, 'drop', { decidedBy: denyDb }),
    flow(1000, web, db, 'start'),
    flow(9000, web, db, 'end', { bytes: 100 }),
  ]);
  const [e] = map.edges;
  assert.equal(e?.verdict, 'dropped');
  assert.equal(e?.lastSeen, 5000);
  assert.deepEqual(e?.decidedBy, denyDb);
  assert.equal(e?.bytes, 200);
  assert.equal(e?.forwarded, 1, 'the end of a connection whose start was seen adds no count');
});

test('the end of a connection whose start is outside the flows counts it', () => {
  const map = buildServiceMap([flow(9000, web, db, 'end', { bytes: 10 })]);
  assert.equal(map.edges[0]?.forwarded, 1);
  assert.equal(map.edges[0]?.verdict, 'forwarded');
});

test('ports are listed by protocol then port, with counts of each verdict', () => {
  const db80: FlowEndpoint = { ...db, port: 80 };
  const map = buildServiceMap([
    flow(1000, web, db, 'start'),
    flow(1000, web, db80, 'drop', { decidedBy: denyDb }),
    flow(1500, { ...web, port: 40001 }, db80, 'start'),
  ]);
  assert.deepEqual(map.edges[0]?.ports, [
    { protocol: 'TCP', port: 80, forwarded: 1, dropped: 1 },
    { protocol: 'TCP', port: 5432, forwarded: 1, dropped: 0 },
  ]);
});

test('through a Service: client -> Service -> endpoint, each edge on its own port, both nodes once', () => {
  const svc = { ...dbService, frontend: { ...dbService.frontend, port: 80 } };
  const nodePort = {
    ...dbService,
    frontend: { kind: 'NodePort' as const, ip: '192.168.1.10', port: 30432 },
  };
  const masq = { ip: '192.168.1.10', port: 61000 };
  const node1Ip: FlowEndpoint = { kind: 'host', ip: '192.168.1.10', port: 61000, node: 'node-1' };
  const map = buildServiceMap([
    // web through the ClusterIP: node-1 translated it; node-2 saw it arrive at db (joined here).
    flow(1000, web, db, 'start', { service: svc }),
    flow(1000, web, db, 'start', { node: 'node-2', direction: 'ingress' }),
    flow(20_000, web, db, 'end', { service: svc, bytes: 50 }),
    // loadgen through node-1's node port, masqueraded; node-2 drops what it sees.
    flow(2000, loadgen, db, 'start', { service: nodePort, masqueraded: masq }),
    flow(2000, node1Ip, db, 'drop', { node: 'node-2', direction: 'ingress', decidedBy: denyDb }),
  ]);
  assert.deepEqual(
    map.nodes.map((n) => [n.id, n.kind, n.group, n.pods]),
    [
      ['shop/Deployment/web', 'workload', 'Deployment web', ['shop/web-7d9f-abcde']],
      ['shop/Service/db-svc', 'service', 'Service', ['shop/db']],
      ['shop/app=db', 'workload', 'app=db', ['shop/db']],
      ['tools/pod/loadgen', 'pod', 'pod', ['tools/loadgen']],
    ].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
  );
  const service = map.nodes.find((n) => n.kind === 'service');
  assert.deepEqual(service?.frontends, [
    { kind: 'ClusterIP', ip: '10.96.0.20', port: 80, protocol: 'TCP', portName: 'pg' },
    { kind: 'NodePort', ip: '192.168.1.10', port: 30432, protocol: 'TCP', portName: 'pg' },
  ]);
  assert.deepEqual(
    map.edges.map((e) => [e.id, e.ports, e.forwarded, e.dropped, e.verdict, e.bytes]),
    [
      [
        'shop/Deployment/web->shop/Service/db-svc',
        [{ protocol: 'TCP', port: 80, forwarded: 1, dropped: 0 }],
        1,
        0,
        'forwarded',
        100,
      ],
      [
        'shop/Service/db-svc->shop/app=db',
        [{ protocol: 'TCP', port: 5432, forwarded: 1, dropped: 1 }],
        1,
        1,
        'dropped',
        100,
      ],
      [
        'tools/pod/loadgen->shop/Service/db-svc',
        [{ protocol: 'TCP', port: 30432, forwarded: 0, dropped: 1 }],
        0,
        1,
        'dropped',
        0,
      ],
    ],
  );
  assert.deepEqual(map.edges[2]?.policies, [
    { kind: 'NetworkPolicy', namespace: 'shop', name: 'db-only-api' },
  ]);
  assert.ok(
    map.edges.every((e) => !e.id.startsWith('host/')),
    'the masqueraded address is not drawn as a client of its own',
  );
});
