import test from 'node:test';
import assert from 'node:assert/strict';
import { podHostname } from './pods.js';

test("a pod's hostname: its name, cut at 63 without a trailing dash or dot; with hostNetwork, its node's", () => {
  const node = { name: 'node-2' };
  assert.equal(podHostname({ name: 'web-0', hostNetwork: false }, node), 'web-0');
  assert.equal(podHostname({ name: 'web-0', hostNetwork: true }, node), 'node-2');
  // 60 letters, then "a-.b-c-d..." — cut at 63 leaves "a-." and the dash and dot go.
  const long = `${'x'.repeat(60)}a-.b-cdefghij`;
  assert.equal(podHostname({ name: long, hostNetwork: false }, node), `${'x'.repeat(60)}a`);
  const exactly63 = 'y'.repeat(63);
  assert.equal(podHostname({ name: exactly63, hostNetwork: false }, node), exactly63);
});
