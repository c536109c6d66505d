// The statements of a Service proxy: how they read in nft syntax (as nft
// 1.0.6 lists them), what validation and the fake refuse, and what the
// tracer does with a packet that meets them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { accept, cmp, jump, rule, verdict } from './build.js';
import { FakeNft } from './fake.js';
import { jhash, jhashOf, reciprocalScale } from './jhash.js';
import type { NftBaseHook, NftChain, NftExpr, NftSet, NftTable, NftVerdict } from './model.js';
import { NftError } from './runner.js';
import { exprText, tableText, transactionText } from './text.js';
import { trace, type Packet } from './trace.js';
import { fullTransaction } from './transactions.js';
import { validateTable } from './validate.js';

const NAT_PRE: NftBaseHook = {
  type: 'nat',
  hook: 'prerouting',
  priority: 'dstnat',
  policy: 'accept',
};
const NAT_POST: NftBaseHook = {
  type: 'nat',
  hook: 'postrouting',
  priority: 'srcnat',
  policy: 'accept',
};
const FILTER = (hook: NftBaseHook['hook'], priority = 'filter'): NftBaseHook => ({
  type: 'filter',
  hook,
  priority,
  policy: 'accept',
});

const chain = (name: string, rules: NftExpr[][], base?: NftBaseHook): NftChain => ({
  name,
  comment: name,
  rules: rules.map((e, i) => rule(e, `${name} ${i}`)),
  ...(base ? { base } : {}),
});
const table = (chains: NftChain[], sets: NftSet[] = []): NftTable => ({
  family: 'inet',
  name: 'svc',
  sets: new Map(sets.map((s) => [s.name, s])),
  maps: new Map(),
  chains: new Map(chains.map((c) => [c.name, c])),
});
const goto = (chain: string) => ({ kind: 'goto', chain }) as const;
/** `numgen random mod MOD vmap { 0 : V0, 1 : V1, … }`. */
const numgen = (mod: number, ...values: NftVerdict[]): NftExpr => ({
  kind: 'number-vmap',
  source: { kind: 'numgen', mod },
  elements: values.map((value, from) => ({ from, value })),
});
const tcp = cmp(['meta l4proto'], 'tcp');
const dnat = (address: string, port?: number, family: 'ip' | 'ip6' = 'ip'): NftExpr => ({
  kind: 'dnat',
  family,
  address,
  ...(port === undefined ? {} : { port }),
});
const affinity: NftSet = {
  name: 'aff',
  type: ['ipv4_addr'],
  interval: false,
  comment: 'affinity',
  elements: [],
  dynamic: true,
  size: 65535,
  timeout: 10800,
};

const packet = (more: Partial<Packet> = {}): Packet => ({
  family: 4,
  saddr: '10.244.1.9',
  daddr: '10.96.0.10',
  l4proto: 'tcp',
  sport: 40000,
  dport: 80,
  ct: { state: 'new', direction: 'original' },
  ...more,
});

