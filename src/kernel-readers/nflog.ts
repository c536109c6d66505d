import { PcapFormatError } from './pcap.js';

/**
 * The LINKTYPE_NFLOG pseudo-header (tcpdump.org/linktypes/LINKTYPE_NFLOG.html):
 * address family (1 byte), version (1 byte, 0), resource id = the nflog group
 * (2 bytes, big-endian), then TLVs to the end of the record. A TLV's length
 * (which counts its 4-byte header) and type are in the byte order of the pcap
 * file; values are in network byte order; each TLV is padded to 4 bytes.
 * Types are the NFULA_* attributes of linux/netfilter/nfnetlink_log.h.
 */
export const NFULA = {
  PACKET_HDR: 1,
  MARK: 2,
  TIMESTAMP: 3,
  IFINDEX_INDEV: 4,
  IFINDEX_OUTDEV: 5,
  IFINDEX_PHYSINDEV: 6,
  IFINDEX_PHYSOUTDEV: 7,
  HWADDR: 8,
  PAYLOAD: 9,
  PREFIX: 10,
  UID: 11,
  SEQ: 12,
  SEQ_GLOBAL: 13,
  GID: 14,
  HWTYPE: 15,
  HWHEADER: 16,
  HWLEN: 17,
} as const;

/** Linux address families in the header. */
export const AF_INET = 2;
export const AF_INET6 = 10;

export interface NflogPacket {
  /** AF_INET (2) or AF_INET6 (10) for IP; others for bridge/arp logging. */
  readonly family: number;
  readonly version: number;
  /** The nflog group (`log group G`). */
  readonly group: number;
  /** The `log prefix`, without its terminating NUL. */
  readonly prefix?: string;
  /** EtherType of the packet (0x0800 IPv4, 0x86dd IPv6). */
  readonly hwProtocol?: number;
  /** Netfilter hook number (0 prerouting, 1 input, 2 forward, 3 output, 4 postrouting). */
  readonly hook?: number;
  readonly mark?: number;
  /** Kernel timestamp of the packet, Unix ms (absent unless the skb had one). */
  readonly timestamp?: number;
  readonly inIfindex?: number;
  readonly outIfindex?: number;
  readonly physInIfindex?: number;
  readonly physOutIfindex?: number;
  /** Link-layer source address, `aa:bb:…`. */
  readonly hwAddr?: string;
  readonly hwType?: number;
  /** The link-layer header, hex. */
  readonly hwHeader?: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly seq?: number;
  readonly seqGlobal?: number;
  /** The logged packet from its network header on, up to the capture length (a view). */
  readonly payload?: Buffer;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Decodes one NFLOG record; throws PcapFormatError on a malformed header or TLV. */
export function decodeNflog(data: Buffer, littleEndian: boolean): NflogPacket {
  if (data.length < 4) throw new PcapFormatError(`NFLOG record of ${data.length} bytes: too short`);
  const p: Mutable<NflogPacket> = {
    family: data[0] as number,
    version: data[1] as number,
    group: data.readUInt16BE(2),
  };
  if (p.version !== 0) throw new PcapFormatError(`NFLOG version ${p.version}, expected 0`);
  let off = 4;
  while (off + 4 <= data.length) {
    const len = littleEndian ? data.readUInt16LE(off) : data.readUInt16BE(off);
    // The top bits of a netlink attribute type are flags (nested, byte order).
    const type = (littleEndian ? data.readUInt16LE(off + 2) : data.readUInt16BE(off + 2)) & 0x3fff;
    if (len < 4) throw new PcapFormatError(`NFLOG TLV at offset ${off}: length ${len} < 4`);
    if (off + len > data.length) {
      // A truncated payload is normal (the snap length); anything else is not.
      if (type !== NFULA.PAYLOAD)
        throw new PcapFormatError(`NFLOG TLV type ${type} at offset ${off}: runs past the record`);
      p.payload = data.subarray(off + 4);
      break;
    }
    readTlv(p, type, data.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return p;
}

function need(type: number, v: Buffer, n: number): void {
  if (v.length < n)
    throw new PcapFormatError(`NFLOG TLV type ${type}: value of ${v.length} bytes, needs ${n}`);
}

function readTlv(p: Mutable<NflogPacket>, type: number, v: Buffer): void {
  const u32 = (): number => (need(type, v, 4), v.readUInt32BE(0));
  switch (type) {
    case NFULA.PACKET_HDR:
      need(type, v, 3);
      p.hwProtocol = v.readUInt16BE(0);
      p.hook = v[2] as number;
      break;
    case NFULA.MARK:
      p.mark = u32();
      break;
    case NFULA.TIMESTAMP: {
      need(type, v, 16);
      const sec = Number(v.readBigUInt64BE(0));
      const usec = Number(v.readBigUInt64BE(8));
      p.timestamp = (sec * 1e6 + usec) / 1000;
      break;
    }
    case NFULA.IFINDEX_INDEV:
      p.inIfindex = u32();
      break;
    case NFULA.IFINDEX_OUTDEV:
      p.outIfindex = u32();
      break;
    case NFULA.IFINDEX_PHYSINDEV:
      p.physInIfindex = u32();
      break;
    case NFULA.IFINDEX_PHYSOUTDEV:
      p.physOutIfindex = u32();
      break;
    case NFULA.HWADDR: {
      need(type, v, 4);
      const n = Math.min(v.readUInt16BE(0), v.length - 4);
      p.hwAddr = [...v.subarray(4, 4 + n)].map((x) => x.toString(16).padStart(2, '0')).join(':');
      break;
    }
    case NFULA.PAYLOAD:
      p.payload = v;
      break;
    case NFULA.PREFIX: {
      const nul = v.indexOf(0);
      p.prefix = v.toString('utf8', 0, nul < 0 ? v.length : nul);
      break;
    }
    case NFULA.UID:
      p.uid = u32();
      break;
    case NFULA.GID:
      p.gid = u32();
      break;
    case NFULA.SEQ:
      p.seq = u32();
      break;
    case NFULA.SEQ_GLOBAL:
      p.seqGlobal = u32();
      break;
    case NFULA.HWTYPE:
      need(type, v, 2);
      p.hwType = v.readUInt16BE(0);
      break;
    case NFULA.HWHEADER:
      p.hwHeader = v.toString('hex');
      break;
    default:
      // HWLEN, conntrack info, VLAN, L2 header…: not needed, skipped.
      break;
  }
}
