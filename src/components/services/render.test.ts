// The services table of node-1 for the examples (examples/demo.yaml and
// examples/services.yaml) and test/golden/services.yaml is kept in
// test/golden/services.nft (review the diff; WEFT_UPDATE_GOLDEN=1 rewrites
// it). Tables of random clusters pass the strict validation, and every
// chain, rule, set and map names what it is for.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDefaultAddresses } from '../../core/model/addresses.js';
import { buildServiceModel } from '../../core/services/model.js';
import { withServiceDefaults } from '../../core/services/offline.js';
import { ruleText, tableText } from '../../nft/text.js';
import { validateTable } from '../../nft/validate.js';
import { loadManifests } from '../../sources/manifests/load.js';
import { repoRoot } from '../../testing/paths.js';
import { randomServices } from '../../testing/random-services.js';
import { POD_CIDRS, SERVICE_CIDRS } from '../../testing/service-proxy.js';
import { clusterOf } from '../../testing/services.js';
import { renderServiceTable, ServiceRenderer } from './render.js';

const root = repoRoot();

test('golden nft: the services table of node-1 for the examples', async () => {
  const files = ['examples/demo.yaml', 'examples/services.yaml', 'test/golden/services.yaml'];
  const { cluster } = await loadManifests(files.map((f) => join(root, f)));
  const c = withServiceDefaults(withDefaultAddresses(cluster).cluster).cluster;
  const table = renderServiceTable(buildServiceModel(c, 'node-1'), {
    podCidrs: c.nodes.flatMap((n) => n.podCidrs),
    serviceCidrs: SERVICE_CIDRS,
  });
  assert.deepEqual(validateTable(table), []);
  const text = tableText(table);
  const file = join(root, 'test/golden/services.nft');
  if (process.env['WEFT_UPDATE_GOLDEN'] === '1') writeFileSync(file, text);
  assert.ok(existsSync(file), `${file} is missing: run with WEFT_UPDATE_GOLDEN=1`);
  assert.equal(text, readFileSync(file, 'utf8'));
});

test('random clusters: valid tables; every chain, rule, set and map says what it is for', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const c = clusterOf(...randomServices(seed, 5));
    const model = buildServiceModel(c, 'n1');
    const table = renderServiceTable(model, { podCidrs: POD_CIDRS, serviceCidrs: SERVICE_CIDRS });
    assert.deepEqual(validateTable(table), [], `seed ${seed}`);
    const ids = model.ports.map((p) => p.id);
    const shared = new Set([
      'services',
      'service_checks',
      'nat_prerouting',
      'nat_output',
      'nat_postrouting',
      'filter_prerouting',
      'filter_output',
    ]);
    for (const x of [...table.sets.values(), ...table.maps.values()])
      assert.ok(x.comment.length > 0, `set or map ${x.name} has a comment`);
    for (const c of table.chains.values()) {
      assert.ok(c.comment.length > 0, `chain ${c.name} has a comment`);
      // A Service port's chains name it, in the chain and in every rule.
      const own = ids.find((id) => c.comment.startsWith(`${id} `));
      assert.ok(own !== undefined || shared.has(c.name), `chain ${c.name}: ${c.comment}`);
      for (const r of c.rules) {
        assert.ok(r.comment.length > 0, `rule in ${c.name} has a comment: ${ruleText(r)}`);
        if (own) assert.ok(r.comment.startsWith(own), `${c.name}: ${r.comment}`);
      }
    }
  }
});

test('a renderer keeps the objects of unchanged Service ports; a changed one is new', () => {
  const renderer = new ServiceRenderer();
  const options = { podCidrs: POD_CIDRS, serviceCidrs: SERVICE_CIDRS };
  const raws = randomServices(3, 4);
  const before = renderer.render(buildServiceModel(clusterOf(...raws), 'n1'), options).table;
  // One more Service: every chain of the others is the same object.
  const after = renderer.render(
    buildServiceModel(clusterOf(...raws, ...randomServices(4, 5).slice(-2)), 'n1'),
    options,
  ).table;
  for (const [name, chain] of before.chains) assert.equal(after.chains.get(name), chain, name);
});

test('two Service ports on one frontend: the first keeps it, the conflict is reported', () => {
  const raws = randomServices(5, 2);
  const c = clusterOf(...raws);
  const [first, second] = c.services;
  assert.ok(first && second);
  const clash = {
    ...c,
    services: [first, { ...second, clusterIps: first.clusterIps, ports: first.ports }],
  };
  const { conflicts } = new ServiceRenderer().render(buildServiceModel(clash, 'n1'), {
    podCidrs: POD_CIDRS,
    serviceCidrs: SERVICE_CIDRS,
  });
  assert.ok(conflicts.length > 0);
  assert.ok(
    conflicts.every((x) => x.kept.startsWith('shop/s0:') && x.dropped.startsWith('shop/s1:')),
  );
});