test('nft syntax of the new statements, as nft 1.0.6 lists them', () => {
  const cases: [NftExpr, string][] = [
    [dnat('10.244.1.5', 8080), 'dnat ip to 10.244.1.5:8080'],
    [dnat('fd00::1', 53, 'ip6'), 'dnat ip6 to [fd00::1]:53'],
    [dnat('10.0.0.1'), 'dnat ip to 10.0.0.1'],
    [{ kind: 'dnat', address: '1.2.3.5', port: 53 }, 'dnat to 1.2.3.5:53'],
    [{ kind: 'masquerade', fullyRandom: true }, 'masquerade fully-random'],
    [{ kind: 'masquerade' }, 'masquerade'],
    [{ kind: 'reject', with: 'icmpx port-unreachable' }, 'reject with icmpx port-unreachable'],
    [{ kind: 'reject', with: 'tcp reset' }, 'reject with tcp reset'],
    [{ kind: 'update', set: 'aff', left: ['ip6 saddr'] }, 'update @aff { ip6 saddr }'],
    [
      numgen(2, goto('ep_a'), goto('ep_b')),
      'numgen random mod 2 vmap { 0 : goto ep_a, 1 : goto ep_b }',
    ],
    [
      {
        kind: 'number-vmap',
        source: { kind: 'jhash', fields: ['ip saddr'], mod: 7, seed: 1 },
        elements: [
          { from: 0, value: { kind: 'accept' } },
          { from: 1, to: 6, value: { kind: 'drop' } },
        ],
      },
      'jhash ip saddr mod 7 seed 0x1 vmap { 0 : accept, 1-6 : drop }',
    ],
  ];
  for (const [e, text] of cases) assert.equal(exprText(e), text);
  // A dynamic set with a timeout, in the order and words nft lists it (86400 s is `1d`).
  const t = table(
    [],
    [
      { ...affinity, timeout: 3661 },
      { ...affinity, name: 'day', timeout: 86400 },
    ],
  );
  assert.equal(
    tableText(t),
    [
      'table inet svc {',
      '\tset aff {',
      '\t\ttype ipv4_addr',
      '\t\tsize 65535',
      '\t\tflags dynamic,timeout',
      '\t\ttimeout 1h1m1s',
      '\t\tcomment "affinity"',
      '\t}',
      '',
      '\tset day {',
      '\t\ttype ipv4_addr',
      '\t\tsize 65535',
      '\t\tflags dynamic,timeout',
      '\t\ttimeout 1d',
      '\t\tcomment "affinity"',
      '\t}',
      '}',
      '',
    ].join('\n'),
  );
  assert.equal(
    transactionText({ table: t, ops: [{ op: 'add', kind: 'set', set: affinity }] }),
    'add set inet svc aff { type ipv4_addr; size 65535; flags dynamic,timeout; timeout 3h; comment "affinity"; }\n',
  );
});

