import test from 'node:test';
import assert from 'node:assert/strict';
import { decodeIpPacket } from './packet.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('IPv4 with options: the transport header starts after IHL words', () => {
  // IHL 6 (24 bytes: one option word), TCP, ttl 63, 10.0.0.1 -> 192.168.1.9.
  const b = hex(`46000034 00004000 3f06 0000 0a000001 c0a80109 01010100
                 d431 0050 00000001 00000000 5012 ffff 0000 0000`);
  assert.deepEqual(decodeIpPacket(b), {
    ok: true,
    packet: {
      ipVersion: 4,
      src: '10.0.0.1',
      dst: '192.168.1.9',
      ipProtocol: 6,
      ttl: 63,
      length: 0x34,
      fragment: false,
      sport: 0xd431,
      dport: 80,
      tcpFlags: 0x12,
    },
  });
});

test('IPv4 non-first fragment: no transport fields', () => {
  // Fragment offset 185 (x8 bytes); payload bytes are not a UDP header.
  const b = hex('45000030 000100b9 4011 0000 0a000001 0a000002 deadbeef');
  const r = decodeIpPacket(b);
  assert.ok(r.ok);
  assert.equal(r.packet.fragment, true);
  assert.equal(r.packet.sport, undefined);
  assert.equal(r.packet.ipProtocol, 17);
});

test('ICMP echo request and a TCP header cut before its flags', () => {
  const icmp = hex('45000054 00004000 4001 0000 0a000001 0a000002 0800 f7ff 0001 0001');
  const r = decodeIpPacket(icmp);
  assert.ok(r.ok);
  assert.equal(r.packet.icmpType, 8);
  assert.equal(r.packet.icmpCode, 0);
  assert.equal(r.packet.sport, undefined);
  const cut = hex('45000034 00004000 4006 0000 0a000001 0a000002 1f90 0050 0000');
  const c = decodeIpPacket(cut);
  assert.ok(c.ok);
  assert.equal(c.packet.sport, 8080);
  assert.equal(c.packet.dport, 80);
  assert.equal(c.packet.tcpFlags, undefined);
});

test('IPv6 through hop-by-hop and destination options to UDP', () => {
  const b = hex(`6000 0000 0020 00 40
    fd00 0000 0000 0000 0000 0000 0000 0001
    2001 0db8 0000 0000 0000 0000 0000 0a0b
    3c00 0100 0000 0000
    1101 0000 0000 0000 0000 0000 0000 0000
    0035 c350 0010 0000`);
  assert.deepEqual(decodeIpPacket(b), {
    ok: true,
    packet: {
      ipVersion: 6,
      src: 'fd00::1',
      dst: '2001:db8::a0b',
      ipProtocol: 17,
      ttl: 64,
      length: 0x20 + 40,
      fragment: false,
      sport: 53,
      dport: 50000,
    },
  });
});

test('IPv6 fragments: the first has ports, the others do not', () => {
  const first = hex(`6000 0000 0010 2c 40 ${'00'.repeat(15)}01 ${'00'.repeat(15)}02
    0600 0001 0000 0001  0050 1f90 0000 0000 0000 0000 5002`);
  const r1 = decodeIpPacket(first);
  assert.ok(r1.ok);
  assert.equal(r1.packet.ipProtocol, 6);
  assert.equal(r1.packet.fragment, false);
  assert.equal(r1.packet.sport, 80);
  assert.equal(r1.packet.dport, 8080);
  const later = hex(`6000 0000 0010 2c 40 ${'00'.repeat(15)}01 ${'00'.repeat(15)}02
    0600 00b9 0000 0001  0050 1f90`);
  const r2 = decodeIpPacket(later);
  assert.ok(r2.ok);
  assert.equal(r2.packet.src, '::1');
  assert.equal(r2.packet.dst, '::2');
  assert.equal(r2.packet.fragment, true);
  assert.equal(r2.packet.sport, undefined);
});

test('ICMPv6 and SCTP', () => {
  const icmp6 = hex(
    `6000 0000 0008 3a ff ${'00'.repeat(15)}01 ${'00'.repeat(15)}02 8000 0000 0001 0002`,
  );
  const r = decodeIpPacket(icmp6);
  assert.ok(r.ok);
  assert.equal(r.packet.ipProtocol, 58);
  assert.equal(r.packet.icmpType, 128);
  assert.equal(r.packet.ttl, 255);
  const sctp = hex('45000030 00004000 4084 0000 0a000001 0a000002 0b59 0b5a 00000000');
  const s = decodeIpPacket(sctp);
  assert.ok(s.ok);
  assert.equal(s.packet.sport, 2905);
  assert.equal(s.packet.dport, 2906);
});

test('what is not an IP packet says why', () => {
  assert.deepEqual(decodeIpPacket(Buffer.alloc(0)), { ok: false, reason: 'empty payload' });
  assert.deepEqual(decodeIpPacket(hex('0800')), { ok: false, reason: 'IP version 0' });
  assert.deepEqual(decodeIpPacket(hex('4500 0014')), {
    ok: false,
    reason: 'IPv4 header truncated (4 bytes)',
  });
  assert.deepEqual(decodeIpPacket(hex(`44${'00'.repeat(19)}`)), {
    ok: false,
    reason: 'IPv4 header length 16',
  });
  assert.deepEqual(decodeIpPacket(hex('6000')), {
    ok: false,
    reason: 'IPv6 header truncated (2 bytes)',
  });
});
