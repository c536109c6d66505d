import test from 'node:test';
import assert from 'node:assert/strict';
import type { Flow } from '../core/flows/types.js';
import { db, dbService, flow, loadgen, web } from '../testing/flows.js';
import { flowLine, serviceText } from './flow-output.js';

const NOW = new Date(2025, 0, 31, 12, 0, 0).getTime();

test('a flow through a Service names it after its endpoint, compactly', () => {
  const f = flow(NOW, web, db, 'start', { service: dbService });
  assert.equal(
    flowLine(f, NOW),
    '12:00:00.000 node-1 egress  FORWARDED shop/web-7d9f-abcde:40000 -> shop/db:5432 via Service shop/db-svc:pg (10.96.0.20:5432) TCP (no policy applies)',
  );
});

test('other frontends say their kind; a masquerade says the address the endpoint saw', () => {
  const nodePort = {
    ...dbService,
    portName: '',
    frontend: { kind: 'NodePort' as const, ip: '192.168.1.10', port: 30432 },
  };
  const f = flow(NOW, loadgen, db, 'drop', {
    node: 'node-2',
    direction: 'ingress',
    service: nodePort,
    masqueraded: { ip: '192.168.1.10', port: 61000 },
  });
  assert.equal(
    flowLine(f, NOW),
    '12:00:00.000 node-2 ingress DROPPED   tools/loadgen:41000 -> shop/db:5432 via Service shop/db-svc (NodePort 192.168.1.10:30432) masqueraded as 192.168.1.10:61000 TCP (no policy applies)',
  );
  const v6 = {
    ...dbService,
    frontend: { kind: 'ClusterIP' as const, ip: 'fd00:96::20', port: 5432 },
  };
  assert.equal(serviceText(v6), 'shop/db-svc:pg ([fd00:96::20]:5432)');
});

test('a translation by no known Service shows what was addressed; no translation, nothing', () => {
  const f: Flow = {
    ...flow(NOW, web, db, 'start'),
    translatedFrom: { ip: '10.96.0.99', port: 80 },
  };
  assert.match(flowLine(f, NOW), / -> shop\/db:5432 translated from 10\.96\.0\.99:80 TCP /);
  assert.match(flowLine(flow(NOW, web, db, 'start'), NOW), / -> shop\/db:5432 TCP \(/);
});
