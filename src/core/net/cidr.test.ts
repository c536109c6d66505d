import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CidrClaims,
  cidrContains,
  cidrContainsCidr,
  cidrFirst,
  cidrLast,
  cidrNth,
  cidrOverlaps,
  cidrSize,
  compareCidr,
  formatCidr,
  hostCidr,
  mergeCidrs,
  parseCidr,
  subtractCidrs,
} from './cidr.js';
import { familyBits, formatIp, parseIp } from './ip.js';
import type { Cidr, IpAddr, IpFamily } from './types.js';

const RUNS = { numRuns: 200 };

function cidr(s: string): Cidr {
  const parsed = parseCidr(s);
  assert.ok(parsed !== undefined, `expected a CIDR: ${s}`);
  return parsed.cidr;
}

function ip(s: string): IpAddr {
  const a = parseIp(s);
  assert.ok(a !== undefined, `expected an address: ${s}`);
  return a;
}

/** Builds a CIDR from any value by clearing its host bits (independently of parseCidr). */
function masked(family: IpFamily, value: bigint, prefix: number): Cidr {
  const host = BigInt(familyBits(family) - prefix);
  return { family, base: (value >> host) << host, prefix };
}

const familyArb = fc.constantFrom<IpFamily>(4, 6);
const valueArb = (f: IpFamily) => fc.bigInt({ min: 0n, max: (1n << BigInt(familyBits(f))) - 1n });
const anyCidrArb = familyArb.chain((f) =>
  fc
    .tuple(valueArb(f), fc.integer({ min: 0, max: familyBits(f) }))
    .map(([v, p]) => masked(f, v, p)),
);

/** CIDRs whose addresses differ from `anchor` only in the low bits, so they often overlap. */
function nearArb(f: IpFamily, anchor: bigint): fc.Arbitrary<Cidr> {
  const bits = familyBits(f);
  return fc
    .tuple(fc.bigInt({ min: 0n, max: (1n << 12n) - 1n }), fc.integer({ min: bits - 14, max: bits }))
    .map(([offset, p]) => masked(f, anchor ^ offset, p));
}

/** A family, an anchor, and a list of CIDRs clustered around it, plus a few strays. */
const clusterArb = familyArb.chain((f) =>
  valueArb(f).chain((anchor) =>
    fc.record({
      c: nearArb(f, anchor),
      list: fc.array(fc.oneof({ arbitrary: nearArb(f, anchor), weight: 6 }, anyCidrArb), {
        maxLength: 12,
      }),
      offsets: fc.array(valueArb(6), { minLength: 8, maxLength: 8 }),
    }),
  ),
);

/** Addresses worth probing: each block's edges and their neighbours, plus random inner ones. */
function probes(blocks: readonly Cidr[], offsets: readonly bigint[]): IpAddr[] {
  const out: IpAddr[] = [];
  for (const b of blocks) {
    const max = (1n << BigInt(familyBits(b.family))) - 1n;
    const first = cidrFirst(b).value;
    const last = cidrLast(b).value;
    const values = [first - 1n, first, last, last + 1n, first + cidrSize(b) / 2n];
    for (const o of offsets) values.push(first + (o % cidrSize(b)));
    for (const value of values) {
      if (value >= 0n && value <= max) out.push({ family: b.family, value });
    }
  }
  return out;
}

const inAny = (list: readonly Cidr[], a: IpAddr): boolean => list.some((c) => cidrContains(c, a));

function isSibling(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family || a.prefix !== b.prefix || a.prefix === 0) return false;
  // Both are aligned to their size, so siblings differ in exactly that one bit.
  return (a.base ^ b.base) === cidrSize(a);
}

/** Sorted, disjoint, and no two blocks could be joined into their parent. */
function assertCanonical(list: readonly Cidr[]): void {
  for (let i = 1; i < list.length; i++) {
    const prev = list[i - 1] as Cidr;
    const cur = list[i] as Cidr;
    assert.ok(compareCidr(prev, cur) < 0, 'sorted');
    if (prev.family !== cur.family) continue;
    assert.ok(cidrLast(prev).value < cur.base, `disjoint: ${formatCidr(prev)} ${formatCidr(cur)}`);
    assert.ok(!isSibling(prev, cur), `mergeable: ${formatCidr(prev)} ${formatCidr(cur)}`);
  }
}

