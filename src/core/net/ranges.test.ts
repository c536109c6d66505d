import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AddressRanges } from './ranges.js';
import { cidrContains, mergeCidrs, parseCidr } from './cidr.js';
import { parseIp } from './ip.js';
import type { Cidr, IpAddr } from './types.js';

const cidr = (s: string): Cidr => {
  const c = parseCidr(s);
  if (!c) throw new Error(s);
  return c.cidr;
};
const ip = (s: string): IpAddr => {
  const a = parseIp(s);
  if (!a) throw new Error(s);
  return a;
};

test('AddressRanges answers membership at block edges, both families', () => {
  const r = new AddressRanges([
    cidr('10.0.0.0/24'),
    cidr('10.0.2.0/23'),
    cidr('fd00::/64'),
    cidr('192.168.1.7/32'),
  ]);
  assert.equal(r.has(ip('10.0.0.0')), true);
  assert.equal(r.has(ip('10.0.0.255')), true);
  assert.equal(r.has(ip('10.0.1.0')), false);
  assert.equal(r.has(ip('10.0.3.255')), true);
  assert.equal(r.has(ip('10.0.4.0')), false);
  assert.equal(r.has(ip('192.168.1.7')), true);
  assert.equal(r.has(ip('192.168.1.8')), false);
  assert.equal(r.has(ip('fd00::ffff')), true);
  assert.equal(r.has(ip('fd00:0:0:1::')), false);
  assert.equal(r.has(ip('::ffff:10.0.0.1')), false, 'an IPv4-mapped IPv6 address is IPv6');
  assert.equal(new AddressRanges([]).has(ip('10.0.0.1')), false);
});

test('AddressRanges agrees with cidrContains over random blocks and addresses', () => {
  const block = fc
    .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 8, max: 32 }))
    .map(([v, p]) =>
      cidr(`${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${p}`),
    );
  fc.assert(
    fc.property(
      fc.array(block, { maxLength: 20 }),
      fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 50 }),
      (blocks, addrs) => {
        const merged = mergeCidrs(blocks);
        const r = new AddressRanges(merged);
        const probes = [
          ...addrs.map((v) => ({ family: 4 as const, value: BigInt(v) })),
          ...merged.map((c) => ({ family: 4 as const, value: c.base })),
        ];
        for (const a of probes)
          assert.equal(
            r.has(a),
            merged.some((c) => cidrContains(c, a)),
          );
      },
    ),
    { numRuns: 200 },
  );
});
