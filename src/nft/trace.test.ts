import test from 'node:test';
import assert from 'node:assert/strict';
import { accept, cmp, drop, jump, lookup, ret, rule } from './build.js';
import { FakeNft } from './fake.js';
import type { NftBaseHook, NftChain, NftExpr, NftMap, NftSet, NftTable } from './model.js';
import { transactionText } from './text.js';
import { trace, TraceError, traceText, type Packet } from './trace.js';
import { fullTransaction } from './transactions.js';

const hook = (h: NftBaseHook['hook'], priority = 'filter', policy: 'accept' | 'drop' = 'accept') =>
  ({ type: 'filter', hook: h, priority, policy }) as const;
const chain = (name: string, exprs: NftExpr[][], base?: NftBaseHook): NftChain => ({
  name,
  comment: name,
  rules: exprs.map((e, i) => rule(e, `${name} rule ${i}`)),
  ...(base ? { base } : {}),
});
const set = (
  name: string,
  type: NftSet['type'],
  interval: boolean,
  elements: string[],
): NftSet => ({
  name,
  type,
  interval,
  comment: name,
  elements,
});
const table = (
  chains: NftChain[],
  sets: NftSet[] = [],
  maps: NftMap[] = [],
  family: NftTable['family'] = 'inet',
  name = 't',
): NftTable => ({
  family,
  name,
  sets: new Map(sets.map((s) => [s.name, s])),
  maps: new Map(maps.map((m) => [m.name, m])),
  chains: new Map(chains.map((c) => [c.name, c])),
});
const goto = (c: string): NftExpr => ({ kind: 'verdict', verdict: { kind: 'goto', chain: c } });
const mark = (or: number, and?: number): NftExpr => ({
  kind: 'set-mark',
  target: 'meta mark',
  or,
  ...(and === undefined ? {} : { and }),
});

const tcp = (saddr: string, daddr: string, dport: number, more: Partial<Packet> = {}): Packet => ({
  family: 4,
  saddr,
  daddr,
  l4proto: 'tcp',
  sport: 40000,
  dport,
  ct: { state: 'new', direction: 'original' },
  ...more,
});
/** Where the packet ended: the chain and index of each matched rule. */
const path = (t: NftTable | NftTable[], p: Packet, h: NftBaseHook['hook'] = 'forward') => {
  const r = trace(t, h, p);
  return { verdict: r.verdict, rules: r.matched.map((m) => `${m.chain}[${m.index}]`) };
};

test('anonymous sets: values, prefixes, ranges, concatenations, !=', () => {
  const t = table([
    chain(
      'forward',
      [
        [
          cmp(['ip saddr'], '10.0.0.0/8', '192.168.1.1'),
          cmp(['th dport'], '80', '8000-8080'),
          accept,
        ],
        [cmp(['ip daddr', 'meta l4proto'], '10.9.0.1 . udp', '10.9.0.0/24 . tcp'), accept],
        [{ kind: 'cmp', left: ['ip saddr'], op: '!=', values: ['172.16.0.0/12'] }, drop],
      ],
      hook('forward'),
    ),
  ]);
  assert.deepEqual(path(t, tcp('10.1.2.3', '1.1.1.1', 8080)), {
    verdict: 'accept',
    rules: ['forward[0]'],
  });
  assert.deepEqual(path(t, tcp('192.168.1.1', '1.1.1.1', 80)), {
    verdict: 'accept',
    rules: ['forward[0]'],
  });
  assert.deepEqual(path(t, tcp('172.16.0.1', '10.9.0.7', 22)), {
    verdict: 'accept',
    rules: ['forward[1]'],
  });
  assert.deepEqual(path(t, tcp('172.16.0.1', '10.9.0.1', 22)), {
    verdict: 'accept',
    rules: ['forward[1]'],
  });
  assert.deepEqual(path(t, tcp('8.8.8.8', '1.1.1.1', 22)), {
    verdict: 'drop',
    rules: ['forward[2]'],
  });
  assert.deepEqual(path(t, tcp('172.17.0.1', '1.1.1.1', 22)), { verdict: 'accept', rules: [] });
  // An IPv6 packet has no `ip saddr`: the rule fails, even with !=.
  const v6: Packet = { ...tcp('::1', '::2', 22), family: 6 };
  assert.deepEqual(path(t, v6), { verdict: 'accept', rules: [] });
});

