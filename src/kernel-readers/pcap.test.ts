import test from 'node:test';
import assert from 'node:assert/strict';
import { decodeNflog } from './nflog.js';
import { decodeIpPacket } from './packet.js';
import { PcapFormatError, PcapStreamParser, parsePcapHeader, type PcapRecord } from './pcap.js';

/**
 * A capture taken with `tcpdump -i nflog:5 -U -w - -s 256` on an x86 machine
 * (little-endian), of a rule `… log group 5 prefix "x1" drop` on the input
 * hook: a UDP datagram "hi\n" 10.99.0.1:36258 → 10.99.0.2:9999, then a TCP
 * SYN 10.99.0.1:32954 → 10.99.0.2:8080. Bytes as `xxd` printed them.
 */
const CAPTURE = Buffer.from(
  `d4c3 b2a1 0200 0400 0000 0000 0000 0000 0001 0000 ef00 0000
   c292 026b a1ac 0a00 8800 0000 8800 0000
   0200 0005 0800 0100 0800 0100 0700 0a00 7831 0000 0800 0400 0000 0005
   1000 0800 0006 0000 cac3 af24 5e2e 0000 0600 0f00 0001 0000 0600 1100 000e 0000
   1200 1000 92f0 a197 320b cac3 af24 5e2e 0800 0000
   1400 0300 0000 0000 6b02 92c1 0000 0000 000a 6377
   2300 0900 4500 001f 49ef 4000 4011 dc16 0a63 0001 0a63 0002 8da2 270f 000b 14e5 6869 0a00
   c292 026b c2ac 0a00 a400 0000 a400 0000
   0200 0005 0800 0100 0800 0100 0700 0a00 7831 0000 0800 0400 0000 0005
   1000 0800 0006 0000 cac3 af24 5e2e 0000 0600 0f00 0001 0000 0600 1100 000e 0000
   1200 1000 92f0 a197 320b cac3 af24 5e2e 0800 0000
   1400 0300 0000 0000 6b02 92c1 0000 0000 000a 7d65
   4000 0900 4500 003c 4b54 4000 4006 da9f 0a63 0001 0a63 0002 80ba 1f90
   e8e9 c2d5 0000 0000 a002 faf0 14f7 0000 0204 05b4 0402 080a c8ea d7ff 0000 0000 0103 030a`.replace(
    /\s+/g,
    '',
  ),
  'hex',
);

function parseAll(chunks: readonly Buffer[]): { records: PcapRecord[]; le: boolean[] } {
  const p = new PcapStreamParser();
  const records: PcapRecord[] = [];
  const le: boolean[] = [];
  for (const c of chunks)
    p.push(c, (r, h) => {
      records.push({ ...r, data: Buffer.from(r.data) });
      le.push(h.littleEndian);
    });
  return { records, le };
}

test('the global header of a real tcpdump nflog capture', () => {
  assert.deepEqual(parsePcapHeader(CAPTURE), {
    littleEndian: true,
    nanoseconds: false,
    versionMajor: 2,
    versionMinor: 4,
    snaplen: 256,
    linktype: 239,
  });
});

test('records of a real capture: times, lengths, NFLOG fields and packet headers', () => {
  const { records } = parseAll([CAPTURE]);
  assert.equal(records.length, 2);
  const [udp, tcp] = records as [PcapRecord, PcapRecord];
  assert.equal(udp.time, 1795330754699.553);
  assert.equal(udp.capturedLength, 136);
  assert.equal(udp.originalLength, 136);
  const n = decodeNflog(udp.data, true);
  assert.equal(n.family, 2);
  assert.equal(n.group, 5);
  assert.equal(n.prefix, 'x1');
  assert.equal(n.hwProtocol, 0x0800);
  assert.equal(n.hook, 1);
  assert.equal(n.inIfindex, 5);
  assert.equal(n.outIfindex, undefined);
  assert.equal(n.hwAddr, 'ca:c3:af:24:5e:2e');
  assert.equal(n.hwType, 1);
  assert.equal(n.hwHeader, '92f0a197320bcac3af245e2e0800');
  assert.equal(n.timestamp, 1795330753680.823);
  assert.equal(n.payload?.length, 31);
  assert.deepEqual(decodeIpPacket(n.payload as Buffer), {
    ok: true,
    packet: {
      ipVersion: 4,
      src: '10.99.0.1',
      dst: '10.99.0.2',
      ipProtocol: 17,
      ttl: 64,
      length: 31,
      fragment: false,
      sport: 36258,
      dport: 9999,
    },
  });
  const t = decodeNflog(tcp.data, true);
  assert.equal(t.prefix, 'x1');
  assert.deepEqual(decodeIpPacket(t.payload as Buffer), {
    ok: true,
    packet: {
      ipVersion: 4,
      src: '10.99.0.1',
      dst: '10.99.0.2',
      ipProtocol: 6,
      ttl: 64,
      length: 60,
      fragment: false,
      sport: 32954,
      dport: 8080,
      tcpFlags: 0x02,
    },
  });
});

test('the stream parser gives the same records however the bytes are split', () => {
  const whole = parseAll([CAPTURE]).records;
  for (let cut = 1; cut < CAPTURE.length; cut++) {
    const split = parseAll([CAPTURE.subarray(0, cut), CAPTURE.subarray(cut)]).records;
    assert.deepEqual(split, whole, `split at byte ${cut}`);
  }
  const bytes = [...CAPTURE].map((b) => Buffer.from([b]));
  assert.deepEqual(parseAll(bytes).records, whole, 'one byte at a time');
});

