import test from 'node:test';
import assert from 'node:assert/strict';
import { accept, cmp, drop, jump, lookup, verdict } from './build.js';
import type { NftChain, NftDatatype, NftExpr, NftMap, NftSet, NftTable } from './model.js';
import { MAX_JUMP_DEPTH, ruleProblems, ruleReferences, validateTable } from './validate.js';

function table(parts: { sets?: NftSet[]; maps?: NftMap[]; chains?: NftChain[] }): NftTable {
  return {
    family: 'inet',
    name: 'weft',
    sets: new Map((parts.sets ?? []).map((s) => [s.name, s])),
    maps: new Map((parts.maps ?? []).map((m) => [m.name, m])),
    chains: new Map((parts.chains ?? []).map((c) => [c.name, c])),
  };
}

const set = (name: string, type: NftDatatype[], interval: boolean, elements: string[]): NftSet => ({
  name,
  type,
  interval,
  comment: `set ${name}`,
  elements,
});
const chain = (name: string, rules: NftExpr[][], base?: NftChain['base']): NftChain => ({
  name,
  comment: `chain ${name}`,
  rules: rules.map((exprs) => ({ exprs, comment: '' })),
  ...(base ? { base } : {}),
});
const forwardHook: NftChain['base'] = {
  type: 'filter',
  hook: 'forward',
  priority: 'filter',
  policy: 'accept',
};
const dispatch = (elements: NftMap['elements']): NftMap => ({
  name: 'dispatch',
  key: ['ipv4_addr'],
  comment: 'pod → chain',
  elements,
});
const toChain = (chain: string) => ({ kind: 'jump', chain }) as const;
const goto = (chain: string) => ({ kind: 'goto', chain }) as const;
const DROP = { kind: 'drop' } as const;
const ACCEPT = { kind: 'accept' } as const;
const vmap = (map: string): NftExpr => ({ kind: 'vmap', left: ['ip daddr'], map });

/** A valid table; each test breaks one thing in it. */
function good(over: { sets?: NftSet[]; maps?: NftMap[]; chains?: NftChain[] } = {}): NftTable {
  return table({
    sets: over.sets ?? [
      set('pods', ['ipv4_addr'], true, ['10.244.0.0/24', '10.244.1.7', '10.244.2.1-10.244.2.9']),
      set('pods6', ['ipv6_addr'], true, ['fd00::/64', 'fd01::1']),
      set('ports', ['ipv4_addr', 'inet_proto', 'inet_service'], false, ['10.0.0.1 . tcp . 80']),
      set('svc', ['inet_service'], true, ['80', '8000-8080']),
    ],
    maps: over.maps ?? [dispatch([{ key: '10.244.0.5', value: toChain('ep_a') }])],
    chains: over.chains ?? [
      chain('ep_a', [
        [lookup(['ip saddr'], 'pods'), accept],
        [lookup(['ip6 saddr'], 'pods6'), accept],
        [lookup(['ip saddr', 'meta l4proto', 'th dport'], 'ports'), accept],
        [cmp(['meta l4proto'], 'tcp'), lookup(['th dport'], 'svc'), accept],
        [cmp(['iifname'], '"eth0"'), accept],
        [jump('ep_b')],
      ]),
      chain('ep_b', [[drop]]),
      chain('forward', [[vmap('dispatch')]], forwardHook),
    ],
  });
}

/** Exactly one problem, matching `re`. */
function onlyProblem(t: NftTable, re: RegExp): void {
  const problems = validateTable(t);
  assert.equal(problems.length, 1, `expected one problem, got ${JSON.stringify(problems)}`);
  assert.match(problems[0] ?? '', re);
}

test('a valid table has no problems', () => {
  assert.deepEqual(validateTable(good()), []);
  assert.deepEqual(validateTable(table({})), []);
});

