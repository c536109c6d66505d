// The kernel proves the fake for the services table: nft in a fresh network
// namespace and the strict fake take the same services tables (full syncs,
// then partial ones as random clusters change), refuse the same misplaced
// statements, and list the same table; and the tracer's jhash picks what
// the kernel's picks, packet by packet, counted by the kernel's counters.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { buildServiceModel } from '../../src/core/services/model.js';
import { ServiceRenderer } from '../../src/components/services/render.js';
import { rule } from '../../src/nft/build.js';
import { FakeNft } from '../../src/nft/fake.js';
import type {
  NftBaseHook,
  NftChain,
  NftExpr,
  NftTable,
  NftTableId,
  NftTransaction,
} from '../../src/nft/model.js';
import { RealNft } from '../../src/nft/runner.js';
import { transactionText } from '../../src/nft/text.js';
import { trace } from '../../src/nft/trace.js';
import { fullTransaction, partialTransaction } from '../../src/nft/transactions.js';
import { RANDOM_NODES, randomServices } from '../../src/testing/random-services.js';
import { POD_CIDRS, SERVICE_CIDRS } from '../../src/testing/service-proxy.js';
import { clusterOf } from '../../src/testing/services.js';
import { errno, normalize, outcome } from '../support/nft-listing.js';
import { Sandbox } from '../support/sandbox.js';

/** Applies one transaction to the kernel and the fake: the same answer, then the same table. */
async function both(
  kernel: RealNft,
  fake: FakeNft,
  tx: NftTransaction,
  where: string,
): Promise<string> {
  const script = transactionText(tx);
  const byKernel = await outcome(() => kernel.apply(tx, script));
  const byFake = await outcome(() => fake.apply(tx, script));
  const context = `${where}\n${script.slice(0, 1500)}\nkernel: ${byKernel}\nfake: ${byFake}`;
  assert.equal(byFake.split(':')[0], byKernel.split(':')[0], context);
  if (errno(byKernel) !== undefined) assert.equal(errno(byFake), errno(byKernel), context);
  const [k, f] = [normalize(await kernel.list(tx.table)), normalize(await fake.list(tx.table))];
  assert.equal(f, k, `${context}\nthe fake's table differs from the kernel's`);
  return byKernel;
}

async function pair(t: TestContext): Promise<{ kernel: RealNft; fake: FakeNft; sb: Sandbox }> {
  const sb = Sandbox.create(t);
  return { kernel: new RealNft({ netns: await sb.netns('svc') }), fake: new FakeNft(), sb };
}

test('the services tables of random clusters, full and partial, are taken and listed alike', async (t) => {
  const { kernel, fake } = await pair(t);
  const renderer = new ServiceRenderer();
  const options = { podCidrs: POD_CIDRS, serviceCidrs: SERVICE_CIDRS };
  let held: NftTable | undefined;
  const kinds = { full: 0, partial: 0 };
  for (let step = 0; step < 14; step++) {
    // Clusters grow and shrink by a Service on one node or another; every fifth step a new cluster.
    const seed = 1 + Math.floor(step / 5);
    const raws = randomServices(seed * 31, 2 + ((step * 3) % 5));
    const node = RANDOM_NODES[step % 3]?.name ?? 'n1';
    const table = renderer.render(buildServiceModel(clusterOf(...raws), node), options).table;
    const partial = held && step % 5 !== 0 ? partialTransaction(held, table) : undefined;
    kinds[partial ? 'partial' : 'full']++;
    const result = await both(kernel, fake, partial ?? fullTransaction(table), `step ${step}`);
    assert.equal(result, 'applied');
    held = table;
  }
  assert.ok(kinds.partial >= 8, JSON.stringify(kinds));
});

