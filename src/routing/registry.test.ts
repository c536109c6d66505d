import test from 'node:test';
import assert from 'node:assert/strict';
import { isRoutingMode, ROUTING_MODES, routingBackend } from './registry.js';

test('every registered mode makes the backend of that name; others are not modes', () => {
  assert.deepEqual(ROUTING_MODES, ['vxlan', 'host-gw']);
  for (const mode of ROUTING_MODES) assert.equal(routingBackend(mode).name, mode);
  assert.equal(isRoutingMode('bgp'), false);
  assert.equal(isRoutingMode('toString'), false);
});
