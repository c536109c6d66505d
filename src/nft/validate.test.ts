import test from 'node:test';
import assert from 'node:assert/strict';
import type { NftChain, NftMap, NftSet, NftTable } from './model.js';
import { MAX_JUMP_DEPTH, ruleReferences, validateTable } from './validate.js';

function table(parts: { sets?: NftSet[]; maps?: NftMap[]; chains?: NftChain[] }): NftTable {
  return {
    sets: new Map((parts.sets ?? []).map((s) => [s.name, s])),
    maps: new Map((parts.maps ?? []).map((m) => [m.name, m])),
    chains: new Map((parts.chains ?? []).map((c) => [c.name, c])),
  };
}

const set = (name: string, type: string, interval: boolean, elements: string[]): NftSet => ({
  name,
  type,
  interval,
  comment: `set ${name}`,
  elements,
});
const chain = (name: string, rules: string[], base?: NftChain['base']): NftChain => ({
  name,
  comment: `chain ${name}`,
  rules: rules.map((text) => ({ text, comment: '' })),
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
  type: 'ipv4_addr : verdict',
  comment: 'pod → chain',
  elements,
});

/** A valid table; each test breaks one thing in it. */
function good(over: { sets?: NftSet[]; maps?: NftMap[]; chains?: NftChain[] } = {}): NftTable {
  return table({
    sets: over.sets ?? [
      set('pods', 'ipv4_addr', true, ['10.244.0.0/24', '10.244.1.7', '10.244.2.1-10.244.2.9']),
      set('pods6', 'ipv6_addr', true, ['fd00::/64', 'fd01::1']),
      set('ports', 'ipv4_addr . inet_proto . inet_service', false, ['10.0.0.1 . tcp . 80']),
      set('svc', 'inet_service', true, ['80', '8000-8080']),
    ],
    maps: over.maps ?? [dispatch([{ key: '10.244.0.5', value: 'jump ep_a' }])],
    chains: over.chains ?? [
      chain('ep_a', [
        'ip saddr @pods accept',
        'ip6 saddr @pods6 accept',
        'ip saddr . meta l4proto . th dport @ports accept',
        'tcp dport @svc accept',
        '@th,16,16 0x50 accept',
        'iifname "jump nowhere @x" accept',
        'jump ep_b',
      ]),
      chain('ep_b', ['drop']),
      chain(
        'forward',
        ['ip daddr vmap @dispatch', 'ip daddr vmap { 10.0.0.9 : goto ep_b }'],
        forwardHook,
      ),
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

test('ruleReferences: jumps, gotos and @names, not raw payloads or quoted text', () => {
  assert.deepEqual(ruleReferences('ip daddr vmap { 1.2.3.4 : jump a, 1.2.3.5 : goto b }'), {
    chains: ['a', 'b'],
    sets: [],
  });
  assert.deepEqual(ruleReferences('@th,16,16 1 ip saddr @s1 iifname "@s2 jump c" jump d'), {
    chains: ['d'],
    sets: ['s1'],
  });
});

test('a jump to a missing chain', () => {
  const t = good();
  const bad = table({
    sets: [...t.sets.values()],
    maps: [...t.maps.values()],
    chains: [...t.chains.values(), chain('ep_c', ['jump ep_gone'])],
  });
  onlyProblem(bad, /chain ep_c rule 1 \(jump ep_gone\): jumps to missing chain ep_gone/);
  onlyProblem(good({ chains: [chain('x', ['goto nope'])], maps: [] }), /missing chain nope/);
});

test('a map element jumping to a missing chain', () => {
  onlyProblem(
    good({
      maps: [
        dispatch([
          { key: '10.244.0.5', value: 'jump ep_a' },
          { key: '10.244.0.6', value: 'goto ep_z' },
        ]),
      ],
    }),
    /map dispatch element 10.244.0.6: jumps to missing chain ep_z/,
  );
});

test('a jump to a base chain', () => {
  onlyProblem(
    good({ maps: [], chains: [chain('forward', [], forwardHook), chain('x', ['jump forward'])] }),
    /jumps to base chain forward/,
  );
});

test('an unknown @set', () => {
  onlyProblem(
    good({ maps: [], chains: [chain('x', ['ip saddr @nope accept'])] }),
    /chain x rule 1 .*names missing set or map @nope/,
  );
});

test('elements of the wrong arity', () => {
  onlyProblem(
    good({
      sets: [set('ports', 'ipv4_addr . inet_proto . inet_service', false, ['10.0.0.1 . tcp'])],
      maps: [],
      chains: [],
    }),
    /set ports: element 10.0.0.1 . tcp has 2 parts; type has 3/,
  );
  onlyProblem(
    good({ maps: [dispatch([{ key: '10.0.0.1 . 80', value: 'drop' }])], chains: [] }),
    /map dispatch: element 10.0.0.1 . 80 has 2 parts; type has 1/,
  );
});

test('duplicate map keys and duplicate set elements', () => {
  onlyProblem(
    good({
      maps: [
        dispatch([
          { key: '10.0.0.1', value: 'drop' },
          { key: '10.0.0.1', value: 'accept' },
        ]),
      ],
      chains: [],
    }),
    /map dispatch: duplicate element 10.0.0.1/,
  );
  onlyProblem(
    good({ sets: [set('s', 'ipv4_addr', false, ['10.0.0.1', '10.0.0.1'])], maps: [], chains: [] }),
    /set s: duplicate element 10.0.0.1/,
  );
});

test('prefixes and ranges need flags interval', () => {
  onlyProblem(
    good({ sets: [set('s', 'ipv4_addr', false, ['10.0.0.0/8'])], maps: [], chains: [] }),
    /set s: element 10.0.0.0\/8 is a prefix or range; needs flags interval/,
  );
  onlyProblem(
    good({ sets: [set('s', 'inet_service', false, ['80-90'])], maps: [], chains: [] }),
    /needs flags interval/,
  );
  onlyProblem(
    good({ maps: [dispatch([{ key: '10.0.0.0/24', value: 'drop' }])], chains: [] }),
    /map dispatch: element 10.0.0.0\/24 is a prefix or range/,
  );
});

test('overlapping intervals and host bits', () => {
  onlyProblem(
    good({
      sets: [set('s', 'ipv4_addr', true, ['10.0.0.0/8', '10.1.0.0/16'])],
      maps: [],
      chains: [],
    }),
    /set s: elements 10.0.0.0\/8 and 10.1.0.0\/16 overlap/,
  );
  onlyProblem(
    good({ sets: [set('s', 'ipv6_addr', true, ['fd00::/8', 'fd00::1'])], maps: [], chains: [] }),
    /overlap/,
  );
  const problems = validateTable(
    good({
      sets: [set('s', 'ipv4_addr', true, ['10.0.0.0/8', '10.1.0.0/16', '10.2.0.0/16'])],
      maps: [],
      chains: [],
    }),
  );
  assert.equal(problems.length, 2, 'both /16s overlap the /8');
  onlyProblem(
    good({ sets: [set('s', 'ipv4_addr', true, ['10.0.0.1/8'])], maps: [], chains: [] }),
    /set s: 10.0.0.1\/8 has host bits set/,
  );
});

test('values that are not of the declared type', () => {
  const one = (type: string, e: string, re: RegExp) =>
    onlyProblem(good({ sets: [set('s', type, true, [e])], maps: [], chains: [] }), re);
  one('ipv4_addr', '10.0.0.300', /10.0.0.300 is not an IPv4 address/);
  one('ipv4_addr', 'fd00::1', /fd00::1 is not an IPv4 address/);
  one('ipv6_addr', '10.0.0.1/32', /is not an IPv6 CIDR/);
  one('inet_service', '70000', /70000 is out of range 0-65535/);
  one('ipv4_addr', '10.0.0.1, 10.0.0.2', /is not a single value/);
  one('ipv4_adr', '10.0.0.1', /set s: unknown datatype ipv4_adr/);
});

test('names: identifiers, not keywords, not too long, filed under themselves', () => {
  const named = (name: string) =>
    good({ sets: [set(name, 'ipv4_addr', false, [])], maps: [], chains: [] });
  onlyProblem(named('ep-web'), /set name "ep-web" is not an identifier/);
  onlyProblem(named('1ep'), /not an identifier/);
  onlyProblem(named('fwd'), /set name fwd is an nft keyword/);
  onlyProblem(named('x'.repeat(65)), /is 65 characters long; at most 64/);
  assert.deepEqual(validateTable(named('x'.repeat(64))), []);
  const misfiled: NftTable = {
    sets: new Map(),
    maps: new Map(),
    chains: new Map([['a', chain('b', [])]]),
  };
  onlyProblem(misfiled, /chain b is filed under the name a/);
  onlyProblem(
    good({ sets: [set('dispatch', 'ipv4_addr', false, [])], maps: [dispatch([])], chains: [] }),
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
      chains: [{ name: 'x', comment: '', rules: [{ text: 'accept', comment: 'say "hi"' }] }],
    }),
    /chain x rule 1 \(accept\): comment holds a quote/,
  );
});

test('maps: verdict values only', () => {
  onlyProblem(
    good({ maps: [dispatch([{ key: '10.0.0.1', value: 'jump' }])], chains: [] }),
    /maps to jump, not a verdict/,
  );
  onlyProblem(
    good({ maps: [{ ...dispatch([]), type: 'ipv4_addr : mark' }], chains: [] }),
    /value type mark is not verdict/,
  );
});

test('rule text is one statement without its comment', () => {
  onlyProblem(
    good({ maps: [], chains: [chain('x', ['accept; drop'])] }),
    /holds a newline, ';' or '#'/,
  );
  onlyProblem(
    good({ maps: [], chains: [chain('x', ['accept comment "c"'])] }),
    /comment belongs in the comment field/,
  );
  onlyProblem(good({ maps: [], chains: [chain('x', [' '])] }), /empty rule/);
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
    good({ maps: [], chains: [chain('a', ['jump b']), chain('b', ['jump a'])] }),
    /jump loop: a → b → a/,
  );
  onlyProblem(
    good({
      maps: [dispatch([{ key: '10.0.0.1', value: 'jump a' }])],
      chains: [chain('a', ['jump b']), chain('b', ['ip daddr vmap @dispatch'])],
    }),
    /jump loop: a → b → a/,
  );
});

test('jumps nested deeper than the kernel allows', () => {
  const ladder = (n: number) => [
    chain('forward', ['jump c1'], forwardHook),
    ...Array.from({ length: n }, (_, i) =>
      chain(`c${i + 1}`, i + 1 < n ? [`jump c${i + 2}`] : ['accept']),
    ),
  ];
  assert.deepEqual(validateTable(good({ maps: [], chains: ladder(MAX_JUMP_DEPTH) })), []);
  onlyProblem(
    good({ maps: [], chains: ladder(MAX_JUMP_DEPTH + 1) }),
    /base chain forward nests 16 jumps deep/,
  );
});
