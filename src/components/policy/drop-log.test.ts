import test from 'node:test';
import { ruleText } from '../../nft/text.js';
import assert from 'node:assert/strict';
import { podKey } from '../../core/model/types.js';
import { compilePolicies } from '../../core/policy/compile.js';
import { clusterFrom } from '../../testing/policy.js';
import { randomCluster } from '../../testing/random-cluster.js';
import { dropLogPrefix, endpointTag, parseDropLogPrefix } from './drop-log.js';
import { renderTable } from './render.js';
import { validateTable } from '../../nft/validate.js';

const LOG = { group: 7, ratePerSecond: 50 };

test('a drop log prefix reads back as the endpoint, direction and reason it was written for', () => {
  for (const d of ['ingress', 'egress'] as const)
    for (const r of ['admin', 'isolated', 'baseline'] as const) {
      const prefix = dropLogPrefix('shop/web-7f9c', d, r);
      assert.ok(Buffer.byteLength(prefix) < 64, prefix);
      assert.deepEqual(parseDropLogPrefix(prefix), {
        tag: endpointTag('shop/web-7f9c'),
        direction: d,
        reason: r,
      });
      // NFLOG pads the prefix with NULs.
      assert.deepEqual(parseDropLogPrefix(`${prefix}\0\0`), parseDropLogPrefix(prefix));
    }
  assert.equal(parseDropLogPrefix('weft drop x 0123456789ab n'), undefined);
  assert.equal(parseDropLogPrefix('other prefix'), undefined);
  assert.notEqual(endpointTag('a/b'), endpointTag('a/c'));
});

test('with drop logging, every drop has a rate-limited log rule with its condition just before it', () => {
  let drops = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const cluster = clusterFrom(randomCluster({ seed, pods: 6, policies: 4, clusterPolicies: 2 }));
    const ir = compilePolicies(cluster);
    const local = new Set(cluster.pods.map(podKey));
    const plain = renderTable(ir, local);
    const logged = renderTable(ir, local, 1, { logDrops: LOG });
    assert.deepEqual(validateTable(logged), [], `seed ${seed}`);
    // What the rate limit refuses is counted: both counters are declared with the log rules.
    assert.deepEqual([...(logged.counters?.keys() ?? [])], ['drop_log_wanted', 'drop_log_sent']);
    assert.equal(plain.counters, undefined, 'no counters without drop logging');
    for (const [name, c] of logged.chains) {
      const without = c.rules.filter((r) => !/ log prefix /.test(ruleText(r)));
      assert.deepEqual(
        without,
        plain.chains.get(name)?.rules,
        `seed ${seed} ${name}: only log rules added`,
      );
      c.rules.forEach((r, i) => {
        if (!/(^| )drop$/.test(ruleText(r))) return;
        drops++;
        const before = c.rules[i - 1];
        const condition = ruleText(r).replace(/ ?drop$/, '');
        const m =
          /^(.*?) ?counter name "drop_log_wanted" limit rate 50\/second burst 100 packets counter name "drop_log_sent" log prefix "([^"]+)" group 7 queue-threshold 1$/.exec(
            before ? ruleText(before) : '',
          );
        assert.ok(
          m,
          `seed ${seed} ${name} rule ${i}: log rule before the drop, got ${before ? ruleText(before) : ''}`,
        );
        assert.equal(m[1], condition);
        const parsed = parseDropLogPrefix(m[2] as string);
        assert.ok(parsed, m[2]);
        assert.equal(c.name.startsWith(parsed.direction === 'ingress' ? 'in_' : 'eg_'), true);
      });
    }
  }
  assert.ok(drops > 30, `saw ${drops} drops`);
});
