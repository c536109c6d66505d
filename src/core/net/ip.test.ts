import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareIp, familyBits, formatIp, ipEquals, ipKey, parseIp } from './ip.js';
import type { IpAddr } from './types.js';

const RUNS = { numRuns: 200 };

function v4(s: string): IpAddr {
  const a = parseIp(s);
  assert.ok(a !== undefined && a.family === 4, `expected IPv4: ${s}`);
  return a;
}

function v6(s: string): IpAddr {
  const a = parseIp(s);
  assert.ok(a !== undefined && a.family === 6, `expected IPv6: ${s}`);
  return a;
}

/** Eight 16-bit groups, with zeros common so that zero runs of every length occur. */
const groupsArb = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
  minLength: 8,
  maxLength: 8,
});

function groupsValue(groups: readonly number[]): bigint {
  return groups.reduce((v, g) => (v << 16n) | BigInt(g), 0n);
}

const v4Arb = fc
  .bigInt({ min: 0n, max: 2n ** 32n - 1n })
  .map((value): IpAddr => ({ family: 4, value }));
const v6Arb = groupsArb.map((g): IpAddr => ({ family: 6, value: groupsValue(g) }));
const ipArb = fc.oneof(v4Arb, v6Arb);

/** Choices for writing an IPv6 address in one of its many valid, non-canonical text forms. */
const renderArb = fc.record({
  groups: groupsArb,
  pad: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
  upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
  compressAt: fc.option(fc.integer({ min: 0, max: 7 })),
  compressLen: fc.integer({ min: 1, max: 8 }),
  embedV4: fc.boolean(),
});

type Render = typeof renderArb extends fc.Arbitrary<infer T> ? T : never;

