import test from 'node:test';
import assert from 'node:assert/strict';
import { buildServiceMap, endpointNodeRef, podNodeRef } from './service-map.js';
import type { DecidedBy, FlowEndpoint } from './types.js';
import { db, flow, loadgen, web } from '../../testing/flows.js';

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