test('named sets: intervals, concatenations, a map looked up as a set, !=', () => {
  const blocks = set('blocks', ['ipv4_addr'], true, ['10.0.0.0/16', '10.2.0.5-10.2.0.9']);
  const ports = set('ports', ['ipv4_addr', 'inet_proto', 'inet_service'], false, [
    '10.3.0.1 . tcp . 443',
    '10.3.0.1 . udp . 53',
  ]);
  const m: NftMap = {
    name: 'm',
    key: ['ipv4_addr'],
    comment: '',
    elements: [{ key: '10.4.0.1', value: { kind: 'drop' } }],
  };
  const t = table(
    [
      chain(
        'forward',
        [
          [lookup(['ip saddr'], 'blocks'), accept],
          [lookup(['ip daddr', 'meta l4proto', 'th dport'], 'ports'), accept],
          [lookup(['ip daddr'], 'm'), { kind: 'counter' }, accept],
          [{ kind: 'lookup', left: ['ip daddr'], op: '!=', set: 'blocks' }, drop],
        ],
        hook('forward'),
      ),
    ],
    [blocks, ports],
    [m],
  );
  assert.equal(path(t, tcp('10.0.200.1', '1.1.1.1', 1)).rules[0], 'forward[0]');
  assert.equal(path(t, tcp('10.2.0.9', '1.1.1.1', 1)).rules[0], 'forward[0]');
  assert.deepEqual(path(t, tcp('10.2.0.10', '10.3.0.1', 443)).rules, ['forward[1]']);
  assert.deepEqual(path(t, tcp('10.2.0.10', '10.3.0.1', 53)), {
    verdict: 'drop',
    rules: ['forward[3]'],
  });
  assert.deepEqual(path(t, tcp('10.2.0.10', '10.4.0.1', 1)).rules, ['forward[2]']);
  assert.deepEqual(path(t, tcp('10.2.0.10', '10.2.0.6', 1)), { verdict: 'accept', rules: [] });
});

test('marks: bits compare the current value, set-mark changes it for the rules after', () => {
  const t = table([
    chain(
      'forward',
      [
        [mark(0x00100000)],
        [
          { kind: 'bits', left: 'meta mark', mask: 0x00300000, op: '==', value: 0x00100000 },
          mark(0x1),
        ],
        [mark(0, 0xffcfffff)],
        [{ kind: 'bits', left: 'meta mark', mask: 0x00300000, op: '!=', value: 0 }, drop],
        [{ kind: 'set-mark', target: 'ct mark', and: 0x0000ffff, or: 0x00070000 }],
        [{ kind: 'bits', left: 'ct mark', mask: 0xffff0000, op: '==', value: 0x00070000 }, accept],
      ],
      hook('forward'),
    ),
  ]);
  const r = trace(
    t,
    'forward',
    tcp('1.1.1.1', '2.2.2.2', 1, {
      mark: 0x00000100,
      ct: { state: 'new', direction: 'original', mark: 0x12345678 },
    }),
  );
  assert.equal(r.verdict, 'accept');
  assert.deepEqual(
    r.matched.map((m) => m.index),
    [0, 1, 2, 4, 5],
  );
  assert.equal(r.mark, 0x00000101, '0x100 | 0x00100000, then | 0x1, then & ~0x00300000');
  assert.equal(r.ctMark, 0x00075678);
});

test('verdict maps: a key found gives its verdict, a key not found goes on with the next rule', () => {
  const m: NftMap = {
    name: 'dispatch',
    key: ['ipv4_addr'],
    comment: '',
    elements: [
      { key: '10.0.0.1', value: { kind: 'jump', chain: 'ep' } },
      { key: '10.0.0.2', value: { kind: 'drop' } },
    ],
  };
  const t = table(
    [
      chain('ep', [[cmp(['th dport'], '22'), drop]]),
      chain(
        'forward',
        [
          [{ kind: 'vmap', left: ['ip daddr'], map: 'dispatch' }],
          [cmp(['th dport'], '22'), accept],
        ],
        hook('forward', 'filter', 'drop'),
      ),
    ],
    [],
    [m],
  );
  assert.deepEqual(path(t, tcp('1.1.1.1', '10.0.0.1', 22)), {
    verdict: 'drop',
    rules: ['forward[0]', 'ep[0]'],
  });
  assert.deepEqual(
    path(t, tcp('1.1.1.1', '10.0.0.1', 80)),
    { verdict: 'drop', rules: ['forward[0]'] },
    'back from ep, then the policy',
  );
  assert.deepEqual(path(t, tcp('1.1.1.1', '10.0.0.2', 22)), {
    verdict: 'drop',
    rules: ['forward[0]'],
  });
  assert.deepEqual(path(t, tcp('1.1.1.1', '10.0.0.3', 22)), {
    verdict: 'accept',
    rules: ['forward[1]'],
  });
});