/** Writes the groups with optional leading zeros, mixed case, one `::` and a dotted tail. */
function render(r: Render): string {
  const text = r.groups.map((g, i) => {
    const hex = g.toString(16).padStart(Math.min(4, g.toString(16).length + (r.pad[i] ?? 0)), '0');
    return r.upper[i] ? hex.toUpperCase() : hex;
  });
  // Compress a run of zero groups starting at compressAt, as long as zeros last.
  let start = -1;
  let end = -1;
  if (r.compressAt !== null && r.groups[r.compressAt] === 0) {
    start = r.compressAt;
    end = start;
    while (end < 8 && end - start < r.compressLen && r.groups[end] === 0) end++;
  }
  const embed = r.embedV4 && (start < 0 || end <= 6);
  if (embed) {
    const hi = r.groups[6] ?? 0;
    const lo = r.groups[7] ?? 0;
    text.splice(6, 2, [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.'));
  }
  if (start < 0) return text.join(':');
  return `${text.slice(0, start).join(':')}::${text.slice(end).join(':')}`;
}

test('familyBits', () => {
  assert.equal(familyBits(4), 32);
  assert.equal(familyBits(6), 128);
});

test('IPv4: valid dotted quads', () => {
  assert.deepEqual(parseIp('0.0.0.0'), { family: 4, value: 0n });
  assert.deepEqual(parseIp('255.255.255.255'), { family: 4, value: 0xffffffffn });
  assert.deepEqual(parseIp('10.1.2.3'), { family: 4, value: 0x0a010203n });
  assert.deepEqual(parseIp('192.168.0.10'), { family: 4, value: 0xc0a8000an });
  assert.equal(formatIp(v4('10.0.0.1')), '10.0.0.1');
});

test('IPv4: rejected inputs', () => {
  for (const s of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.0',
    '1.2.3.1000',
    '01.2.3.4',
    '1.2.3.00',
    '1.2.3.04',
    '0x1.2.3.4',
    '+1.2.3.4',
    '1.2.3.-4',
    '1..2.3',
    '1.2.3.4.',
    '.1.2.3.4',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3.4\n',
    '1.2.3.4/32',
    '1e2.0.0.0',
    '\u0661.2.3.4',
    '1.2.3.4%eth0',
    '16909060',
  ]) {
    assert.equal(parseIp(s), undefined, JSON.stringify(s));
  }
});

test('IPv6: RFC 4291 text forms parse to the right value', () => {
  const cases: [string, string][] = [
    ['2001:DB8:0:0:8:800:200C:417A', '2001:db8::8:800:200c:417a'],
    ['2001:db8::8:800:200c:417a', '2001:db8::8:800:200c:417a'],
    ['FF01:0:0:0:0:0:0:101', 'ff01::101'],
    ['FF01::101', 'ff01::101'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::', '::'],
    ['1::', '1::'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['0:0:0:0:0:0:13.1.68.3', '::d01:4403'],
    ['::13.1.68.3', '::d01:4403'],
    ['0:0:0:0:0:FFFF:129.144.52.38', '::ffff:8190:3426'],
    ['::FFFF:129.144.52.38', '::ffff:8190:3426'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['1::1.2.3.4', '1::102:304'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['fE80::aBcD', 'fe80::abcd'],
  ];
  for (const [input, canonical] of cases) {
    assert.equal(formatIp(v6(input)), canonical, input);
  }
  assert.equal(v6('::ffff:1.2.3.4').value, 0xffff01020304n);
  assert.equal(v6('::ffff:1.2.3.4').family, 6, 'IPv4-mapped stays IPv6');
});

test('IPv6: RFC 5952 canonical output', () => {
  const cases: [string, string][] = [
    // 4.1: no leading zeros.
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    // 4.2.1: shorten as much as possible.
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    // 4.2.2: a single zero group is not compressed.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // 4.2.3: the longest run; the first one on a tie.
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    // 4.3: lowercase.
    ['2001:DB8::AbCd', '2001:db8::abcd'],
    // 5: no dotted tail, even for IPv4-mapped addresses.
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['0:1:0:1:0:1:0:1', '0:1:0:1:0:1:0:1'],
    ['1:0:0:1:1:0:0:0', '1:0:0:1:1::'],
  ];
  for (const [input, canonical] of cases) {
    assert.equal(formatIp(v6(input)), canonical, input);
  }
});

test('IPv6: rejected inputs', () => {
  for (const s of [
    ':',
    ':::',
    '1:::2',
    '1::2::3',
    '::1::',
    ':1::',
    '1::2:',
    ':1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8:',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '1:2:3:4::5:6:7:8',
    '12345::',
    '::00001',
    'g::',
    '::-1',
    '::+1',
    'fe80::1%eth0',
    'fe80::1%1',
    '[::1]',
    ' ::1',
    '::1 ',
    ':: 1',
    '::1\n',
    '::ffff:1.2.3',
    '::ffff:01.2.3.4',
    '::ffff:1.2.3.256',
    '::ffff:1.2.3.4.5',
    '1.2.3.4::',
    '1.2.3.4::1',
    '::1.2.3.4:5',
    '::1.2.3.4:',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1:2:3:4:5:6:7:8:1.2.3.4',
    '::1:2:3:4:5:6:1.2.3.4',
    '1:2:3:4:5:1.2.3.4',
    '0x1::',
  ]) {
    assert.equal(parseIp(s), undefined, JSON.stringify(s));
  }
});

test('equality, ordering and keys', () => {
  const a = v4('10.0.0.1');
  const b = v4('10.0.0.2');
  const c = v6('::a00:1');
  assert.ok(ipEquals(a, v4('10.0.0.1')));
  assert.ok(!ipEquals(a, b));
  assert.ok(!ipEquals(a, c), 'same value, other family');
  assert.ok(compareIp(a, b) < 0);
  assert.ok(compareIp(b, a) > 0);
  assert.equal(compareIp(a, v4('10.0.0.1')), 0);
  assert.ok(compareIp(v4('255.255.255.255'), v6('::')) < 0, 'IPv4 sorts before IPv6');
  assert.notEqual(ipKey(a), ipKey(c));
  assert.equal(ipKey(a), ipKey(v4('10.0.0.1')));
});

test('property: format then parse is the identity, both families', () => {
  fc.assert(
    fc.property(ipArb, (a) => {
      const text = formatIp(a);
      assert.deepEqual(parseIp(text), a);
      assert.equal(formatIp(parseIp(text) as IpAddr), text);
    }),
    RUNS,
  );
});

test('property: IPv4 text is four plain decimal octets', () => {
  fc.assert(
    fc.property(v4Arb, (a) => {
      assert.match(formatIp(a), /^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/);
    }),
    RUNS,
  );
});

test('property: IPv6 canonical text matches the WHATWG URL serializer', () => {
  fc.assert(
    fc.property(v6Arb, (a) => {
      const text = formatIp(a);
      assert.equal(new URL(`http://[${text}]/`).hostname, `[${text}]`);
    }),
    RUNS,
  );
});

test('property: every RFC 4291 text form parses to the same address', () => {
  fc.assert(
    fc.property(renderArb, (r) => {
      const text = render(r);
      const expected: IpAddr = { family: 6, value: groupsValue(r.groups) };
      assert.deepEqual(parseIp(text), expected, text);
      assert.equal(formatIp(expected), new URL(`http://[${text}]/`).hostname.slice(1, -1));
    }),
    RUNS,
  );
});

test('property: IPv6 acceptance agrees with the WHATWG URL parser', () => {
  const token = fc.constantFrom(
    '0',
    '1',
    'a',
    'F',
    'ffff',
    '00000',
    '01',
    '255',
    '256',
    ':',
    '::',
    '.',
    '1.2.3.4',
  );
  fc.assert(
    fc.property(fc.array(token, { minLength: 1, maxLength: 14 }), (tokens) => {
      const s = tokens.join('');
      if (!s.includes(':')) return;
      let url: string | undefined;
      try {
        url = new URL(`http://[${s}]/`).hostname.slice(1, -1);
      } catch {
        url = undefined;
      }
      const ours = parseIp(s);
      assert.equal(ours === undefined ? undefined : formatIp(ours), url, s);
    }),
    { numRuns: 500 },
  );
});

test('property: keys are unique exactly when addresses differ', () => {
  fc.assert(
    fc.property(ipArb, ipArb, fc.boolean(), (a, other, same) => {
      const b: IpAddr = same ? { ...a } : other;
      assert.equal(ipKey(a) === ipKey(b), ipEquals(a, b));
      assert.equal(compareIp(a, b) === 0, ipEquals(a, b));
      assert.equal(Math.sign(compareIp(a, b)) + Math.sign(compareIp(b, a)), 0, 'antisymmetric');
    }),
    RUNS,
  );
});
