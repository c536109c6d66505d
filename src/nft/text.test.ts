import test from 'node:test';
import assert from 'node:assert/strict';
import { accept, cmp, drop, jump, lookup } from './build.js';
import type { NftChain, NftExpr, NftMap, NftSet, NftTable } from './model.js';
import { clampComment, ELEMENT_CHUNK, tableText, transactionText } from './text.js';
import * as tx from './transactions.js';

/** The scripts the transactions render to. */
const fullTransaction = (t: NftTable) => transactionText(tx.fullTransaction(t));
function partialTransaction(prev: NftTable, next: NftTable): string | undefined {
  const partial = tx.partialTransaction(prev, next);
  return partial && transactionText(partial);
}
const vmap = (left: 'ip saddr' | 'ip daddr', map: string): NftExpr => ({
  kind: 'vmap',
  left: [left],
  map,
});

function table(parts: { sets?: NftSet[]; maps?: NftMap[]; chains?: NftChain[] }): NftTable {
  return {
    family: 'inet',
    name: 'weft',
    sets: new Map((parts.sets ?? []).map((s) => [s.name, s])),
    maps: new Map((parts.maps ?? []).map((m) => [m.name, m])),
    chains: new Map((parts.chains ?? []).map((c) => [c.name, c])),
  };
}

const pods: NftSet = {
  name: 'pods_v4',
  type: ['ipv4_addr'],
  interval: true,
  comment: 'all pod CIDRs',
  elements: ['10.244.0.0/24', '10.244.1.0/24'],
};
const web: NftSet = {
  name: 'np_web_ports',
  type: ['ipv4_addr', 'inet_proto', 'inet_service'],
  interval: false,
  comment: 'NetworkPolicy shop/web',
  elements: ['10.244.0.5 . tcp . 80'],
};
const empty: NftSet = {
  name: 'ipb_none',
  type: ['ipv4_addr'],
  interval: true,
  comment: '',
  elements: [],
};
const dispatch: NftMap = {
  name: 'ingress_dispatch',
  key: ['ipv4_addr'],
  comment: 'pod IP → its ingress chain',
  elements: [{ key: '10.244.0.5', value: { kind: 'jump', chain: 'ep_web_in' } }],
};
const epWeb: NftChain = {
  name: 'ep_web_in',
  comment: 'Pod shop/web ingress',
  rules: [
    {
      exprs: [lookup(['ip saddr', 'meta l4proto', 'th dport'], 'np_web_ports'), accept],
      comment: 'shop/web rule 1',
    },
    { exprs: [drop], comment: '' },
  ],
};
const forward: NftChain = {
  name: 'forward',
  comment: 'weft: every routed packet',
  base: { type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' },
  rules: [{ exprs: [vmap('ip daddr', 'ingress_dispatch')], comment: "to the pod's chain" }],
};
const small = table({ sets: [pods, web, empty], maps: [dispatch], chains: [forward, epWeb] });

const SMALL_TEXT = `table inet weft {
	set ipb_none {
		type ipv4_addr
		flags interval
	}

	set np_web_ports {
		type ipv4_addr . inet_proto . inet_service
		comment "NetworkPolicy shop/web"
		elements = { 10.244.0.5 . tcp . 80 }
	}

	set pods_v4 {
		type ipv4_addr
		flags interval
		comment "all pod CIDRs"
		elements = { 10.244.0.0/24, 10.244.1.0/24 }
	}

	map ingress_dispatch {
		type ipv4_addr : verdict
		comment "pod IP → its ingress chain"
		elements = { 10.244.0.5 : jump ep_web_in }
	}

	chain ep_web_in {
		comment "Pod shop/web ingress"
		ip saddr . meta l4proto . th dport @np_web_ports accept comment "shop/web rule 1"
		drop
	}

	chain forward {
		comment "weft: every routed packet"
		type filter hook forward priority filter; policy accept;
		ip daddr vmap @ingress_dispatch comment "to the pod's chain"
	}
}
`;

test('tableText: a small table, by hand', () => {
  assert.equal(tableText(small), SMALL_TEXT);
});

test('tableText: an empty table', () => {
  assert.equal(tableText(table({})), 'table inet weft {\n}\n');
});

test('tableText: long element lists go one per line', () => {
  const many = { ...pods, elements: Array.from({ length: 12 }, (_, i) => `10.0.${i}.0/24`) };
  const text = tableText(table({ sets: [many] }));
  assert.match(text, /\t\telements = \{\n\t\t\t10\.0\.0\.0\/24,\n\t\t\t10\.0\.1\.0\/24,\n/);
  assert.match(text, /\t\t\t10\.0\.11\.0\/24\n\t\t\}\n\t\}\n\}\n$/);
});