test('a partial record is held, not emitted, until its last byte arrives', () => {
  const p = new PcapStreamParser();
  const seen: number[] = [];
  p.push(CAPTURE.subarray(0, CAPTURE.length - 1), (r) => seen.push(r.capturedLength));
  assert.deepEqual(seen, [136]);
  assert.equal(p.buffered, 16 + 164 - 1);
  p.push(CAPTURE.subarray(CAPTURE.length - 1), (r) => seen.push(r.capturedLength));
  assert.deepEqual(seen, [136, 164]);
  assert.equal(p.buffered, 0);
  assert.equal(p.count, 2);
});

/** A big-endian, nanosecond pcap stream written from the format description. */
function bigEndianNs(records: readonly { sec: number; nsec: number; data: Buffer }[]): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32BE(0xa1b23c4d, 0);
  h.writeUInt16BE(2, 4);
  h.writeUInt16BE(4, 6);
  h.writeUInt32BE(65535, 16);
  h.writeUInt32BE(239, 20);
  const parts: Buffer[] = [h];
  for (const r of records) {
    const rh = Buffer.alloc(16);
    rh.writeUInt32BE(r.sec, 0);
    rh.writeUInt32BE(r.nsec, 4);
    rh.writeUInt32BE(r.data.length, 8);
    rh.writeUInt32BE(r.data.length + 100, 12);
    parts.push(rh, r.data);
  }
  return Buffer.concat(parts);
}

test('big-endian files with nanosecond timestamps; TLV headers follow the file byte order', () => {
  // NFLOG: AF_INET6, version 0, group 0x0102; TLVs big-endian as the file is.
  const nflog = Buffer.from(
    [
      '0a00 0102',
      '0008 0001 86dd 0200', // PACKET_HDR: IPv6, hook 2 (forward)
      '0008 0002 0000 002a', // MARK 42
      '0008 0005 0000 0007', // OUTDEV 7
      '000b 000a 6162 6364 6566 0000', // PREFIX "abcdef" + NUL, padded
      '000c 0009 6000 0000 0000 3b40', // PAYLOAD: 8 bytes of an IPv6 header
    ]
      .join('')
      .replace(/\s+/g, ''),
    'hex',
  );
  const stream = bigEndianNs([{ sec: 1_700_000_000, nsec: 123_456_789, data: nflog }]);
  const { records, le } = parseAll([stream]);
  assert.deepEqual(le, [false]);
  const r = records[0] as PcapRecord;
  // 123456789 ns = 123.456789 ms; a double keeps it to about 0.2 µs at this magnitude.
  assert.ok(Math.abs(r.time - 1700000000123.4568) < 0.001, String(r.time));
  assert.equal(r.originalLength, nflog.length + 100);
  const n = decodeNflog(r.data, false);
  assert.equal(n.family, 10);
  assert.equal(n.group, 0x0102);
  assert.equal(n.hwProtocol, 0x86dd);
  assert.equal(n.hook, 2);
  assert.equal(n.mark, 42);
  assert.equal(n.outIfindex, 7);
  assert.equal(n.prefix, 'abcdef');
  assert.deepEqual([...(n.payload as Buffer)], [0x60, 0, 0, 0, 0, 0, 0x3b, 0x40]);
});

test('a payload TLV cut by the snap length yields the bytes captured', () => {
  // Little-endian TLV header claiming 100 bytes of payload; only 6 follow.
  const data = Buffer.from('02000001' + '64000900' + '450000640000', 'hex');
  const n = decodeNflog(data, true);
  assert.equal(n.group, 1);
  assert.deepEqual([...(n.payload as Buffer)], [0x45, 0, 0, 0x64, 0, 0]);
});

test('malformed streams are refused with the reason', () => {
  assert.throws(() => parsePcapHeader(Buffer.alloc(24)), /unknown magic 0x00000000/);
  const ng = Buffer.alloc(24);
  ng.writeUInt32BE(0x0a0d0d0a, 0);
  assert.throws(() => parsePcapHeader(ng), /pcapng/);
  const v1 = Buffer.from(CAPTURE.subarray(0, 24));
  v1.writeUInt16LE(1, 4);
  assert.throws(() => parsePcapHeader(v1), /version 1\.4, expected 2/);
  const huge = Buffer.from(CAPTURE);
  huge.writeUInt32LE(10_000_000, 24 + 8);
  assert.throws(
    () => parseAll([huge]),
    (e: unknown) => {
      assert.ok(e instanceof PcapFormatError);
      assert.match(e.message, /record 1: captured length 10000000 exceeds 262144/);
      return true;
    },
  );
  const frac = Buffer.from(CAPTURE);
  frac.writeUInt32LE(1_000_000, 24 + 4);
  assert.throws(() => parseAll([frac]), /timestamp fraction 1000000 out of range/);
});

test('malformed NFLOG TLVs are refused', () => {
  assert.throws(() => decodeNflog(Buffer.from('0200', 'hex'), true), /too short/);
  assert.throws(() => decodeNflog(Buffer.from('02010005', 'hex'), true), /version 1/);
  // Length 2 < 4.
  assert.throws(
    () => decodeNflog(Buffer.from('02000005' + '02000100', 'hex'), true),
    /length 2 < 4/,
  );
  // A MARK TLV running past the record.
  assert.throws(
    () => decodeNflog(Buffer.from('02000005' + '08000200' + '0000', 'hex'), true),
    /type 2 at offset 4: runs past the record/,
  );
  // A MARK TLV whose value is too short.
  assert.throws(
    () => decodeNflog(Buffer.from('02000005' + '06000200' + '00000000', 'hex'), true),
    /type 2: value of 2 bytes, needs 4/,
  );
});