test('parseCidr: valid blocks, host bits masked', () => {
  assert.deepEqual(parseCidr('10.1.2.3/8'), {
    cidr: { family: 4, base: 0x0a000000n, prefix: 8 },
    hadHostBits: true,
  });
  assert.deepEqual(parseCidr('10.0.0.0/8'), {
    cidr: { family: 4, base: 0x0a000000n, prefix: 8 },
    hadHostBits: false,
  });
  assert.deepEqual(parseCidr('0.0.0.0/0'), {
    cidr: { family: 4, base: 0n, prefix: 0 },
    hadHostBits: false,
  });
  assert.deepEqual(parseCidr('::/0'), {
    cidr: { family: 6, base: 0n, prefix: 0 },
    hadHostBits: false,
  });
  assert.equal(formatCidr(cidr('255.255.255.255/0')), '0.0.0.0/0');
  assert.equal(formatCidr(cidr('1.2.3.4/32')), '1.2.3.4/32');
  assert.equal(formatCidr(cidr('2001:DB8::1/64')), '2001:db8::/64');
  assert.equal(formatCidr(cidr('2001:db8:0:0:1::/128')), '2001:db8:0:0:1::/128');
  assert.equal(formatCidr(cidr('::ffff:10.1.2.3/104')), '::ffff:a00:0/104');
  assert.equal(cidr('::ffff:10.0.0.0/104').family, 6);
  assert.equal(parseCidr('2001:db8::1/64')?.hadHostBits, true);
});

test('parseCidr: rejected inputs', () => {
  for (const s of [
    '',
    '/8',
    '10.0.0.0',
    '::1',
    '10.0.0.0/',
    '10.0.0.0/33',
    '10.0.0.0/08',
    '10.0.0.0/00',
    '10.0.0.0/+8',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    '10.0.0.0/1e1',
    '10.0.0.0/0x8',
    '10.0.0.0/8.0',
    '10.0.0.0/ 8',
    '10.0.0.0 /8',
    ' 10.0.0.0/8',
    '10.0.0.0/8 ',
    '010.0.0.0/8',
    '::/129',
    '::/0128',
    '::/1000',
    '[::]/0',
    'fe80::1%eth0/64',
    '10.0.0.0/255.0.0.0',
  ]) {
    assert.equal(parseCidr(s), undefined, JSON.stringify(s));
  }
});

test('block arithmetic examples', () => {
  const c = cidr('10.0.0.0/30');
  assert.equal(cidrSize(c), 4n);
  assert.equal(cidrSize(cidr('::/0')), 1n << 128n);
  assert.deepEqual(cidrFirst(c), ip('10.0.0.0'));
  assert.deepEqual(cidrLast(c), ip('10.0.0.3'));
  assert.deepEqual(cidrLast(cidr('::/0')), ip('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'));
  assert.deepEqual(cidrNth(c, 2n), ip('10.0.0.2'));
  assert.equal(cidrNth(c, 4n), undefined);
  assert.equal(cidrNth(c, -1n), undefined);
  assert.deepEqual(hostCidr(ip('10.0.0.7')), cidr('10.0.0.7/32'));
  assert.deepEqual(hostCidr(ip('::7')), cidr('::7/128'));
  assert.ok(cidrContains(c, ip('10.0.0.3')));
  assert.ok(!cidrContains(c, ip('10.0.0.4')));
  assert.ok(!cidrContains(cidr('::/0'), ip('10.0.0.1')), 'no match across families');
  assert.ok(!cidrContains(cidr('0.0.0.0/0'), ip('::1')));
  assert.ok(cidrContainsCidr(cidr('10.0.0.0/8'), cidr('10.1.0.0/16')));
  assert.ok(cidrContainsCidr(cidr('10.0.0.0/8'), cidr('10.0.0.0/8')));
  assert.ok(!cidrContainsCidr(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')));
  assert.ok(!cidrContainsCidr(cidr('::/0'), cidr('10.0.0.0/8')));
  assert.ok(cidrOverlaps(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')));
  assert.ok(!cidrOverlaps(cidr('10.1.0.0/16'), cidr('10.2.0.0/16')));
  assert.ok(!cidrOverlaps(cidr('0.0.0.0/0'), cidr('::/0')));
});

test('compareCidr: family, then base, then prefix', () => {
  const sorted = [
    '10.0.0.0/8',
    '10.0.0.0/16',
    '10.1.0.0/16',
    '11.0.0.0/8',
    '::/0',
    '::/1',
    '::1/128',
  ];
  const shuffled = [...sorted].reverse().map(cidr);
  assert.deepEqual(shuffled.sort(compareCidr).map(formatCidr), sorted);
});

test('subtractCidrs examples', () => {
  const fmt = (list: Cidr[]) => list.map(formatCidr);
  assert.deepEqual(fmt(subtractCidrs(cidr('10.0.0.0/8'), [cidr('10.1.0.0/16')])), [
    '10.0.0.0/16',
    '10.2.0.0/15',
    '10.4.0.0/14',
    '10.8.0.0/13',
    '10.16.0.0/12',
    '10.32.0.0/11',
    '10.64.0.0/10',
    '10.128.0.0/9',
  ]);
  const c = cidr('10.0.0.0/24');
  assert.deepEqual(fmt(subtractCidrs(c, [])), ['10.0.0.0/24']);
  assert.deepEqual(fmt(subtractCidrs(c, [cidr('10.0.0.0/8')])), [], 'except larger than c');
  assert.deepEqual(fmt(subtractCidrs(c, [cidr('::/0'), cidr('11.0.0.0/8')])), ['10.0.0.0/24']);
  assert.deepEqual(
    fmt(subtractCidrs(c, [cidr('10.0.0.0/26'), cidr('10.0.0.192/26'), cidr('10.0.0.0/25')])),
    ['10.0.0.128/26'],
  );
  assert.deepEqual(fmt(subtractCidrs(cidr('::/126'), [cidr('::1/128')])), ['::/128', '::2/127']);
  assert.equal(subtractCidrs(cidr('::/0'), [cidr('::1/128')]).length, 128);
});

/** The last block of a sorted list whose base is at most `value`, by binary search. */
function lastStartingBefore(sorted: readonly Cidr[], value: bigint): Cidr | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as Cidr).base <= value) lo = mid + 1;
    else hi = mid;
  }
  return sorted[lo - 1];
}

