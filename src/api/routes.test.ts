import test from 'node:test';
import assert from 'node:assert/strict';
import { encodeCniWireResponse } from '../core/cni/wire.js';
import { parseFlowQuery } from '../core/flows/filter.js';
import { AgentRoutes, flowParams, routeAt } from './routes.js';
import { decodeJson, type Shape } from './shape.js';

// This file pins the public paths.

test('the routes are the public API: method, path and the listeners that serve each', () => {
  const table = Object.fromEntries(
    Object.entries(AgentRoutes).map(([name, r]) => [
      name,
      `${r.method} ${r.path} ${r.listeners.join(',')}`,
    ]),
  );
  assert.deepEqual(table, {
    cni: 'POST /v1/cni unix',
    status: 'GET /v1/status unix,observe',
    healthz: 'GET /healthz unix,health,observe',
    metrics: 'GET /metrics unix,health,observe',
    flows: 'GET /v1/flows unix,observe',
    ir: 'GET /v1/ir unix,observe',
    policy: 'GET /v1/policy unix,observe',
    endpointsPolicy: 'GET /v1/endpoints/policy unix,observe',
    source: 'GET /v1/source unix,observe',
    endpoints: 'GET /v1/endpoints unix',
    ipam: 'GET /v1/ipam unix',
  });
  const query = parseFlowQuery(
    [
      ['verdict', 'dropped'],
      ['pod', 'shop/web'],
    ],
    0,
  );
  assert.equal(flowParams(query).toString(), 'verdict=dropped&pod=shop%2Fweb');
  assert.equal(flowParams(query, true).toString(), 'verdict=dropped&pod=shop%2Fweb&follow=1');
});

test('routeAt finds a route by its method and path', () => {
  assert.equal(routeAt('GET', '/v1/endpoints/policy')?.name, 'endpointsPolicy');
  assert.equal(routeAt('POST', '/v1/cni')?.name, 'cni');
  assert.equal(routeAt('GET', '/v1/cni'), undefined);
  assert.equal(routeAt('POST', '/v1/status'), undefined);
  assert.equal(routeAt('GET', '/v1/nothing'), undefined);
});

function fails<T>(shape: Shape<T>, body: string, problem: RegExp): void {
  const d = decodeJson(body, shape);
  assert.ok(!d.ok, `${body} was accepted`);
  assert.match(d.problem, problem);
}

test('the CNI answer: round trip and validation', () => {
  const shape = AgentRoutes.cni.shape;
  const res = { exitCode: 0, stdout: '{"cniVersion":"1.1.0"}' };
  assert.deepEqual(decodeJson(encodeCniWireResponse(res), shape), { ok: true, value: res });
  fails(shape, '{"exitCode":256,"stdout":""}', /^"exitCode" must be an integer from 0 to 255/);
  fails(shape, '{"exitCode":1.5,"stdout":""}', /exitCode/);
  fails(shape, '{"exitCode":0}', /^"stdout" must be a string, got undefined$/);
  fails(shape, 'nope', /^not JSON \(/);
  fails(shape, '[1]', /^not a JSON object: \[1\]$/);
});

test('the status answer: round trip and validation, the detail where it is', () => {
  const shape = AgentRoutes.status.shape;
  const down = { ready: false, message: 'waiting for the first full sync' };
  assert.deepEqual(decodeJson(JSON.stringify(down), shape), { ok: true, value: down });
  fails(shape, '{"ready":"yes"}', /"ready" must be true or false/);
  fails(shape, '{"ready":false,"message":3}', /"message" must be a string/);
  fails(shape, '{"ready":true,"health":"fine"}', /"health" must be one of "starting", "degraded"/);
  fails(
    shape,
    '{"ready":true,"flows":{"enabled":true,"lost":"x"}}',
    /^"flows.lost" must be a number/,
  );
  fails(shape, '{"ready":true,"lastSync":{"kind":"full","at":"t"}}', /"lastSync.ms" must be/);
  // Flows off: nothing more to check. An older agent's counts may lack the newer ones.
  for (const flows of [{ enabled: false }, { enabled: true, seen: 3, buffered: 3, lost: 0 }])
    assert.ok(decodeJson(JSON.stringify({ ready: true, flows }), shape).ok);
});

test('the flows answer names the flow and field it does not understand', () => {
  const flow = {
    time: 1,
    node: 'n1',
    direction: 'ingress',
    source: { kind: 'world', ip: '10.0.0.1' },
    destination: { kind: 'pod', ip: '10.0.0.2', port: 80 },
    protocol: 'TCP',
    event: 'start',
    verdict: 'forwarded',
    decidedBy: { kind: 'default' },
  };
  const shape = AgentRoutes.flows.shape;
  const answer = (flows: unknown[]) => JSON.stringify({ flows, node: 'n1', lost: 0 });
  assert.ok(decodeJson(answer([flow, flow]), shape).ok);
  fails(shape, answer([flow, { ...flow, time: '1' }]), /^"flows\[1\].time" must be a number/);
  fails(
    shape,
    answer([{ ...flow, source: { kind: 'moon', ip: 'x' } }]),
    /^"flows\[0\].source.kind" must be one of "pod", "host", "world", got "moon"$/,
  );
  fails(shape, JSON.stringify({ node: 'n1', lost: 0 }), /^"flows" must be a JSON array/);
});