test('fullTransaction: add, delete, then the whole table', () => {
  assert.equal(
    fullTransaction(small),
    `add table inet weft\ndelete table inet weft\n${SMALL_TEXT}`,
  );
});

test('fullTransaction: elements past the first chunk follow as add element', () => {
  const n = ELEMENT_CHUNK * 2 + 5;
  const big = {
    ...web,
    elements: Array.from({ length: n }, (_, i) => `10.1.${i >> 8}.${i & 255} . tcp . 80`),
  };
  const text = fullTransaction(table({ sets: [big] }));
  const adds = text
    .split('\n')
    .filter((l) => l.startsWith('add element inet weft np_web_ports { '));
  assert.equal(adds.length, 2);
  assert.equal(adds[0]?.split(', ').length, ELEMENT_CHUNK);
  assert.equal(adds[1]?.split(', ').length, 5);
  assert.equal(text.split('\n').filter((l) => l.startsWith('\t\t\t10.1.')).length, ELEMENT_CHUNK);
});

test('clampComment: short ASCII stays as it is', () => {
  assert.equal(clampComment('NetworkPolicy shop/web'), 'NetworkPolicy shop/web');
  assert.equal(clampComment(''), '');
});

test('clampComment: quotes and newlines cannot break the nft string', () => {
  assert.equal(clampComment('say "hi"\nnext\tline\r'), "say 'hi' next line ");
  assert.equal(clampComment('lone \ud800 surrogate'), 'lone \uFFFD surrogate');
});

const bytes = (s: string) => new TextEncoder().encode(s).length;

test('clampComment: exactly 128 bytes is kept, 129 is cut with …', () => {
  assert.equal(clampComment('a'.repeat(128)), 'a'.repeat(128));
  const cut = clampComment('a'.repeat(129));
  assert.equal(cut, `${'a'.repeat(125)}…`);
  assert.equal(bytes(cut), 128);
});

test('clampComment: multi-byte characters are never split', () => {
  // é is 2 bytes, 😀 is 4 bytes (a surrogate pair in UTF-16), € is 3 bytes.
  for (const ch of ['é', '😀', '€']) {
    for (let lead = 0; lead < 4; lead++) {
      const s = 'x'.repeat(lead) + ch.repeat(100);
      const out = clampComment(s);
      assert.ok(bytes(out) <= 128, `${ch} lead ${lead}: ${bytes(out)} bytes`);
      assert.ok(out.endsWith('…'));
      const body = out.slice(0, -1);
      assert.equal(body, s.slice(0, body.length), 'a prefix of the input');
      assert.ok(!/[\ud800-\udbff]$/.test(body), 'no dangling high surrogate');
      assert.ok(bytes(body) + 3 > 128 - bytes(ch), 'cut as late as possible');
    }
  }
  assert.equal(clampComment('é'.repeat(64)), 'é'.repeat(64), '128 bytes of é fit');
});

test('clampComment: idempotent', () => {
  for (const s of ['a'.repeat(300), '😀'.repeat(50), 'q"u\no"te'])
    assert.equal(clampComment(clampComment(s)), clampComment(s));
});

// partialTransaction: one kind of change at a time.

test('partial: nothing changed is the empty script', () => {
  assert.equal(partialTransaction(small, small), '');
  const copy = table({
    sets: [{ ...pods }, { ...web }, { ...empty }],
    maps: [{ ...dispatch }],
    chains: [{ ...forward, rules: [...forward.rules] }, { ...epWeb }],
  });
  assert.equal(partialTransaction(small, copy), '');
});

test('partial: set elements added and deleted', () => {
  const next = table({
    sets: [{ ...pods, elements: ['10.244.1.0/24', '10.244.2.0/24'] }, web, empty],
    maps: [dispatch],
    chains: [forward, epWeb],
  });
  assert.equal(
    partialTransaction(small, next),
    'delete element inet weft pods_v4 { 10.244.0.0/24 }\n' +
      'add element inet weft pods_v4 { 10.244.2.0/24 }\n',
  );
});

test('partial: huge element changes are chunked', () => {
  const many = Array.from({ length: ELEMENT_CHUNK + 1 }, (_, i) => `10.9.${i >> 8}.${i & 255}`);
  const next = table({ sets: [{ ...empty, elements: many }] });
  const lines =
    partialTransaction(table({ sets: [empty] }), next)
      ?.trim()
      .split('\n') ?? [];
  assert.equal(lines.length, 2);
  assert.equal(lines[0]?.split(', ').length, ELEMENT_CHUNK);
  assert.equal(lines[1], `add element inet weft ipb_none { ${many[ELEMENT_CHUNK]} }`);
});