test('subtractCidrs handles 1000 overlapping excepts', () => {
  const c = cidr('10.0.0.0/8');
  const except = Array.from({ length: 1000 }, (_, i) =>
    masked(4, 0x0a000000n + BigInt((i * 2654435761) % 0x1000000), 20 + (i % 13)),
  );
  const result = subtractCidrs(c, except);
  assertCanonical(result);
  // No piece touches an except (checking the nearest piece suffices: pieces are
  // sorted and disjoint), and pieces plus the excepts' union fill c exactly.
  for (const e of except) {
    const r = lastStartingBefore(result, cidrLast(e).value);
    assert.ok(r === undefined || !cidrOverlaps(r, e), `${formatCidr(e)} removed`);
  }
  const total = (list: readonly Cidr[]) => list.reduce((n, x) => n + cidrSize(x), 0n);
  assert.equal(total(result) + total(mergeCidrs(except)), cidrSize(c));
});

test('mergeCidrs examples', () => {
  const merge = (list: string[]) => mergeCidrs(list.map(cidr)).map(formatCidr);
  assert.deepEqual(merge([]), []);
  assert.deepEqual(merge(['10.0.0.128/25', '10.0.0.0/25']), ['10.0.0.0/24']);
  assert.deepEqual(merge(['10.0.0.0/24', '10.0.0.0/8', '10.9.0.0/16']), ['10.0.0.0/8']);
  assert.deepEqual(merge(['10.0.1.0/24', '10.0.2.0/24']), ['10.0.1.0/24', '10.0.2.0/24']);
  assert.deepEqual(merge(['10.0.2.0/23', '10.0.1.0/24', '10.0.0.0/24']), ['10.0.0.0/22']);
  assert.deepEqual(merge(['::/1', '10.0.0.0/8', '8000::/1', '10.0.0.0/8']), ['10.0.0.0/8', '::/0']);
  assert.deepEqual(merge(['0.0.0.0/1', '128.0.0.0/1']), ['0.0.0.0/0']);
});

test('property: parseCidr ∘ formatCidr is the identity', () => {
  fc.assert(
    fc.property(anyCidrArb, (c) => {
      assert.deepEqual(parseCidr(formatCidr(c)), { cidr: c, hadHostBits: false });
    }),
    RUNS,
  );
});

test('property: parseCidr masks host bits and reports them', () => {
  fc.assert(
    fc.property(familyArb, valueArb(6), fc.integer({ min: 0, max: 128 }), (f, v, p) => {
      const bits = familyBits(f);
      const value = v % (1n << BigInt(bits));
      const prefix = p % (bits + 1);
      const parsed = parseCidr(`${formatIp({ family: f, value })}/${prefix}`);
      const expected = masked(f, value, prefix);
      assert.deepEqual(parsed, { cidr: expected, hadHostBits: expected.base !== value });
    }),
    RUNS,
  );
});