test('validation: what nft or the kernel refuses, and what weft never means', () => {
  const problems = (chains: NftChain[], sets: NftSet[] = []) =>
    validateTable(table(chains, sets)).join('\n');
  const ok = [
    chain('ep', [[tcp, dnat('10.244.1.5', 8080)]]),
    chain('nat_pre', [[jump('ep')]], NAT_PRE),
    chain('post', [[{ kind: 'masquerade', fullyRandom: true }]], NAT_POST),
  ];
  assert.equal(problems(ok), '');
  assert.match(
    problems([chain('pre', [[tcp, { kind: 'dnat', address: '10.0.0.1', port: 1 }]], NAT_PRE)]),
    /ip or ip6 must be specified with address for inet tables/,
  );
  assert.match(
    problems([chain('pre', [[dnat('10.0.0.1', 80)]], NAT_PRE)]),
    /transport protocol mapping is only valid after transport protocol match/,
  );
  assert.match(problems([chain('pre', [[tcp, dnat('fd00::1', 80)]], NAT_PRE)]), /not one IPv4/);
  // A dnat that a filter chain reaches, a masquerade outside postrouting, a reject in postrouting.
  assert.match(
    problems([
      chain('ep', [[tcp, dnat('10.0.0.1', 80)]]),
      chain('f', [[jump('ep')]], FILTER('forward')),
    ]),
    /chain ep rule 1: dnat works in nat chains of prerouting, output; base chain f \(filter forward\) reaches it/,
  );
  assert.match(
    problems([chain('pre', [[{ kind: 'masquerade' }]], NAT_PRE)]),
    /masquerade works in nat chains of postrouting/,
  );
  assert.match(
    problems([
      chain('r', [[{ kind: 'reject', with: 'icmpx port-unreachable' }]]),
      chain('post', [[numgen(1, jumpTo('r'))]], FILTER('postrouting')),
    ]),
    /chain r rule 1: reject works in prerouting, input, forward, output/,
  );
  assert.match(
    problems([chain('r', [[{ kind: 'reject', with: 'tcp reset' }]], FILTER('input'))]),
    /reject with tcp reset needs meta l4proto tcp before it/,
  );
  // Keys no number reaches, keys that overlap, a modulus of 0.
  const numbered = (mod: number, keys: [number, number?][]): NftChain =>
    chain(
      'f',
      [
        [
          {
            kind: 'number-vmap',
            source: { kind: 'numgen', mod },
            elements: keys.map(([from, to]) => ({
              from,
              ...(to === undefined ? {} : { to }),
              value: { kind: 'accept' },
            })),
          },
        ],
      ],
      FILTER('input'),
    );
  assert.match(problems([numbered(2, [[0], [5]])]), /key 5 is never reached \(mod 2\)/);
  assert.match(problems([numbered(4, [[0, 2], [2]])]), /keys overlap or are out of order at 2/);
  assert.match(problems([numbered(0, [[0]])]), /numgen mod 0 is not 1 to 4294967295/);
  // update: a dynamic set with a size, of the key's type; a timed set holds no fixed elements.
  const upd = (left: Extract<NftExpr, { kind: 'update' }>) => chain('f', [[left]], FILTER('input'));
  assert.equal(problems([upd({ kind: 'update', set: 'aff', left: ['ip saddr'] })], [affinity]), '');
  assert.match(
    problems(
      [upd({ kind: 'update', set: 'aff', left: ['ip saddr'] })],
      [{ ...affinity, dynamic: false }],
    ),
    /not declared dynamic/,
  );
  assert.match(
    problems([upd({ kind: 'update', set: 'aff', left: ['ip6 saddr'] })], [affinity]),
    /updates set @aff of type ipv4_addr with ipv6_addr/,
  );
  assert.match(
    problems([upd({ kind: 'update', set: 'gone', left: ['ip saddr'] })]),
    /missing set @gone/,
  );
  assert.match(problems([], [{ ...affinity, size: undefined }]), /is dynamic without a size/);
  assert.match(
    problems([], [{ ...affinity, elements: ['10.0.0.1'] }]),
    /has a timeout and fixed elements/,
  );
  // nft 1.0.6 reads dstnat on prerouting alone, srcnat on postrouting alone.
  assert.match(
    problems([chain('nat_out', [], { ...NAT_PRE, hook: 'output' })]),
    /priority dstnat is only valid on hook prerouting/,
  );
  assert.equal(
    problems([chain('nat_out', [], { ...NAT_PRE, hook: 'output', priority: '-100' })]),
    '',
  );
});

const jumpTo = (chain: string) => ({ kind: 'jump', chain }) as const;

/** nft's answer to one transaction in the fake: 'applied', or its message. */
async function outcome(fake: FakeNft, t: NftTable): Promise<string> {
  const tx = fullTransaction(t);
  try {
    await fake.apply(tx, transactionText(tx));
    return 'applied';
  } catch (e) {
    if (e instanceof NftError) return e.location?.message ?? e.message;
    throw e;
  }
}

