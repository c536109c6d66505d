import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cidrContains, cidrNth, cidrSize, parseCidr } from '../net/cidr.js';
import { familyBits, formatIp, parseIp } from '../net/ip.js';
import type { Cidr, IpAddr, IpFamily } from '../net/types.js';
import { isUsable, nextCandidates, usableRange } from './pool.js';

const RUNS = { numRuns: 300 };

function cidr(s: string): Cidr {
  const parsed = parseCidr(s);
  assert.ok(parsed !== undefined && !parsed.hadHostBits, `expected a clean CIDR: ${s}`);
  return parsed.cidr;
}

function ip(s: string): IpAddr {
  const a = parseIp(s);
  assert.ok(a !== undefined, `expected an address: ${s}`);
  return a;
}

function texts(ips: Iterable<IpAddr>): string[] {
  return [...ips].map(formatIp);
}

/** The first `n` addresses of an iterable, without walking the rest. */
function take(ips: Iterable<IpAddr>, n: number): IpAddr[] {
  const out: IpAddr[] = [];
  for (const a of ips) {
    if (out.length >= n) break;
    out.push(a);
  }
  return out;
}

/**
 * The oracle, written from the rule rather than from the code: every address
 * of the block by index, minus index 0 (network / subnet-router anycast) and,
 * for IPv4 blocks of four or more addresses, the last index (broadcast).
 */
function expectedUsable(c: Cidr): IpAddr[] {
  const size = cidrSize(c);
  const out: IpAddr[] = [];
  for (let n = 0n; n < size; n++) {
    if (n === 0n) continue;
    if (c.family === 4 && c.prefix <= 30 && n === size - 1n) continue;
    const a = cidrNth(c, n);
    assert.ok(a !== undefined);
    out.push(a);
  }
  return out;
}

const familyArb = fc.constantFrom<IpFamily>(4, 6);
const valueArb = (f: IpFamily) => fc.bigInt({ min: 0n, max: (1n << BigInt(familyBits(f))) - 1n });

/** Blocks small enough to walk completely: at most 2^9 addresses. */
const smallCidrArb = familyArb.chain((f) =>
  fc.tuple(valueArb(f), fc.integer({ min: 0, max: 9 })).map(([v, hostBits]): Cidr => {
    const h = BigInt(hostBits);
    return { family: f, base: (v >> h) << h, prefix: familyBits(f) - hostBits };
  }),
);

/** An `after` that is often inside the block, sometimes at its edges, sometimes elsewhere. */
function afterArb(c: Cidr): fc.Arbitrary<IpAddr | undefined> {
  const size = cidrSize(c);
  return fc.oneof(
    fc.constant(undefined),
    fc
      .bigInt({ min: 0n, max: size - 1n })
      .map((n): IpAddr => ({ family: c.family, value: c.base + n })),
    fc.constantFrom<IpAddr>(
      { family: c.family, value: c.base },
      { family: c.family, value: c.base + size - 1n },
    ),
    valueArb(c.family).map((value): IpAddr => ({ family: c.family, value })),
    valueArb(c.family === 4 ? 6 : 4).map((value): IpAddr => ({
      family: c.family === 4 ? 6 : 4,
      value,
    })),
  );
}

const caseArb = smallCidrArb.chain((c) => afterArb(c).map((after) => ({ c, after })));