test('property: containment, overlap and nth agree with address ranges', () => {
  fc.assert(
    fc.property(clusterArb, ({ c, list, offsets }) => {
      const other = list[0] ?? c;
      const [lo, hi] = [cidrFirst(c).value, cidrLast(c).value];
      for (const a of probes(list, offsets)) {
        assert.equal(cidrContains(c, a), a.family === c.family && lo <= a.value && a.value <= hi);
      }
      const same = c.family === other.family;
      const overlapByRange = same && lo <= cidrLast(other).value && other.base <= hi;
      assert.equal(cidrOverlaps(c, other), overlapByRange);
      assert.equal(
        cidrContainsCidr(c, other),
        same && lo <= other.base && cidrLast(other).value <= hi,
      );
      assert.deepEqual(cidrNth(c, 0n), cidrFirst(c));
      assert.deepEqual(cidrNth(c, cidrSize(c) - 1n), cidrLast(c));
      assert.equal(cidrNth(c, cidrSize(c)), undefined);
      const n = (offsets[0] ?? 0n) % cidrSize(c);
      assert.ok(cidrContains(c, cidrNth(c, n) as IpAddr));
    }),
    RUNS,
  );
});

test('property: subtractCidrs removes exactly the excepts, minimally', () => {
  fc.assert(
    fc.property(clusterArb, ({ c, list: except, offsets }) => {
      const result = subtractCidrs(c, except);
      assertCanonical(result);
      for (const r of result) assert.ok(cidrContainsCidr(c, r), `${formatCidr(r)} inside c`);
      for (const a of probes([c, ...except, ...result], offsets)) {
        const expected = cidrContains(c, a) && !inAny(except, a);
        assert.equal(inAny(result, a), expected, `probe ${a.family}:${a.value}`);
      }
    }),
    RUNS,
  );
});

test('property: mergeCidrs covers exactly the union, minimally', () => {
  fc.assert(
    fc.property(clusterArb, ({ c, list, offsets }) => {
      const input = [c, ...list];
      const result = mergeCidrs(input);
      assertCanonical(result);
      for (const a of probes([...input, ...result], offsets)) {
        assert.equal(inAny(result, a), inAny(input, a), `probe ${a.family}:${a.value}`);
      }
      assert.deepEqual(mergeCidrs([...input].reverse()), result, 'order does not matter');
      assert.deepEqual(mergeCidrs(result), result, 'idempotent');
    }),
    RUNS,
  );
});

test('property: CidrClaims refuses exactly the blocks that overlap one claimed, and names one of them', () => {
  fc.assert(
    fc.property(clusterArb, ({ c, list }) => {
      const claims = new CidrClaims();
      const kept: Cidr[] = [];
      for (const block of [c, ...list]) {
        // Judged by address ranges, independently of cidrOverlaps.
        const overlapping = kept.filter(
          (k) =>
            k.family === block.family &&
            k.base <= cidrLast(block).value &&
            block.base <= cidrLast(k).value,
        );
        const clash = claims.claim(block);
        if (overlapping.length === 0) {
          assert.equal(clash, undefined, `${formatCidr(block)} overlaps nothing claimed`);
          kept.push(block);
        } else {
          assert.ok(clash !== undefined, `${formatCidr(block)} overlaps a claimed block`);
          assert.ok(
            overlapping.includes(clash),
            `${formatCidr(clash)} is one of those it overlaps`,
          );
        }
      }
    }),
    RUNS,
  );
});

test('CidrClaims: examples', () => {
  const claims = new CidrClaims();
  assert.equal(claims.claim(cidr('10.244.1.0/24')), undefined);
  assert.equal(claims.claim(cidr('10.244.2.0/24')), undefined);
  assert.deepEqual(claims.claim(cidr('10.244.1.0/24')), cidr('10.244.1.0/24'), 'the same block');
  assert.deepEqual(claims.claim(cidr('10.244.1.128/25')), cidr('10.244.1.0/24'), 'inside one');
  assert.ok(claims.claim(cidr('10.244.0.0/16')), 'around both');
  assert.equal(claims.claim(cidr('10.245.0.0/16')), undefined);
  assert.equal(claims.claim(cidr('fd00:10:244:1::/64')), undefined, 'another family');
});