test('jump returns to the rule after it, goto does not; return and the end of a base chain give its policy', () => {
  const t = table([
    chain('a', [[cmp(['th dport'], '1'), ret], [mark(0x10)]]),
    chain('b', [[goto('a')], [drop]]),
    chain('c', [[jump('b')], [cmp(['th dport'], '3'), accept]]),
    chain(
      'forward',
      [[jump('c')], [cmp(['th dport'], '2'), ret], [cmp(['th dport'], '1'), accept], [drop]],
      hook('forward', 'filter', 'accept'),
    ),
  ]);
  // forward → c → b → (goto) a: a returns to c (b is left), c goes on.
  assert.deepEqual(path(t, tcp('1.1.1.1', '2.2.2.2', 1)), {
    verdict: 'accept',
    rules: ['forward[0]', 'c[0]', 'b[0]', 'a[0]', 'forward[2]'],
  });
  assert.deepEqual(path(t, tcp('1.1.1.1', '2.2.2.2', 3)), {
    verdict: 'accept',
    rules: ['forward[0]', 'c[0]', 'b[0]', 'a[1]', 'c[1]'],
  });
  const r = trace(t, 'forward', tcp('1.1.1.1', '2.2.2.2', 2));
  assert.equal(r.verdict, 'accept', 'return in a base chain: its policy');
  assert.deepEqual(r.policies, ['inet t forward']);
  assert.equal(path(t, tcp('1.1.1.1', '2.2.2.2', 9)).verdict, 'drop');
});

test('base chains of a hook run in priority order; an accept ends only its own chain', () => {
  const early = table(
    [chain('early', [[cmp(['th dport'], '1'), drop], [accept]], hook('input', '-10'))],
    [],
    [],
    'inet',
    'one',
  );
  const late = table(
    [chain('late', [[cmp(['th dport'], '2'), drop]], hook('input', 'filter + 5'))],
    [],
    [],
    'ip',
    'two',
  );
  const v6only = table([chain('x', [[drop]], hook('input'))], [], [], 'ip6', 'three');
  const other = table([chain('out', [[drop]], hook('output'))], [], [], 'inet', 'four');
  const tables = [late, other, v6only, early];
  assert.deepEqual(path(tables, tcp('1.1.1.1', '2.2.2.2', 1), 'input'), {
    verdict: 'drop',
    rules: ['early[0]'],
  });
  assert.deepEqual(path(tables, tcp('1.1.1.1', '2.2.2.2', 2), 'input'), {
    verdict: 'drop',
    rules: ['early[1]', 'late[0]'],
  });
  assert.deepEqual(path(tables, tcp('1.1.1.1', '2.2.2.2', 3), 'input'), {
    verdict: 'accept',
    rules: ['early[1]'],
  });
});

