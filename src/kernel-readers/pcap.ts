/**
 * An incremental reader of the classic pcap file format (the stream
 * `tcpdump -w -` writes): a 24-byte global header, then records of a 16-byte
 * header and the captured bytes. Both byte orders; microsecond (0xa1b2c3d4)
 * and nanosecond (0xa1b23c4d) timestamps. pcapng is refused.
 */

import { ErrorCodes } from '../core/errors.js';

export const LINKTYPE_NFLOG = 239;

export interface PcapHeader {
  readonly littleEndian: boolean;
  /** Timestamps carry nanoseconds (else microseconds). */
  readonly nanoseconds: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly snaplen: number;
  readonly linktype: number;
}

export interface PcapRecord {
  /** Unix time in milliseconds, with the fraction the file carries. */
  readonly time: number;
  /** Bytes captured (`data.length`). */
  readonly capturedLength: number;
  /** Length of the packet on the wire. */
  readonly originalLength: number;
  /** A view into the chunk being parsed: copy what you keep. */
  readonly data: Buffer;
}

/** The stream is not pcap, or is corrupt; it cannot be resynchronised. */
export class PcapFormatError extends Error {
  readonly code = ErrorCodes.PCAP_FORMAT;

  constructor(message: string) {
    super(message);
    this.name = 'PcapFormatError';
  }
}

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const MAGIC_PCAPNG = 0x0a0d0d0a;

/** Parses a pcap global header; throws PcapFormatError when it is not one. */
export function parsePcapHeader(b: Buffer): PcapHeader {
  if (b.length < GLOBAL_HEADER) throw new PcapFormatError('pcap header: needs 24 bytes');
  const le = b.readUInt32LE(0);
  const be = b.readUInt32BE(0);
  let littleEndian: boolean;
  let nanoseconds: boolean;
  if (le === MAGIC_US || le === MAGIC_NS) {
    littleEndian = true;
    nanoseconds = le === MAGIC_NS;
  } else if (be === MAGIC_US || be === MAGIC_NS) {
    littleEndian = false;
    nanoseconds = be === MAGIC_NS;
  } else if (be === MAGIC_PCAPNG) {
    throw new PcapFormatError(
      'pcap header: this is pcapng, not pcap (use tcpdump -w, not dumpcap)',
    );
  } else {
    throw new PcapFormatError(`pcap header: unknown magic 0x${be.toString(16).padStart(8, '0')}`);
  }
  const u16 = (o: number) => (littleEndian ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (littleEndian ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const versionMajor = u16(4);
  if (versionMajor !== 2)
    throw new PcapFormatError(`pcap header: version ${versionMajor}.${u16(6)}, expected 2.x`);
  return {
    littleEndian,
    nanoseconds,
    versionMajor,
    versionMinor: u16(6),
    snaplen: u32(16),
    // The upper bits of the link type field carry FCS information.
    linktype: u32(20) & 0x0fffffff,
  };
}

export interface PcapStreamOptions {
  /** A record longer than this is taken as corruption (default 256 KiB). */
  readonly maxRecordLength?: number;
}

/**
 * Feed it chunks as they come; it calls back with each whole record and
 * keeps at most one partial record between chunks.
 */
export class PcapStreamParser {
  private pending: Buffer | undefined;
  private hdr: PcapHeader | undefined;
  private readonly maxRecord: number;
  private records = 0;

  constructor(opts: PcapStreamOptions = {}) {
    this.maxRecord = opts.maxRecordLength ?? 256 * 1024;
  }

  get header(): PcapHeader | undefined {
    return this.hdr;
  }

  /** Whole records parsed so far. */
  get count(): number {
    return this.records;
  }

  /** Bytes held back waiting for the rest of a record. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  push(chunk: Buffer, onRecord: (r: PcapRecord, h: PcapHeader) => void): void {
    const b = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let off = 0;
    if (!this.hdr) {
      if (b.length < GLOBAL_HEADER) {
        this.pending = Buffer.from(b);
        return;
      }
      this.hdr = parsePcapHeader(b);
      off = GLOBAL_HEADER;
    }
    const h = this.hdr;
    const u32 = h.littleEndian
      ? (o: number) => b.readUInt32LE(o)
      : (o: number) => b.readUInt32BE(o);
    while (b.length - off >= RECORD_HEADER) {
      const incl = u32(off + 8);
      if (incl > this.maxRecord)
        throw new PcapFormatError(
          `pcap record ${this.records + 1}: captured length ${incl} exceeds ${this.maxRecord} (corrupt stream?)`,
        );
      if (b.length - off < RECORD_HEADER + incl) break;
      const sec = u32(off);
      const frac = u32(off + 4);
      if (frac >= (h.nanoseconds ? 1e9 : 1e6))
        throw new PcapFormatError(
          `pcap record ${this.records + 1}: timestamp fraction ${frac} out of range`,
        );
      const start = off + RECORD_HEADER;
      this.records++;
      onRecord(
        {
          time: h.nanoseconds ? sec * 1000 + frac / 1e6 : (sec * 1e6 + frac) / 1000,
          capturedLength: incl,
          originalLength: u32(off + 12),
          data: b.subarray(start, start + incl),
        },
        h,
      );
      off = start + incl;
    }
    if (off < b.length) {
      // Copy: the chunk itself must not stay referenced by a tiny remainder.
      this.pending = Buffer.from(b.subarray(off));
    }
  }
}