test('partial: map elements added, deleted, and revalued (delete then add)', () => {
  const prev = table({
    maps: [
      {
        ...dispatch,
        elements: [
          { key: '10.244.0.5', value: { kind: 'jump', chain: 'ep_web_in' } },
          { key: '10.244.0.6', value: { kind: 'drop' } },
        ],
      },
    ],
    chains: [epWeb],
  });
  const next = table({
    maps: [
      {
        ...dispatch,
        elements: [
          { key: '10.244.0.5', value: { kind: 'accept' } },
          { key: '10.244.0.7', value: { kind: 'jump', chain: 'ep_web_in' } },
        ],
      },
    ],
    chains: [epWeb],
  });
  assert.equal(
    partialTransaction(prev, next),
    'delete element inet weft ingress_dispatch { 10.244.0.5, 10.244.0.6 }\n' +
      'add element inet weft ingress_dispatch { 10.244.0.5 : accept, 10.244.0.7 : jump ep_web_in }\n',
  );
});

test('partial: a new set, map and chain are declared before anything uses them', () => {
  const next = table({
    sets: [pods, web, empty],
    maps: [
      dispatch,
      {
        ...dispatch,
        name: 'egress_dispatch',
        comment: 'egress',
        elements: [{ key: '10.244.0.5', value: { kind: 'jump', chain: 'ep_web_out' } }],
      },
    ],
    chains: [
      {
        ...forward,
        rules: [...forward.rules, { exprs: [vmap('ip saddr', 'egress_dispatch')], comment: 'out' }],
      },
      epWeb,
      {
        name: 'ep_web_out',
        comment: 'Pod shop/web egress',
        rules: [{ exprs: [lookup(['ip daddr'], 'np_new'), accept], comment: 'r' }],
      },
    ],
  });
  const withSet = table({
    sets: [
      ...next.sets.values(),
      {
        name: 'np_new',
        type: ['ipv4_addr'],
        interval: false,
        comment: 'new',
        elements: ['10.0.0.1'],
      },
    ],
    maps: [...next.maps.values()],
    chains: [...next.chains.values()],
  });
  assert.equal(
    partialTransaction(small, withSet),
    [
      'add set inet weft np_new { type ipv4_addr; comment "new"; }',
      'add map inet weft egress_dispatch { type ipv4_addr : verdict; comment "egress"; }',
      'add chain inet weft ep_web_out { comment "Pod shop/web egress"; }',
      'flush chain inet weft forward',
      'add element inet weft np_new { 10.0.0.1 }',
      'add element inet weft egress_dispatch { 10.244.0.5 : jump ep_web_out }',
      'add rule inet weft forward ip daddr vmap @ingress_dispatch comment "to the pod\'s chain"',
      'add rule inet weft forward ip saddr vmap @egress_dispatch comment "out"',
      'add rule inet weft ep_web_out ip daddr @np_new accept comment "r"',
      '',
    ].join('\n'),
  );
});

test('partial: a new base chain is declared with its hook', () => {
  const input: NftChain = {
    name: 'input',
    comment: '',
    base: { type: 'filter', hook: 'input', priority: '-10', policy: 'drop' },
    rules: [],
  };
  assert.equal(
    partialTransaction(table({}), table({ chains: [input] })),
    'add chain inet weft input { type filter hook input priority -10; policy drop; }\n',
  );
});

test('partial: a changed chain, base or not, is flushed and refilled', () => {
  const next = table({
    sets: [pods, web, empty],
    maps: [dispatch],
    chains: [
      {
        ...forward,
        rules: [
          { exprs: [cmp(['ct state'], 'established', 'related'), accept], comment: '' },
          ...forward.rules,
        ],
      },
      {
        ...epWeb,
        rules: [
          epWeb.rules[0] ?? { exprs: [], comment: '' },
          { exprs: [drop], comment: 'default deny' },
        ],
      },
    ],
  });
  assert.equal(
    partialTransaction(small, next),
    [
      'flush chain inet weft ep_web_in',
      'flush chain inet weft forward',
      'add rule inet weft ep_web_in ip saddr . meta l4proto . th dport @np_web_ports accept comment "shop/web rule 1"',
      'add rule inet weft ep_web_in drop comment "default deny"',
      'add rule inet weft forward ct state { established, related } accept',
      'add rule inet weft forward ip daddr vmap @ingress_dispatch comment "to the pod\'s chain"',
      '',
    ].join('\n'),
  );
});

test('partial: removed chains are flushed first and deleted after their referrers', () => {
  // The endpoint goes away: its map element, its chain, and the set only it used.
  const next = table({
    sets: [pods, empty],
    maps: [{ ...dispatch, elements: [] }],
    chains: [forward],
  });
  assert.equal(
    partialTransaction(small, next),
    [
      'delete element inet weft ingress_dispatch { 10.244.0.5 }',
      'flush chain inet weft ep_web_in',
      'delete chain inet weft ep_web_in',
      'delete set inet weft np_web_ports',
      '',
    ].join('\n'),
  );
});

