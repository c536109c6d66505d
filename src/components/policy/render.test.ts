// The renderer's output for the golden clusters is kept in test/golden/*.nft
// (review the diff; WEFT_UPDATE_GOLDEN=1 rewrites), and for random clusters
// it always passes the strict validation the kernel would apply.
import test from 'node:test';
import { ruleText } from '../../nft/text.js';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadManifests } from '../../sources/manifests/load.js';
import { withDefaultAddresses } from '../../core/model/addresses.js';
import { podKey } from '../../core/model/types.js';
import { compilePolicies } from '../../core/policy/compile.js';
import { clusterFrom } from '../../testing/policy.js';
import { randomCluster } from '../../testing/random-cluster.js';
import { repoRoot } from '../../testing/paths.js';
import { renderTable } from './render.js';
import { tableText } from '../../nft/text.js';
import { validateTable } from '../../nft/validate.js';

const golden = join(repoRoot(), 'test/golden');

for (const name of readdirSync(golden, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)) {
  test(`golden nft: ${name}`, async () => {
    const cluster = withDefaultAddresses(
      (await loadManifests([join(golden, name)])).cluster,
    ).cluster;
    const table = renderTable(compilePolicies(cluster), new Set(cluster.pods.map(podKey)));
    assert.deepEqual(validateTable(table), []);
    const text = tableText(table);
    const file = join(golden, `${name}.nft`);
    if (process.env['WEFT_UPDATE_GOLDEN'] === '1') writeFileSync(file, text);
    assert.ok(existsSync(file), `${file} is missing: run with WEFT_UPDATE_GOLDEN=1`);
    assert.equal(text, readFileSync(file, 'utf8'));
  });
}

test('every rule and chain carries a comment; random clusters render valid tables', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const cluster = clusterFrom(randomCluster({ seed, pods: 6, policies: 4, clusterPolicies: 2 }));
    const table = renderTable(compilePolicies(cluster), new Set(cluster.pods.map(podKey)));
    assert.deepEqual(validateTable(table), [], `seed ${seed}`);
    for (const c of table.chains.values()) {
      assert.ok(c.comment.length > 0, `chain ${c.name} has a comment`);
      for (const r of c.rules)
        assert.ok(r.comment.length > 0, `rule in ${c.name} has a comment: ${ruleText(r)}`);
    }
  }
});
