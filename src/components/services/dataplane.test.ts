// The Service proxy's sync on the strict fake: full first, partial after a
// change, nothing for an unchanged model; a failure makes the next one full
// (and it is retried on its own); the policy table is never touched and the
// kernel's table never listed; a new agent's first sync replaces the table
// in one transaction with the same rules; after a change, the stale UDP
// conntrack entries are deleted (conntrack is a stand-in recording its
// arguments).
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from '../../core/model/types.js';
import { FakeNft } from '../../nft/fake.js';
import type { NftTableId, NftTransaction } from '../../nft/model.js';
import type { NftRunner } from '../../nft/runner.js';
import { tableText, transactionText } from '../../nft/text.js';
import { fullTransaction } from '../../nft/transactions.js';
import { POD_CIDRS, ProxyOnFake, SERVICE_CIDRS } from '../../testing/service-proxy.js';
import { clusterOf, endpointSlice, node, service } from '../../testing/services.js';
import { ServiceDataplane, type ServiceProxyOptions } from './dataplane.js';
import { SERVICE_TABLE } from './table.js';

const dns = (endpoints: { ip: string; node: string }[]) =>
  clusterOf(
    node('n1', ['192.168.0.1']),
    service('kube-system', 'dns', {
      clusterIP: '10.96.0.10',
      ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }],
    }),
    endpointSlice(
      'kube-system',
      'dns-1',
      'dns',
      [{ name: 'dns', port: 5353, protocol: 'UDP' }],
      endpoints,
    ),
  );
const A = { ip: '10.244.1.5', node: 'n1' };
const B = { ip: '10.244.2.5', node: 'n2' };

/** The fake, refusing the next `failures` transactions as a kernel might, and never listed. */
class Kernel implements NftRunner {
  readonly fake = new FakeNft();
  failures = 0;
  readonly tables: string[] = [];

  async apply(tx: NftTransaction, script: string): Promise<void> {
    this.tables.push(`${tx.table.family} ${tx.table.name}`);
    if (this.failures > 0) {
      this.failures--;
      throw new Error('nft: refused (a test)');
    }
    await this.fake.apply(tx, script);
  }

  list(_t: NftTableId): Promise<string> {
    throw new Error("the proxy listed the kernel's table");
  }
}

function dataplane(k: Kernel, state: { cluster: Cluster }, o: Partial<ServiceProxyOptions> = {}) {
  const lines: string[] = [];
  const dp = new ServiceDataplane(
    k,
    'n1',
    () => state.cluster,
    (l) => lines.push(l),
    {
      serviceCidrs: SERVICE_CIDRS,
      podCidrs: () => POD_CIDRS,
      conntrack: false,
      ...o,
    },
  );
  return { dp, lines };
}

test('full, then partial, then nothing for the same Services; the policy table is never touched', async () => {
  const k = new Kernel();
  // weft's policy table is there too: the proxy's syncs leave it as it is.
  const policy = {
    family: 'inet',
    name: 'weft',
    sets: new Map(),
    maps: new Map(),
    chains: new Map(),
  } as const;
  const ptx = fullTransaction(policy);
  await k.fake.apply(ptx, transactionText(ptx));
  const held = k.fake.dump(policy);
  const state = { cluster: dns([A]) };
  const { dp } = dataplane(k, state);
  assert.equal((await dp.sync()).kind, 'full');
  state.cluster = dns([A, B]);
  assert.equal((await dp.sync()).kind, 'partial');
  state.cluster = dns([A, B]);
  assert.equal((await dp.sync()).kind, 'noop');
  assert.equal(k.fake.dump(policy), held);
  assert.deepEqual(new Set(k.tables), new Set(['inet weft-services']));
  // Chains: 5 base, services, service_checks, the port's plan and selection, 2 endpoints.
  // Rules: 1 + 1 + 1 + 1 + 3 base; services 4 lookups; checks 2 × 2 refusals and 2 range drops;
  // the port's 2 + 1, the endpoints' 2 × 2.
  assert.deepEqual(dp.status().counts, {
    ports: 1,
    frontends: 1,
    endpoints: 2,
    chains: 11,
    rules: 24,
  });
  assert.equal(dp.status().table, 'inet weft-services');
});

test('a failed sync makes the next one full, and it comes on its own a second later', async () => {
  const k = new Kernel();
  const state = { cluster: dns([A]) };
  const { dp, lines } = dataplane(k, state);
  await dp.sync();
  k.failures = 1;
  state.cluster = dns([A, B]);
  await assert.rejects(dp.sync(), /refused \(a test\)/);
  assert.match(dp.status().lastSync?.error ?? '', /refused/);
  assert.ok(lines.some((l) => /sync failed, retrying in 1000 ms with a full sync/.test(l)));
  // The retry: full, and the kernel holds the new Services.
  await new Promise((r) => setTimeout(r, 1300));
  assert.equal(dp.status().lastSync?.kind, 'full');
  assert.equal(dp.status().lastSync?.error, undefined);
  assert.match(await k.fake.list(SERVICE_TABLE), /dnat ip to 10\.244\.2\.5:5353/);
});

test("a new agent's first sync replaces the table in one transaction, with the same rules", async () => {
  const k = new Kernel();
  const state = { cluster: dns([A, B]) };
  await dataplane(k, state).dp.sync();
  const before = await k.fake.list(SERVICE_TABLE);
  const scripts = k.fake.scripts.length;
  // The agent restarts: a new dataplane, the kernel's table as the old one left it.
  assert.equal((await dataplane(k, state).dp.sync()).kind, 'full');
  assert.equal(k.fake.scripts.length, scripts + 1);
  assert.match(
    k.fake.scripts.at(-1) ?? '',
    /^add table inet weft-services\ndelete table inet weft-services\ntable inet weft-services \{/,
  );
  assert.equal(await k.fake.list(SERVICE_TABLE), before);
  // The same rules as a proxy on its own renders for the same cluster.
  const alone = new ProxyOnFake('n1', ['192.168.0.1']);
  await alone.sync(state.cluster);
  assert.equal(tableText(alone.table ?? assert.fail()), before);
});

test('after a change, the stale UDP conntrack entries of the endpoint that left are deleted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-conntrack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const calls = join(dir, 'calls');
  const conntrack = join(dir, 'conntrack');
  writeFileSync(
    conntrack,
    `#!/bin/sh\necho "$@" >> ${calls}\necho "conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted." >&2\n`,
  );
  chmodSync(conntrack, 0o755);
  const k = new Kernel();
  const state = { cluster: dns([A, B]) };
  const { dp } = dataplane(k, state, { conntrack: { conntrack } });
  await dp.sync();
  // The first sync has nothing to compare with: nothing is deleted.
  assert.throws(() => readFileSync(calls, 'utf8'));
  state.cluster = dns([A]);
  await dp.sync();
  assert.equal(
    readFileSync(calls, 'utf8'),
    '-D -f ipv4 -p udp --orig-dst 10.96.0.10 --orig-port-dst 53 --reply-src 10.244.2.5 --reply-port-src 5353\n',
  );
});