test('ruleReferences: jumps, gotos, looked-up sets and verdict maps', () => {
  const rule = (exprs: NftExpr[]) => ({ exprs, comment: 'jump c @s2' });
  assert.deepEqual(ruleReferences(rule([lookup(['ip saddr'], 's1'), jump('d')])), {
    chains: ['d'],
    sets: ['s1'],
    maps: [],
  });
  assert.deepEqual(ruleReferences(rule([vmap('m')])), { chains: [], sets: [], maps: ['m'] });
  assert.deepEqual(ruleReferences(rule([verdict(goto('b'))])), {
    chains: ['b'],
    sets: [],
    maps: [],
  });
});

test('a jump to a missing chain', () => {
  const t = good();
  const bad = table({
    sets: [...t.sets.values()],
    maps: [...t.maps.values()],
    chains: [...t.chains.values(), chain('ep_c', [[jump('ep_gone')]])],
  });
  onlyProblem(bad, /chain ep_c rule 1 \(jump ep_gone\): jumps to missing chain ep_gone/);
  onlyProblem(
    good({ chains: [chain('x', [[verdict(goto('nope'))]])], maps: [] }),
    /missing chain nope/,
  );
});

test('a map element jumping to a missing chain', () => {
  onlyProblem(
    good({
      maps: [
        dispatch([
          { key: '10.244.0.5', value: toChain('ep_a') },
          { key: '10.244.0.6', value: goto('ep_z') },
        ]),
      ],
    }),
    /map dispatch element 10.244.0.6: jumps to missing chain ep_z/,
  );
});

test('a jump to a base chain', () => {
  onlyProblem(
    good({
      maps: [],
      chains: [chain('forward', [], forwardHook), chain('x', [[jump('forward')]])],
    }),
    /jumps to base chain forward/,
  );
});

test('an unknown @set', () => {
  onlyProblem(
    good({ maps: [], chains: [chain('x', [[lookup(['ip saddr'], 'nope'), accept]])] }),
    /chain x rule 1 \(ip saddr @nope accept\): names missing set @nope/,
  );
});

test('elements of the wrong arity', () => {
  onlyProblem(
    good({
      sets: [set('ports', ['ipv4_addr', 'inet_proto', 'inet_service'], false, ['10.0.0.1 . tcp'])],
      maps: [],
      chains: [],
    }),
    /set ports: element 10.0.0.1 . tcp has 2 parts; type has 3/,
  );
  onlyProblem(
    good({ maps: [dispatch([{ key: '10.0.0.1 . 80', value: DROP }])], chains: [] }),
    /map dispatch: element 10.0.0.1 . 80 has 2 parts; type has 1/,
  );
});

test('duplicate map keys and duplicate set elements', () => {
  onlyProblem(
    good({
      maps: [
        dispatch([
          { key: '10.0.0.1', value: DROP },
          { key: '10.0.0.1', value: ACCEPT },
        ]),
      ],
      chains: [],
    }),
    /map dispatch: duplicate element 10.0.0.1/,
  );
  onlyProblem(
    good({
      sets: [set('s', ['ipv4_addr'], false, ['10.0.0.1', '10.0.0.1'])],
      maps: [],
      chains: [],
    }),
    /set s: duplicate element 10.0.0.1/,
  );
});

test('prefixes and ranges need flags interval', () => {
  onlyProblem(
    good({ sets: [set('s', ['ipv4_addr'], false, ['10.0.0.0/8'])], maps: [], chains: [] }),
    /set s: element 10.0.0.0\/8 is a prefix or range; needs flags interval/,
  );
  onlyProblem(
    good({ sets: [set('s', ['inet_service'], false, ['80-90'])], maps: [], chains: [] }),
    /needs flags interval/,
  );
  onlyProblem(
    good({ maps: [dispatch([{ key: '10.0.0.0/24', value: DROP }])], chains: [] }),
    /map dispatch: element 10.0.0.0\/24 is a prefix or range/,
  );
});