test('partial: a removed map goes before the chains it jumped to', () => {
  const next = table({ sets: [pods, empty], chains: [{ ...forward, rules: [] }] });
  assert.equal(
    partialTransaction(small, next),
    [
      'flush chain inet weft forward',
      'flush chain inet weft ep_web_in',
      'delete map inet weft ingress_dispatch',
      'delete chain inet weft ep_web_in',
      'delete set inet weft np_web_ports',
      '',
    ].join('\n'),
  );
});

test('partial: every removal comes before every addition', () => {
  // a → b becomes b → a: adding b → a before flushing a would be a loop.
  const a = (rules: NftExpr[][]): NftChain => ({
    name: 'a',
    comment: '',
    rules: rules.map((exprs) => ({ exprs, comment: '' })),
  });
  const b = (rules: NftExpr[][]): NftChain => ({
    name: 'b',
    comment: '',
    rules: rules.map((exprs) => ({ exprs, comment: '' })),
  });
  const script = partialTransaction(
    table({ chains: [a([[jump('b')]]), b([])] }),
    table({ chains: [a([]), b([[jump('a')]])] }),
  );
  assert.equal(
    script,
    'flush chain inet weft a\nflush chain inet weft b\nadd rule inet weft b jump a\n',
  );
});

test('partial: what cannot change in place asks for a full sync', () => {
  const cases: [string, NftTable][] = [
    [
      'set type',
      table({
        sets: [{ ...pods, type: ['ipv6_addr'], elements: [] }, web, empty],
        maps: [dispatch],
        chains: [forward, epWeb],
      }),
    ],
    [
      'set flags',
      table({
        sets: [{ ...pods, interval: false, elements: [] }, web, empty],
        maps: [dispatch],
        chains: [forward, epWeb],
      }),
    ],
    [
      'set comment',
      table({
        sets: [{ ...pods, comment: 'renamed' }, web, empty],
        maps: [dispatch],
        chains: [forward, epWeb],
      }),
    ],
    [
      'map type',
      table({
        sets: [pods, web, empty],
        maps: [{ ...dispatch, key: ['ipv4_addr', 'inet_service'], elements: [] }],
        chains: [forward, epWeb],
      }),
    ],
    [
      'base hook',
      table({
        sets: [pods, web, empty],
        maps: [dispatch],
        chains: [
          {
            ...forward,
            base: { type: 'filter', hook: 'input', priority: 'filter', policy: 'accept' },
          },
          epWeb,
        ],
      }),
    ],
    [
      'base policy',
      table({
        sets: [pods, web, empty],
        maps: [dispatch],
        chains: [
          {
            ...forward,
            base: { type: 'filter', hook: 'forward', priority: 'filter', policy: 'drop' },
          },
          epWeb,
        ],
      }),
    ],
    [
      'base priority',
      table({
        sets: [pods, web, empty],
        maps: [dispatch],
        chains: [
          {
            ...forward,
            base: { type: 'filter', hook: 'forward', priority: '-5', policy: 'accept' },
          },
          epWeb,
        ],
      }),
    ],
    [
      'regular → base',
      table({
        sets: [pods, web, empty],
        maps: [dispatch],
        chains: [
          forward,
          { ...epWeb, base: { type: 'filter', hook: 'input', priority: '0', policy: 'accept' } },
        ],
      }),
    ],
    [
      'base → regular',
      table({
        sets: [pods, web, empty],
        maps: [dispatch],
        chains: [{ name: 'forward', comment: forward.comment, rules: forward.rules }, epWeb],
      }),
    ],
    [
      'chain comment',
      table({
        sets: [pods, web, empty],
        maps: [dispatch],
        chains: [forward, { ...epWeb, comment: 'other' }],
      }),
    ],
    [
      'set becomes map',
      table({
        sets: [pods, web],
        maps: [dispatch, { ...dispatch, name: 'ipb_none', elements: [] }],
        chains: [forward, epWeb],
      }),
    ],
  ];
  for (const [what, next] of cases) assert.equal(partialTransaction(small, next), undefined, what);
});

test('partial: comments are clamped the same way in both tables', () => {
  const long = 'x'.repeat(200);
  const prev = table({ sets: [{ ...pods, comment: long }] });
  const next = table({ sets: [{ ...pods, comment: `${long}y` }] });
  assert.equal(partialTransaction(prev, next), '', 'same comment once clamped');
  const script = partialTransaction(table({}), prev) ?? '';
  assert.match(script, new RegExp(`comment "${'x'.repeat(125)}…"`));
});
