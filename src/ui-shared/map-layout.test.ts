import test from 'node:test';
import assert from 'node:assert/strict';
import { buildServiceMap } from '../core/flows/service-map.js';
import type { FlowEndpoint } from '../core/flows/types.js';
import { db, dbService, flow, loadgen, web } from '../testing/flows.js';
import { layoutServiceMap, LAYOUT, OUTSIDE_COLUMN, servicesColumn } from './map-layout.js';

test('layout: a column per namespace in name order, hosts and world last, rows by name', () => {
  const host: FlowEndpoint = { kind: 'host', ip: '192.168.220.11', node: 'node-1' };
  const map = buildServiceMap([
    flow(1, web, db, 'start'),
    flow(2, loadgen, db, 'start'),
    flow(3, host, loadgen, 'start'),
  ]);
  const l = layoutServiceMap(map);
  assert.deepEqual(
    l.columns.map((c) => c.title),
    ['shop', 'tools', OUTSIDE_COLUMN],
  );
  const at = (id: string) => l.nodes.find((n) => n.id === id);
  assert.deepEqual([at('shop/app=db')?.x, at('shop/app=db')?.y], [LAYOUT.left, LAYOUT.top]);
  assert.deepEqual(
    [at('shop/Deployment/web')?.x, at('shop/Deployment/web')?.y],
    [LAYOUT.left, LAYOUT.top + LAYOUT.rowHeight],
  );
  assert.equal(at('tools/pod/loadgen')?.x, LAYOUT.left + LAYOUT.columnWidth);
  assert.equal(at('host/node-1')?.x, LAYOUT.left + 2 * LAYOUT.columnWidth);
  assert.equal(l.width, 3 * LAYOUT.columnWidth + LAYOUT.left);
  assert.equal(l.height, LAYOUT.top + 2 * LAYOUT.rowHeight);
  assert.deepEqual(layoutServiceMap(map), l, 'the same map lays out the same way');
});

test('layout: a namespace’s Services in a column of their own, right after it', () => {
  const map = buildServiceMap([
    flow(1, loadgen, db, 'start', { service: dbService }),
    flow(2, web, db, 'start'),
  ]);
  const l = layoutServiceMap(map);
  assert.deepEqual(
    l.columns.map((c) => c.title),
    ['shop', servicesColumn('shop'), 'tools'],
  );
  const at = (id: string) => l.nodes.find((n) => n.id === id);
  assert.equal(at('shop/Service/db-svc')?.x, LAYOUT.left + LAYOUT.columnWidth);
  assert.equal(at('shop/Service/db-svc')?.y, LAYOUT.top);
  assert.equal(at('tools/pod/loadgen')?.x, LAYOUT.left + 2 * LAYOUT.columnWidth);
});