test('the fake refuses as the kernel does (each checked with nft 1.0.6)', async () => {
  const fake = new FakeNft();
  assert.match(
    await outcome(fake, table([chain('f', [[tcp, dnat('10.0.0.1', 80)]], FILTER('prerouting'))])),
    /^Could not process rule: Operation not supported/,
  );
  assert.match(
    await outcome(
      fake,
      table([
        chain('f', [[{ kind: 'masquerade' }]], { ...NAT_POST, hook: 'input', priority: '100' }),
      ]),
    ),
    /^Could not process rule: Operation not supported/,
  );
  assert.match(
    await outcome(fake, table([chain('f', [[numgen(0, { kind: 'accept' })]], FILTER('input'))])),
    /^Could not process rule: Numerical result out of range/,
  );
  assert.match(
    await outcome(fake, table([chain('f', [[numgen(2, goto('nope'))]], FILTER('input'))])),
    /^Could not process rule: No such file or directory/,
  );
  assert.match(
    await outcome(
      fake,
      table([chain('f', [[{ kind: 'update', set: 'gone', left: ['ip saddr'] }]], FILTER('input'))]),
    ),
    /^Could not process rule: No such file or directory/,
  );
  assert.match(
    await outcome(fake, table([chain('nat_out', [], { ...NAT_PRE, hook: 'output' })])),
    /priority dstnat is only valid on hook prerouting/,
  );
  // Reject in nat chains of prerouting and output is taken; reached from postrouting, refused.
  assert.equal(
    await outcome(
      fake,
      table([chain('pre', [[{ kind: 'reject', with: 'icmpx port-unreachable' }]], NAT_PRE)]),
    ),
    'applied',
  );
  assert.match(
    await outcome(
      fake,
      table([
        chain('r', [[{ kind: 'reject', with: 'icmpx port-unreachable' }]]),
        chain('post', [[jump('r')]], FILTER('postrouting')),
      ]),
    ),
    /^Could not process rule: Operation not supported/,
  );
  // A chain an anonymous verdict map jumps to is busy.
  const ep = chain('ep', [[tcp, dnat('10.0.0.1', 80)]]);
  const pick = chain('pre', [[numgen(1, goto('ep'))]], NAT_PRE);
  assert.equal(await outcome(fake, table([ep, pick], [affinity])), 'applied');
  const svc = { family: 'inet', name: 'svc' } as const;
  const again = async (ops: Parameters<FakeNft['apply']>[0]['ops']) => {
    const tx = { table: svc, ops };
    try {
      await fake.apply(tx, transactionText(tx));
      return 'applied';
    } catch (e) {
      return e instanceof NftError ? (e.location?.message ?? e.message) : String(e);
    }
  };
  assert.match(
    await again([{ op: 'delete', kind: 'chain', name: 'ep' }]),
    /Device or resource busy/,
  );
  // A set declared again: another size or timeout is ignored, other flags refused.
  assert.equal(
    await again([{ op: 'add', kind: 'set', set: { ...affinity, timeout: 5, size: 10 } }]),
    'applied',
  );
  assert.equal(fake.dump(svc)?.sets.get('aff')?.timeout, 10800);
  assert.match(
    await again([{ op: 'add', kind: 'set', set: { ...affinity, timeout: undefined } }]),
    /File exists/,
  );
});

test('trace: dnat rewrites the destination and ends its base chain; later chains see the new one', () => {
  const t = table([
    chain(
      'pre',
      [[cmp(['ip daddr'], '10.96.0.10'), tcp, dnat('10.244.2.7', 8080)], [{ kind: 'masquerade' }]],
      NAT_PRE,
    ),
    chain(
      'check',
      [[cmp(['ip daddr'], '10.96.0.10'), { kind: 'reject', with: 'icmpx port-unreachable' }]],
      FILTER('prerouting', 'dstnat + 10'),
    ),
  ]);
  const r = trace(t, 'prerouting', packet());
  assert.equal(r.verdict, 'accept');
  assert.deepEqual(
    r.nat.map((n) => [n.kind, n.kind === 'dnat' ? `${n.address}:${n.port}` : '', n.rule.chain]),
    [['dnat', '10.244.2.7:8080', 'pre']],
  );
  assert.equal(r.packet.daddr, '10.244.2.7');
  assert.equal(r.packet.dport, 8080);
  assert.equal(r.packet.sport, 40000);
  assert.deepEqual(
    r.matched.map((m) => m.chain),
    ['pre'],
  );
  // Not the first packet of its connection: the nat chain is not walked, the check rejects.
  const later = trace(
    t,
    'prerouting',
    packet({ ct: { state: 'established', direction: 'original' } }),
  );
  assert.equal(later.verdict, 'drop');
  assert.deepEqual(later.nat, []);
  assert.equal(later.rejected?.with, 'icmpx port-unreachable');
  assert.equal(later.rejected?.rule.chain, 'check');
});

