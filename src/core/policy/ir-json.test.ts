import test from 'node:test';
import assert from 'node:assert/strict';
import { clusterFrom } from '../../testing/policy.js';
import { randomCluster } from '../../testing/random-cluster.js';
import { compilePolicies } from './compile.js';
import { formatIr } from './ir-text.js';
import { irFromJson, irToJson } from './ir-json.js';

test('the IR survives JSON: decode(encode(ir)) prints exactly as ir', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const ir = compilePolicies(
      clusterFrom(randomCluster({ seed, pods: 6, policies: 4, clusterPolicies: 2 })),
    );
    const back = irFromJson(JSON.parse(JSON.stringify(irToJson(ir))));
    assert.equal(formatIr(back), formatIr(ir), `seed ${seed}`);
  }
});
