import test from 'node:test';
import assert from 'node:assert/strict';
import type { Cluster } from '../../core/model/types.js';
import { FakeNft } from '../../nft/fake.js';
import { clusterFrom, docs, namespace, pod } from '../../testing/policy.js';
import { PolicyDataplane, type LocalEndpoint } from './dataplane.js';

const policy = (from: string) =>
  JSON.stringify({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'shop', name: 'web' },
    spec: {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: from } } }] }],
    },
  });

const record = (name: string, address: string): LocalEndpoint => ({
  addresses: [address],
  pod: { namespace: 'shop', name },
});

function world(from: string): Cluster {
  return clusterFrom(
    docs(
      namespace('shop'),
      pod('shop', 'web', { app: 'web' }, { node: 'node-1' }),
      pod('shop', 'api', { app: 'api' }, { node: 'node-1' }),
      pod('shop', 'db', { app: 'db' }, { node: 'node-2', ip: '10.244.2.5' }),
      policy(from),
    ),
  );
}

const generationOf = (script: string) =>
  /ct mark & 0xffff0000 == (0x[0-9a-f]+) accept/.exec(script)?.[1];

/** node-1's dataplane, with web and api as its endpoints, in the cluster `cluster()` gives. */
function node1(runner: FakeNft, cluster: () => Cluster): PolicyDataplane {
  const endpoints = [record('web', '10.244.1.2/32'), record('api', '10.244.1.3/32')];
  return new PolicyDataplane(
    runner,
    'node-1',
    () => ({ cluster: cluster(), endpoints }),
    () => undefined,
  );
}

test('a sync with nothing new is a noop: no nft run, no new generation', async () => {
  const runner = new FakeNft();
  let cluster = world('api');
  const dp = node1(runner, () => cluster);

  assert.equal((await dp.sync()).kind, 'full');
  const first = generationOf(runner.scripts[0] ?? '');
  assert.ok(first, 'the full sync sets a generation');
  assert.equal((await dp.sync()).kind, 'noop');
  // The same content as new objects (a reloaded source) changes nothing either.
  cluster = world('api');
  assert.equal((await dp.sync()).kind, 'noop');
  assert.equal(runner.scripts.length, 1);

  cluster = world('db');
  assert.equal((await dp.sync()).kind, 'partial');
  assert.equal(runner.scripts.length, 2);
  const second = generationOf(runner.scripts[1] ?? '');
  assert.ok(second && second !== first, `a change starts a new generation (${first} → ${second})`);
  assert.match(
    runner.scripts[1] ?? '',
    /add element inet weft peers_\w+_pods_app_db_in_namespace_shop_4 \{ 10\.244\.2\.5 \}/,
  );
});

test('the table in the kernel lets through what the policy allows, and drops the rest', async () => {
  const runner = new FakeNft();
  let cluster = world('api');
  const dp = node1(runner, () => cluster);
  const first = (saddr: string, daddr: string) =>
    runner.trace('forward', {
      family: 4,
      saddr,
      daddr,
      l4proto: 'tcp',
      sport: 40000,
      dport: 80,
      ct: { state: 'new', direction: 'original' },
    }).verdict;
  const [web, api, db] = ['10.244.1.2', '10.244.1.3', '10.244.2.5'];
  await dp.sync();
  assert.deepEqual([first(api, web), first(db, web), first(web, db)], ['accept', 'drop', 'accept']);
  cluster = world('db');
  await dp.sync();
  assert.deepEqual(
    [first(api, web), first(db, web), first(web, api)],
    ['drop', 'accept', 'accept'],
  );
});