test("trace: after one nat chain rewrote a packet, the hook's later nat chains are not walked", () => {
  const first = chain('a', [[tcp, dnat('10.244.2.7', 8080)]], NAT_PRE);
  const second = chain('b', [[tcp, dnat('10.244.3.3', 9090)]], {
    ...NAT_PRE,
    priority: 'dstnat + 5',
  });
  const r = trace(table([first, second]), 'prerouting', packet());
  assert.deepEqual(
    r.nat.map((n) => n.rule.chain),
    ['a'],
  );
  assert.equal(r.packet.daddr, '10.244.2.7');
  // A dnat of the other family does not match: nft's implicit dependency fails.
  const v6 = trace(
    table([chain('a', [[tcp, dnat('fd00::7', 80, 'ip6')]], NAT_PRE)]),
    'prerouting',
    packet(),
  );
  assert.deepEqual(v6.nat, []);
});

test('trace: masquerade needs the address the packet leaves with, and rewrites the source', () => {
  const t = table([chain('post', [[{ kind: 'masquerade', fullyRandom: true }]], NAT_POST)]);
  assert.throws(() => trace(t, 'postrouting', packet()), /gives no masqueradeAddress/);
  const r = trace(t, 'postrouting', packet({ masqueradeAddress: '192.168.220.11' }));
  assert.equal(r.packet.saddr, '192.168.220.11');
  assert.equal(r.nat[0]?.kind, 'masquerade');
});

test("trace: numgen takes Packet.random modulo its mod; jhash is the kernel's", () => {
  const pick = (source: Extract<NftExpr, { kind: 'number-vmap' }>['source']) =>
    table([
      chain('a', [[accept]]),
      chain('b', [[accept]]),
      chain('c', [[accept]]),
      chain(
        'f',
        [
          [
            {
              kind: 'number-vmap',
              source,
              elements: [
                { from: 0, value: goto('a') },
                { from: 1, to: 60, value: goto('b') },
                { from: 61, to: 250, value: goto('c') },
              ],
            },
          ],
        ],
        FILTER('input'),
      ),
    ]);
  const via = (r: ReturnType<typeof trace>) => r.matched.map((m) => m.chain).join(' ');
  assert.equal(via(trace(pick({ kind: 'numgen', mod: 3 }), 'input', packet({ random: 7 }))), 'f b');
  assert.equal(via(trace(pick({ kind: 'numgen', mod: 3 }), 'input', packet())), 'f a');
  // 10.244.1.5 . 40000 . 10.96.0.10 . 80 . tcp with seed 0x77656674, mod 251: 61 (the kernel's jhash in C).
  const fields = ['ip saddr', 'th sport', 'ip daddr', 'th dport', 'meta l4proto'] as const;
  const five = pick({ kind: 'jhash', fields, mod: 251, seed: 0x77656674 });
  assert.equal(via(trace(five, 'input', packet({ saddr: '10.244.1.5' }))), 'f c');
  assert.equal(
    via(trace(five, 'input', packet({ saddr: '10.244.1.5', sport: 40001 }))) !== '',
    true,
  );
});

test("jhash: vectors of the kernel's jhash and reciprocal_scale, computed in C from include/linux/jhash.h", () => {
  const k1 = [10, 244, 1, 5, 0x9c, 0x40, 0, 0, 10, 96, 0, 10, 0, 80, 0, 0, 6, 0, 0, 0];
  assert.equal(jhash(Uint8Array.from(k1), 0x77656674), 1046535879);
  assert.equal(reciprocalScale(1046535879, 251), 61);
  assert.equal(jhash(Uint8Array.from([192, 168, 0, 1]), 0), 1741735792);
  assert.equal(reciprocalScale(1741735792, 7), 2);
  assert.equal(jhash(Uint8Array.from([0x1f, 0x90]), 1), 1472883245);
  assert.equal(jhash(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]), 5), 1680033872);
  assert.equal(jhash(new Uint8Array(0), 0), 0xdeadbeef);
  // Fields as nft lays them out: a concatenation pads each to 4 bytes, a lone field is not padded.
  const five = [
    { sel: 'ip saddr', value: 0x0af40105n },
    { sel: 'th sport', value: 40000n },
    { sel: 'ip daddr', value: 0x0a60000an },
    { sel: 'th dport', value: 80n },
    { sel: 'meta l4proto', value: 6n },
  ] as const;
  assert.equal(jhashOf(five, 251, 0x77656674), 61);
  assert.equal(jhashOf([{ sel: 'th dport', value: 8080n }], 2, 1), reciprocalScale(1472883245, 2));
});