test('usableRange: the table of small and edge blocks', () => {
  const cases: [string, string[] | { first: string; last: string; size: bigint }][] = [
    ['10.0.0.0/30', ['10.0.0.1', '10.0.0.2']],
    ['10.0.0.0/31', ['10.0.0.1']],
    ['10.0.0.7/32', []],
    ['10.0.0.0/29', ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']],
    ['10.1.2.0/24', { first: '10.1.2.1', last: '10.1.2.254', size: 254n }],
    ['0.0.0.0/0', { first: '0.0.0.1', last: '255.255.255.254', size: 2n ** 32n - 2n }],
    ['fd00::/126', ['fd00::1', 'fd00::2', 'fd00::3']],
    ['fd00::/127', ['fd00::1']],
    ['fd00::5/128', []],
    ['fd00::/120', { first: 'fd00::1', last: 'fd00::ff', size: 255n }],
    [
      'fd00:1::/64',
      { first: 'fd00:1::1', last: 'fd00:1::ffff:ffff:ffff:ffff', size: 2n ** 64n - 1n },
    ],
    [
      '::/0',
      { first: '::1', last: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', size: 2n ** 128n - 1n },
    ],
  ];
  for (const [text, want] of cases) {
    const c = cidr(text);
    const range = usableRange(c);
    if (Array.isArray(want)) {
      assert.deepEqual(texts(nextCandidates(c)), want, text);
      if (want.length === 0) assert.equal(range, undefined, text);
      else assert.equal(range?.size, BigInt(want.length), text);
    } else {
      assert.ok(range !== undefined, text);
      assert.deepEqual(
        { first: formatIp(range.first), last: formatIp(range.last), size: range.size },
        want,
        text,
      );
    }
  }
});

test('nextCandidates walks every usable address exactly once, and nothing else', () => {
  fc.assert(
    fc.property(caseArb, ({ c, after }) => {
      const got = [...nextCandidates(c, after)];
      const want = expectedUsable(c);
      assert.equal(got.length, want.length);
      const sortedGot = [...got].sort((a, b) => (a.value < b.value ? -1 : 1));
      assert.deepEqual(sortedGot, want);
      for (const a of got) {
        assert.ok(cidrContains(c, a) && isUsable(c, a));
      }
      assert.equal(usableRange(c)?.size ?? 0n, BigInt(want.length));
    }),
    RUNS,
  );
});

test('nextCandidates starts just after `after`, steps by one and wraps once', () => {
  fc.assert(
    fc.property(caseArb, ({ c, after }) => {
      const got = [...nextCandidates(c, after)];
      const usable = expectedUsable(c);
      const firstUsable = usable[0];
      if (firstUsable === undefined) return;
      const sameFamily = after !== undefined && after.family === c.family;
      const start = (sameFamily && usable.find((a) => a.value > after.value)) || firstUsable;
      assert.deepEqual(got[0], start);
      let wraps = 0;
      for (let i = 1; i < got.length; i++) {
        const prev = got[i - 1] as IpAddr;
        const cur = got[i] as IpAddr;
        if (cur.value === prev.value + 1n) continue;
        wraps++;
        assert.deepEqual(cur, firstUsable, 'a jump only ever goes back to the first address');
      }
      assert.ok(wraps <= 1);
      // The address reserved last is tried last: it is not reused at once.
      if (after !== undefined && isUsable(c, after)) assert.deepEqual(got.at(-1), after);
    }),
    RUNS,
  );
});

test('nextCandidates is lazy and correct at the start of huge blocks', () => {
  const c = cidr('fd00:1::/64');
  assert.deepEqual(texts(take(nextCandidates(c), 3)), ['fd00:1::1', 'fd00:1::2', 'fd00:1::3']);
  assert.deepEqual(texts(take(nextCandidates(c, ip('fd00:1::ffff:ffff:ffff:fffe')), 3)), [
    'fd00:1::ffff:ffff:ffff:ffff',
    'fd00:1::1',
    'fd00:1::2',
  ]);
  const v4 = cidr('10.0.0.0/8');
  assert.deepEqual(texts(take(nextCandidates(v4, ip('10.255.255.254')), 2)), [
    '10.0.0.1',
    '10.0.0.2',
  ]);
  assert.deepEqual(texts(take(nextCandidates(v4, ip('10.255.255.255')), 1)), ['10.0.0.1']);
  assert.deepEqual(texts(take(nextCandidates(v4, ip('10.4.0.255')), 1)), ['10.4.1.0']);
});

test('nextCandidates ignores an `after` outside the pool or of the other family', () => {
  const c = cidr('10.0.0.0/30');
  for (const after of ['10.0.0.0', '10.0.0.3', '192.168.1.1', '9.255.255.255', 'fd00::1']) {
    assert.deepEqual(texts(nextCandidates(c, ip(after))), ['10.0.0.1', '10.0.0.2'], after);
  }
  assert.deepEqual(texts(nextCandidates(c, ip('10.0.0.1'))), ['10.0.0.2', '10.0.0.1']);
  assert.deepEqual(texts(nextCandidates(cidr('10.0.0.0/31'), ip('10.0.0.1'))), ['10.0.0.1']);
  assert.deepEqual(texts(nextCandidates(cidr('fd00::/128'), ip('fd00::'))), []);
});

test('isUsable agrees with the oracle on every address of small blocks', () => {
  fc.assert(
    fc.property(smallCidrArb, (c) => {
      const usable = new Set(expectedUsable(c).map((a) => a.value));
      for (let n = 0n; n < cidrSize(c); n++) {
        const a = cidrNth(c, n) as IpAddr;
        assert.equal(isUsable(c, a), usable.has(a.value));
      }
      const other: IpAddr = { family: c.family === 4 ? 6 : 4, value: c.base + 1n };
      assert.equal(isUsable(c, other), false);
    }),
    { numRuns: 100 },
  );
});
