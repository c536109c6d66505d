import test from 'node:test';
import assert from 'node:assert/strict';
import { parseLiteral } from './literals.js';
import type { NftDatatype } from './model.js';

const text = (type: NftDatatype, part: string) => {
  const l = parseLiteral(type, part);
  return l.problem ?? l.text;
};

// The spellings on the right are what `nft list table` (nft 1.0.6) printed
// for the literals on the left.
test('literals read back as nft lists them', () => {
  const cases: [NftDatatype, string, string][] = [
    ['ipv4_addr', '10.0.0.0-10.0.0.255', '10.0.0.0/24'],
    ['ipv4_addr', '10.9.0.0/32', '10.9.0.0'],
    ['ipv4_addr', '10.8.0.0-10.8.0.1', '10.8.0.0/31'],
    ['ipv4_addr', '10.3.0.1-10.3.0.2', '10.3.0.1-10.3.0.2'],
    ['ipv6_addr', 'FD00::0:1', 'fd00::1'],
    ['ipv6_addr', '2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['inet_proto', '6', 'tcp'],
    ['inet_proto', '58', 'ipv6-icmp'],
    ['inet_proto', 'icmpv6', 'ipv6-icmp'],
    ['inet_proto', '132', 'sctp'],
    ['inet_service', '0080', '80'],
    ['inet_service', '80-80', '80'],
    ['inet_service', '8000-8080', '8000-8080'],
    ['mark', '1', '0x00000001'],
    ['mark', '0x10', '0x00000010'],
    ['ifname', 'eth0', '"eth0"'],
    ['ct_state', 'established', 'established'],
  ];
  for (const [type, given, listed] of cases) assert.equal(text(type, given), listed, given);
});

test('values: ranges of numbers, or names', () => {
  assert.deepEqual(parseLiteral('ipv4_addr', '10.0.0.0/30'), {
    interval: true,
    value: { kind: 'range', lo: 0x0a000000n, hi: 0x0a000003n },
    text: '10.0.0.0/30',
  });
  assert.deepEqual(parseLiteral('inet_proto', 'udp'), {
    interval: false,
    value: { kind: 'range', lo: 17n, hi: 17n },
    text: 'udp',
  });
  assert.deepEqual(parseLiteral('ct_dir', 'reply'), {
    interval: false,
    value: { kind: 'name', name: 'reply' },
    text: 'reply',
  });
  // A service name is resolved by nft through /etc/services: no value here.
  assert.deepEqual(parseLiteral('inet_service', 'http'), { interval: false, text: 'http' });
});

test('what nft refuses', () => {
  assert.match(text('ipv4_addr', '10.0.0.1/8'), /host bits/);
  assert.match(text('ipv4_addr', 'fd00::1'), /not an IPv4 address/);
  assert.match(text('inet_service', '70000'), /out of range/);
  // nft: "Value 4294967296 exceeds valid range 0-4294967295".
  assert.match(text('mark', '4294967296'), /not a mark/);
  assert.match(text('ct_state', 'establishd'), /not a ct_state/);
  assert.match(text('ipv4_addr', '10.0.0.1, 10.0.0.2'), /not a single value/);
});