test('overlapping intervals and host bits', () => {
  onlyProblem(
    good({
      sets: [set('s', ['ipv4_addr'], true, ['10.0.0.0/8', '10.1.0.0/16'])],
      maps: [],
      chains: [],
    }),
    /set s: elements 10.0.0.0\/8 and 10.1.0.0\/16 overlap/,
  );
  onlyProblem(
    good({ sets: [set('s', ['ipv6_addr'], true, ['fd00::/8', 'fd00::1'])], maps: [], chains: [] }),
    /overlap/,
  );
  const problems = validateTable(
    good({
      sets: [set('s', ['ipv4_addr'], true, ['10.0.0.0/8', '10.1.0.0/16', '10.2.0.0/16'])],
      maps: [],
      chains: [],
    }),
  );
  assert.equal(problems.length, 2, 'both /16s overlap the /8');
  onlyProblem(
    good({ sets: [set('s', ['ipv4_addr'], true, ['10.0.0.1/8'])], maps: [], chains: [] }),
    /set s: 10.0.0.1\/8 has host bits set/,
  );
});

test('values that are not of the declared type', () => {
  const one = (type: NftDatatype, e: string, re: RegExp) =>
    onlyProblem(good({ sets: [set('s', [type], true, [e])], maps: [], chains: [] }), re);
  one('ipv4_addr', '10.0.0.300', /10.0.0.300 is not an IPv4 address/);
  one('ipv4_addr', 'fd00::1', /fd00::1 is not an IPv4 address/);
  one('ipv6_addr', '10.0.0.1/32', /is not an IPv6 CIDR/);
  one('inet_service', '70000', /70000 is out of range 0-65535/);
  one('ipv4_addr', '10.0.0.1, 10.0.0.2', /is not a single value/);
  one('ct_state', 'establishd', /establishd is not a ct_state/);
});

test('names: identifiers, not keywords, not too long, filed under themselves', () => {
  const named = (name: string) =>
    good({ sets: [set(name, ['ipv4_addr'], false, [])], maps: [], chains: [] });
  onlyProblem(named('ep-web'), /set name "ep-web" is not an identifier/);
  onlyProblem(named('1ep'), /not an identifier/);
  onlyProblem(named('fwd'), /set name fwd is an nft keyword/);
  onlyProblem(named('x'.repeat(65)), /is 65 characters long; at most 64/);
  assert.deepEqual(validateTable(named('x'.repeat(64))), []);
  const misfiled: NftTable = {
    family: 'inet',
    name: 'weft',
    sets: new Map(),
    maps: new Map(),
    chains: new Map([['a', chain('b', [])]]),
  };
  onlyProblem(misfiled, /chain b is filed under the name a/);
  onlyProblem(
    good({ sets: [set('dispatch', ['ipv4_addr'], false, [])], maps: [dispatch([])], chains: [] }),
    /set dispatch has the name of a map/,
  );
});

test('comments longer than 128 bytes or with quotes', () => {
  onlyProblem(
    good({ sets: [], maps: [], chains: [{ name: 'x', comment: 'é'.repeat(65), rules: [] }] }),
    /chain x: comment is 130 bytes; nft allows 128/,
  );
  onlyProblem(
    good({
      sets: [],
      maps: [],
      chains: [{ name: 'x', comment: '', rules: [{ exprs: [accept], comment: 'say "hi"' }] }],
    }),
    /chain x rule 1 \(accept\): comment holds a quote/,
  );
});

test('lookups and verdict maps of the wrong key type', () => {
  onlyProblem(
    good({ maps: [], chains: [chain('x', [[lookup(['ip6 saddr'], 'pods'), accept]])] }),
    /looks up ipv6_addr in set @pods of type ipv4_addr/,
  );
  onlyProblem(
    good({
      chains: [
        chain('ep_a', []),
        chain('x', [[{ kind: 'vmap', left: ['th dport'], map: 'dispatch' }]]),
      ],
    }),
    /dispatches inet_service by map @dispatch keyed by ipv4_addr/,
  );
  onlyProblem(
    good({ maps: [], chains: [chain('x', [[{ kind: 'counter', name: 'nope' }, accept]])] }),
    /names missing counter nope/,
  );
});

