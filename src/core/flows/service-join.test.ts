import test from 'node:test';
import assert from 'node:assert/strict';
import { db, dbService, flow, loadgen, web } from '../../testing/flows.js';
import { deliveredKey, JOIN_MS, joinServices, ServiceJoin } from './service-join.js';
import type { Flow, FlowEndpoint } from './types.js';

const node2 = { kind: 'host', ip: '192.168.1.10', port: 61000, node: 'node-1' } as const;

test('the key is the connection as its endpoint saw it: after masquerade', () => {
  const plain = flow(1000, web, db, 'start');
  assert.equal(deliveredKey(plain), 'TCP|10.244.1.2|40000|10.244.2.3|5432|');
  const masq = flow(1000, loadgen, db, 'start', {
    service: dbService,
    masqueraded: { ip: '192.168.1.10', port: 61000 },
  });
  assert.equal(deliveredKey(masq), 'TCP|192.168.1.10|61000|10.244.2.3|5432|');
});

test("a list: the endpoint's node's flows get the Service of the one its client's node translated", () => {
  const out = flow(1000, web, db, 'start', { service: dbService });
  const into = flow(1001, web, db, 'start', { node: 'node-2', direction: 'ingress' });
  const drop = flow(2000, web, db, 'drop', { node: 'node-2', direction: 'ingress' });
  const end = flow(30_000, web, db, 'end', { node: 'node-2', direction: 'ingress' });
  const other = flow(1001, { ...web, port: 40001 }, db, 'start', { node: 'node-2' });
  // In any order, and the answer in the order given.
  const joined = joinServices([into, drop, other, end, out]);
  assert.deepEqual(joined, [
    { ...into, service: dbService },
    { ...drop, service: dbService },
    other,
    { ...end, service: dbService },
    out,
  ]);
  const late = flow(1000 + JOIN_MS + 1, web, db, 'end', { node: 'node-2' });
  assert.equal(joinServices([out, late])[1]?.service, undefined, 'past JOIN_MS: not joined');
});

test('masqueraded on the way: the endpoint node’s flow names the client and the address it saw', () => {
  const out = flow(1000, loadgen, db, 'start', {
    service: dbService,
    masqueraded: { ip: '192.168.1.10', port: 61000 },
  });
  const into = flow(1000.5, node2, db, 'drop', { node: 'node-2', direction: 'ingress' });
  const [joined] = joinServices([into, out]);
  assert.deepEqual(joined, {
    ...into,
    source: loadgen,
    service: dbService,
    masqueraded: { ip: '192.168.1.10', port: 61000 },
  });
});

test('a flow that names another translation is left as it is', () => {
  const out = flow(1000, web, db, 'start', { service: dbService });
  const elsewhere: Flow = {
    ...flow(1000, web, db, 'start', { node: 'node-2' }),
    translatedFrom: { ip: '10.0.0.1', port: 5432 },
  };
  assert.deepEqual(joinServices([out, elsewhere])[1], elsewhere);
  const none = [flow(1, web, db, 'start'), flow(2, loadgen, db, 'drop')];
  assert.deepEqual(joinServices(none), none);
});

test('live: a batch is named from earlier batches and from the flows still held back', () => {
  const join = new ServiceJoin();
  const out = flow(1000, web, db, 'start', { service: dbService });
  // node-2's clock is a little behind: its flow is released before node-1's.
  const into = flow(999, web, db, 'start', { node: 'node-2', direction: 'ingress' });
  assert.deepEqual(join.release([into], [out]), [{ ...into, service: dbService }]);
  assert.deepEqual(join.release([out]), [out]);
  const drop = flow(2000, web, db, 'drop', { node: 'node-2', direction: 'ingress' });
  assert.deepEqual(join.release([drop]), [{ ...drop, service: dbService }], 'remembered');
  assert.equal(join.size, 1);
  // Past JOIN_MS of the newest flow the connection is forgotten.
  const later: FlowEndpoint = { ...loadgen, port: 50000 };
  join.release([flow(1000 + JOIN_MS + 1, later, db, 'start')]);
  assert.equal(join.size, 0);
  assert.deepEqual(join.release([drop]), [drop]);
});