const hook = (type: 'nat' | 'filter', h: NftBaseHook['hook'], priority: string): NftBaseHook => ({
  type,
  hook: h,
  priority,
  policy: 'accept',
});
const chain = (name: string, exprs: NftExpr[][], base?: NftBaseHook): NftChain => ({
  name,
  comment: name,
  rules: exprs.map((e) => rule(e, name)),
  ...(base ? { base } : {}),
});
const tcp: NftExpr = { kind: 'cmp', left: ['meta l4proto'], op: '==', values: ['tcp'] };
const dnat: NftExpr = { kind: 'dnat', family: 'ip', address: '10.244.1.5', port: 8080 };
const reject: NftExpr = { kind: 'reject', with: 'icmpx port-unreachable' };

test('misplaced statements: the kernel and the fake refuse the same ones', async (t) => {
  const { kernel, fake } = await pair(t);
  const id: NftTableId = { family: 'inet', name: 'misplaced' };
  const cases: [string, NftChain[], 'applied' | 'refused'][] = [
    [
      'dnat in nat prerouting',
      [chain('c', [[tcp, dnat]], hook('nat', 'prerouting', 'dstnat'))],
      'applied',
    ],
    [
      'dnat in nat output at -100',
      [chain('c', [[tcp, dnat]], hook('nat', 'output', '-100'))],
      'applied',
    ],
    [
      'dnat in a filter chain',
      [chain('c', [[tcp, dnat]], hook('filter', 'prerouting', '0'))],
      'refused',
    ],
    [
      'dnat in nat postrouting',
      [chain('c', [[tcp, dnat]], hook('nat', 'postrouting', 'srcnat'))],
      'refused',
    ],
    [
      'dnat reached from a filter chain',
      [
        chain('d', [[tcp, dnat]]),
        chain(
          'c',
          [[{ kind: 'verdict', verdict: { kind: 'jump', chain: 'd' } }]],
          hook('filter', 'forward', '0'),
        ),
      ],
      'refused',
    ],
    [
      'masquerade in nat postrouting',
      [
        chain(
          'c',
          [[{ kind: 'masquerade', fullyRandom: true }]],
          hook('nat', 'postrouting', 'srcnat'),
        ),
      ],
      'applied',
    ],
    [
      'masquerade in nat prerouting',
      [chain('c', [[{ kind: 'masquerade' }]], hook('nat', 'prerouting', 'dstnat'))],
      'refused',
    ],
    [
      'reject in nat prerouting',
      [chain('c', [[reject]], hook('nat', 'prerouting', 'dstnat'))],
      'applied',
    ],
    [
      'reject in filter postrouting',
      [chain('c', [[reject]], hook('filter', 'postrouting', '0'))],
      'refused',
    ],
    [
      'reject reached by numgen from postrouting',
      [
        chain('r', [[reject]]),
        chain(
          'c',
          [
            [
              {
                kind: 'number-vmap',
                source: { kind: 'numgen', mod: 1 },
                elements: [{ from: 0, value: { kind: 'jump', chain: 'r' } }],
              },
            ],
          ],
          hook('filter', 'postrouting', '0'),
        ),
      ],
      'refused',
    ],
    [
      'numgen mod 0',
      [
        chain(
          'c',
          [
            [
              {
                kind: 'number-vmap',
                source: { kind: 'numgen', mod: 0 },
                elements: [{ from: 0, value: { kind: 'accept' } }],
              },
            ],
          ],
          hook('filter', 'input', '0'),
        ),
      ],
      'refused',
    ],
    ['dstnat on output', [chain('c', [], hook('nat', 'output', 'dstnat'))], 'refused'],
    [
      'dnat without a protocol match',
      [chain('c', [[dnat]], hook('nat', 'prerouting', 'dstnat'))],
      'refused',
    ],
  ];
  for (const [what, chains, want] of cases) {
    const table: NftTable = {
      ...id,
      sets: new Map(),
      maps: new Map(),
      chains: new Map(chains.map((c) => [c.name, c])),
    };
    const got = await both(kernel, fake, fullTransaction(table), what);
    assert.equal(got.split(':')[0], want, `${what}: ${got}`);
    if (got === 'applied')
      await both(
        kernel,
        fake,
        { table: id, ops: [{ op: 'delete', kind: 'table' }] },
        `${what}: delete`,
      );
  }
});