test('conntrack, ICMP, fib address types and interface names', () => {
  const t = table([
    chain(
      'input',
      [
        [cmp(['ct direction'], 'reply'), accept],
        [cmp(['ct state'], 'related', 'established'), accept],
        [cmp(['icmp type'], 'echo-request'), accept],
        [cmp(['icmpv6 type'], 'nd-neighbor-solicit', 'nd-neighbor-advert'), accept],
        [cmp(['iifname'], '"veth*"'), cmp(['fib daddr type'], 'local'), accept],
        [drop],
      ],
      hook('input'),
    ),
  ]);
  const at = (p: Packet) => path(t, p, 'input').rules;
  const ct = (state: Packet['ct']['state'], direction: Packet['ct']['direction']) => ({
    state,
    direction,
  });
  assert.deepEqual(at(tcp('1.1.1.1', '2.2.2.2', 1, { ct: ct('established', 'reply') })), [
    'input[0]',
  ]);
  assert.deepEqual(at(tcp('1.1.1.1', '2.2.2.2', 1, { ct: ct('established', 'original') })), [
    'input[1]',
  ]);
  const ping: Packet = {
    family: 4,
    saddr: '1.1.1.1',
    daddr: '2.2.2.2',
    l4proto: 'icmp',
    icmpType: 'echo-request',
    ct: ct('new', 'original'),
  };
  assert.deepEqual(at(ping), ['input[2]']);
  const nd: Packet = {
    family: 6,
    saddr: 'fe80::1',
    daddr: 'fe80::2',
    l4proto: 'icmpv6',
    icmpType: 'nd-neighbor-solicit',
    ct: ct('new', 'original'),
  };
  assert.deepEqual(at(nd), ['input[3]']);
  const local = { iifname: 'veth12', localAddresses: ['2.2.2.2'] };
  assert.deepEqual(at(tcp('1.1.1.1', '2.2.2.2', 1, local)), ['input[4]']);
  assert.deepEqual(at(tcp('1.1.1.1', '2.2.2.3', 1, local)), ['input[5]'], 'not a local address');
  assert.deepEqual(at(tcp('1.1.1.1', '2.2.2.2', 1, { ...local, iifname: 'eth0' })), ['input[5]']);
});

test('what the tracer cannot know, it says', () => {
  const t = table([chain('forward', [[cmp(['th dport'], '80'), accept]], hook('forward'))]);
  const ping: Packet = {
    family: 4,
    saddr: '1.1.1.1',
    daddr: '2.2.2.2',
    l4proto: 'icmp',
    ct: { state: 'new', direction: 'original' },
  };
  assert.throws(
    () => trace(t, 'forward', ping),
    (e: unknown) => e instanceof TraceError && /th dport/.test(e.message),
  );
  assert.throws(() => trace(t, 'forward', tcp('fd00::1', '2.2.2.2', 80)), /not an IPv4 address/);
  const loop = table([
    chain('a', [[goto('b')]]),
    chain('b', [[goto('a')]]),
    chain('forward', [[jump('a')]], hook('forward')),
  ]);
  assert.throws(() => trace(loop, 'forward', tcp('1.1.1.1', '2.2.2.2', 80)), /goto loop/);
});

test('the fake counts what it traces, logs are recorded, limits noted; traceText lists the walk', async () => {
  const fake = new FakeNft();
  const t: NftTable = {
    ...table([
      chain(
        'forward',
        [
          [{ kind: 'counter', name: 'seen' }],
          [
            cmp(['th dport'], '22'),
            { kind: 'counter', name: 'wanted' },
            { kind: 'limit', rate: 5, per: 'second', burst: 10 },
            { kind: 'log', prefix: 'ssh', group: 3 },
            drop,
          ],
        ],
        hook('forward'),
      ),
    ]),
    counters: new Map(['seen', 'wanted'].map((name) => [name, { name, comment: name }])),
  };
  const tx = fullTransaction(t);
  await fake.apply(tx, transactionText(tx));
  fake.trace('forward', tcp('1.1.1.1', '2.2.2.2', 80));
  const r = fake.trace('forward', tcp('1.1.1.1', '2.2.2.2', 22));
  assert.deepEqual(fake.counterPackets(t), { seen: 2, wanted: 1 });
  assert.deepEqual(r.logs, [{ prefix: 'ssh', group: 3 }]);
  assert.deepEqual(
    r.limits.map((m) => m.index),
    [1],
  );
  assert.equal(
    traceText(r),
    [
      'inet t forward[0]: counter name "seen"  # forward rule 0',
      'inet t forward[1]: th dport 22 counter name "wanted" limit rate 5/second burst 10 packets log prefix "ssh" group 3 drop  # forward rule 1',
      'log "ssh" group 3',
      'verdict: drop',
    ].join('\n'),
  );
  // A transaction that deletes the table starts its counters again.
  await fake.apply(tx, transactionText(tx));
  assert.deepEqual(fake.counterPackets(t), { seen: 0, wanted: 0 });
});
