import test from 'node:test';
import assert from 'node:assert/strict';
import { clusterFrom } from '../../testing/policy.js';
import { RANDOM_PORTS, randomCluster } from '../../testing/random-cluster.js';
import { podKey } from '../model/types.js';
import { compilePolicies } from './compile.js';
import { Evaluator } from './evaluate.js';
import { policyMatrix } from './matrix-report.js';

// The bitset matrix is the evaluator run for all peers at once; it must say
// exactly what a trace of each pair says, on every kind of policy.
test('matrix equals a trace of every pair, on 150 random clusters', () => {
  let allowed = 0;
  let denied = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const cluster = clusterFrom(randomCluster({ seed, pods: 7, policies: 4, clusterPolicies: 2 }));
    const ir = compilePolicies(cluster);
    const ev = new Evaluator(ir);
    const probes = RANDOM_PORTS.map((p) => ({ port: p.port, protocol: p.protocol }));
    const m = policyMatrix(cluster, ir, probes);
    for (const { probe, allowed: ok } of m.probes) {
      cluster.pods.forEach((from, i) => {
        cluster.pods.forEach((to, j) => {
          const src = from.ips[0];
          const dst = to.ips[0];
          if (!src || !dst) throw new Error('pods have addresses');
          const t = ev.trace({ src, dst, protocol: probe.protocol, port: probe.port });
          assert.equal(
            ok(i, j),
            t.allowed,
            `seed ${seed} ${podKey(from)} -> ${podKey(to)} ${probe.port}/${probe.protocol}`,
          );
          if (t.allowed) allowed++;
          else denied++;
        });
      });
    }
  }
  // The generator must exercise both outcomes substantially, or this test proves little.
  assert.ok(allowed > 1000 && denied > 1000, `allowed ${allowed}, denied ${denied}`);
});