test('literals of the wrong type, verdicts inside a rule, empty rules', () => {
  onlyProblem(
    good({ maps: [], chains: [chain('x', [[cmp(['ct state'], 'establishd'), accept]])] }),
    /chain x rule 1 \(ct state establishd accept\): establishd is not a ct_state/,
  );
  onlyProblem(
    good({ maps: [], chains: [chain('x', [[cmp(['th dport'], '70000'), accept]])] }),
    /70000 is out of range 0-65535/,
  );
  onlyProblem(
    good({ maps: [], chains: [chain('x', [[accept, cmp(['meta l4proto'], 'tcp')]])] }),
    /a verdict must end the rule/,
  );
  onlyProblem(
    good({
      maps: [],
      chains: [
        chain('x', [
          [{ kind: 'bits', left: 'meta mark', mask: 0xf0, op: '==', value: 0x1 }, accept],
        ]),
      ],
    }),
    /value 0x00000001 has bits outside mask 0x000000f0: can never match/,
  );
  onlyProblem(good({ maps: [], chains: [chain('x', [[]])] }), /empty rule/);
  // nft: "packet limit burst must be > 0".
  onlyProblem(
    good({
      maps: [],
      chains: [chain('x', [[{ kind: 'limit', rate: 5, per: 'second', burst: 0 }, accept]])],
    }),
    /limit burst 0 is not a positive integer/,
  );
});

test("ruleProblems 'nft': only what nft refuses, not what can never match", () => {
  const never = {
    exprs: [{ kind: 'bits', left: 'meta mark', mask: 0xf0, op: '==', value: 0x1 } as const, accept],
    comment: '',
  };
  const twice = { exprs: [cmp(['ip saddr'], '10.0.0.1', '10.0.0.1'), accept], comment: '' };
  assert.equal(ruleProblems(never, 'inet').length, 1);
  assert.equal(ruleProblems(twice, 'inet').length, 1);
  assert.deepEqual(ruleProblems(never, 'inet', 'nft'), []);
  assert.deepEqual(ruleProblems(twice, 'inet', 'nft'), []);
  const wrong = { exprs: [cmp(['ip6 saddr'], '::1'), accept], comment: '' };
  assert.match(ruleProblems(wrong, 'ip', 'nft')[0] ?? '', /cannot match in a table of family ip/);
});

test('base chain priority', () => {
  onlyProblem(
    good({ maps: [], chains: [chain('forward', [], { ...forwardHook, priority: 'filtre' })] }),
    /priority filtre is not a number or a known name/,
  );
  assert.deepEqual(
    validateTable(
      good({
        maps: [],
        chains: [chain('forward', [], { ...forwardHook, priority: 'filter - 5' })],
      }),
    ),
    [],
  );
});

test('jump loops, directly and through a verdict map', () => {
  onlyProblem(
    good({ maps: [], chains: [chain('a', [[jump('b')]]), chain('b', [[jump('a')]])] }),
    /jump loop: a → b → a/,
  );
  onlyProblem(
    good({
      maps: [dispatch([{ key: '10.0.0.1', value: toChain('a') }])],
      chains: [chain('a', [[jump('b')]]), chain('b', [[vmap('dispatch')]])],
    }),
    /jump loop: a → b → a/,
  );
});

test('jumps nested deeper than the kernel allows', () => {
  const ladder = (n: number) => [
    chain('forward', [[jump('c1')]], forwardHook),
    ...Array.from({ length: n }, (_, i) =>
      chain(`c${i + 1}`, i + 1 < n ? [[jump(`c${i + 2}`)]] : [[accept]]),
    ),
  ];
  assert.deepEqual(validateTable(good({ maps: [], chains: ladder(MAX_JUMP_DEPTH) })), []);
  onlyProblem(
    good({ maps: [], chains: ladder(MAX_JUMP_DEPTH + 1) }),
    /base chain forward nests 16 jumps deep/,
  );
});