test("jhash: the kernel's counters count each packet where the tracer's jhash puts it", async (t) => {
  const { kernel, sb } = await pair(t);
  const ns = `${sb.prefix}-svc`;
  await sb.exec(ns, 'ip', ['link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
  await sb.exec(ns, 'ip', ['addr', 'add', '10.99.0.1/24', 'dev', 'd0']);
  await sb.exec(ns, 'ip', ['link', 'set', 'd0', 'up']);
  const id: NftTableId = { family: 'inet', name: 'hash' };
  const layouts: [string, Extract<NftExpr, { kind: 'number-vmap' }>['source']][] = [
    [
      'five',
      {
        kind: 'jhash',
        fields: ['ip saddr', 'th sport', 'ip daddr', 'th dport', 'meta l4proto'],
        mod: 7,
        seed: 0x77656674,
      },
    ],
    ['port', { kind: 'jhash', fields: ['th dport'], mod: 5, seed: 1 }],
    ['addr', { kind: 'jhash', fields: ['ip daddr'], mod: 3, seed: 0 }],
  ];
  const counters = new Map<string, { name: string; comment: string }>();
  const chains: NftChain[] = [];
  const dispatch: NftExpr[][] = [];
  for (const [name, source] of layouts) {
    for (let i = 0; i < source.mod; i++) {
      const c = `${name}_${i}`;
      counters.set(c, { name: c, comment: c });
      chains.push(chain(c, [[{ kind: 'counter', name: c }]]));
    }
    dispatch.push([
      { kind: 'cmp', left: ['ip daddr'], op: '==', values: ['10.99.0.0/24'] },
      { kind: 'cmp', left: ['meta l4proto'], op: '==', values: ['udp'] },
      {
        kind: 'number-vmap',
        source,
        elements: Array.from({ length: source.mod }, (_, i) => ({
          from: i,
          value: { kind: 'jump' as const, chain: `${name}_${i}` },
        })),
      },
    ]);
  }
  chains.push(chain('out', dispatch, hook('filter', 'output', '0')));
  const table: NftTable = {
    ...id,
    counters,
    sets: new Map(),
    maps: new Map(),
    chains: new Map(chains.map((c) => [c.name, c])),
  };
  const tx = fullTransaction(table);
  await kernel.apply(tx, transactionText(tx));
  // Datagrams from 10.99.0.1, source ports 41000.., to 10.99.0.2-9, ports 5000..: nothing answers for them, after output.
  const packets = Array.from({ length: 48 }, (_, i) => ({
    sport: 41000 + i * 37,
    daddr: `10.99.0.${2 + (i % 8)}`,
    dport: 5000 + i * 11,
  }));
  const script = `const d=require('node:dgram');const p=${JSON.stringify(packets)};(async()=>{for(const x of p){const s=d.createSocket('udp4');await new Promise(r=>s.bind(x.sport,'10.99.0.1',r));await new Promise(r=>s.send('x',x.dport,x.daddr,r));s.close();}})();`;
  await sb.exec(ns, process.execPath, ['-e', script]);
  const counted = await kernel.counterPackets(id);
  const predicted: Record<string, number> = Object.fromEntries(
    [...counters.keys()].map((c) => [c, 0]),
  );
  for (const x of packets) {
    const r = trace(table, 'output', {
      family: 4,
      saddr: '10.99.0.1',
      daddr: x.daddr,
      l4proto: 'udp',
      sport: x.sport,
      dport: x.dport,
      ct: { state: 'new', direction: 'original' },
    });
    for (const c of r.counters) predicted[c.name] = (predicted[c.name] ?? 0) + 1;
  }
  assert.deepEqual(counted, predicted);
  // Each layout spread the packets over more than one bucket: the check can tell layouts apart.
  for (const [name] of layouts)
    assert.ok(
      Object.entries(counted).filter(([c, n]) => c.startsWith(`${name}_`) && n > 0).length > 1,
      name,
    );
});