test('trace: update writes the client into a timed set, which a later lookup finds until it expires', () => {
  const t = table(
    [
      chain('ep_a', [
        [{ kind: 'update', set: 'aff', left: ['ip saddr'] }],
        [tcp, dnat('10.244.2.7', 8080)],
      ]),
      chain('ep_b', [[tcp, dnat('10.244.3.3', 8080)]]),
      chain(
        'pre',
        [
          [{ kind: 'lookup', left: ['ip saddr'], op: '==', set: 'aff' }, verdict(goto('ep_a'))],
          [numgen(2, goto('ep_a'), goto('ep_b'))],
        ],
        NAT_PRE,
      ),
    ],
    [{ ...affinity, timeout: 60 }],
  );
  const fake = new FakeNft();
  const tx = fullTransaction(t);
  return fake.apply(tx, transactionText(tx)).then(() => {
    const to = (p: Partial<Packet>) => fake.trace('prerouting', packet(p)).packet.daddr;
    assert.equal(to({ random: 0, time: 100 }), '10.244.2.7');
    // The same client again, where numgen alone would pick the other endpoint: the set keeps it.
    assert.equal(to({ random: 1, time: 130 }), '10.244.2.7');
    assert.equal(to({ random: 1, time: 189 }), '10.244.2.7'); // renewed at 130: until 190
    assert.equal(to({ random: 1, time: 250 }), '10.244.3.3'); // expired at 249
    // Another client is not in the set.
    assert.equal(to({ saddr: '10.244.1.10', random: 1, time: 101 }), '10.244.3.3');
    // One client in the set (10.244.1.9, kept as the number the address is).
    assert.deepEqual(fake.memory.keys('inet svc', 'aff', 130), [
      `${(10n << 24n) + (244n << 16n) + (1n << 8n) + 9n}`,
    ]);
    // A full sync replaces the table: what packets wrote is gone, as in the kernel.
    return fake.apply(tx, transactionText(tx)).then(() => {
      assert.deepEqual(fake.memory.keys('inet svc', 'aff', 130), []);
    });
  });
});

test('tracePath: prerouting DNAT, then forward and postrouting; a packet for the host goes up to input', () => {
  const t = table([
    chain(
      'pre',
      [
        [cmp(['ip daddr'], '10.96.0.10'), tcp, dnat('10.244.2.7', 8080)],
        [cmp(['ip daddr'], '192.168.220.11'), tcp, dnat('192.168.220.11', 9999)],
      ],
      NAT_PRE,
    ),
    chain(
      'fwd_chain',
      [[cmp(['th dport'], '8080'), { kind: 'set-mark', target: 'meta mark', or: 1 }]],
      FILTER('forward'),
    ),
    chain(
      'in_chain',
      [[cmp(['th dport'], '9999'), { kind: 'set-mark', target: 'meta mark', or: 2 }]],
      FILTER('input'),
    ),
  ]);
  const fake = new FakeNft();
  const tx = fullTransaction(t);
  return fake.apply(tx, transactionText(tx)).then(() => {
    const local = ['192.168.220.11'];
    const out = fake.tracePath(packet({ localAddresses: local }), 'network');
    assert.deepEqual(
      out.hooks.map((h) => h.hook),
      ['prerouting', 'forward', 'postrouting'],
    );
    assert.equal(out.delivered, 'out');
    assert.equal(out.packet.mark, 1);
    const up = fake.tracePath(
      packet({ daddr: '192.168.220.11', localAddresses: local }),
      'network',
    );
    assert.deepEqual(
      up.hooks.map((h) => h.hook),
      ['prerouting', 'input'],
    );
    assert.equal(up.delivered, 'local');
    assert.equal(up.packet.mark, 2);
    assert.equal(up.packet.dport, 9999);
  });
});
