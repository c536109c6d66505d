import { formatIp } from '../core/net/ip.js';

/**
 * IPv4/IPv6 and TCP/UDP/SCTP/ICMP header decoding of a logged packet (from
 * its network header on, possibly truncated to the capture length).
 */

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132 } as const;

export interface DecodedPacket {
  readonly ipVersion: 4 | 6;
  readonly src: string;
  readonly dst: string;
  /** The transport protocol number, after any IPv6 extension headers. */
  readonly ipProtocol: number;
  /** TTL or hop limit. */
  readonly ttl: number;
  /** Total length from the IP header (IPv6: payload length + 40). */
  readonly length: number;
  /** A non-first fragment: no transport header to read. */
  readonly fragment: boolean;
  readonly sport?: number;
  readonly dport?: number;
  /** The TCP flags byte (FIN bit 0 … CWR bit 7). */
  readonly tcpFlags?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

export type PacketResult =
  | { readonly ok: true; readonly packet: DecodedPacket }
  | { readonly ok: false; readonly reason: string };

const fail = (reason: string): PacketResult => ({ ok: false, reason });

/** Decodes an IP packet; `ok: false` says why it could not (not IP, too short). */
export function decodeIpPacket(b: Buffer): PacketResult {
  if (b.length < 1) return fail('empty payload');
  const version = (b[0] as number) >> 4;
  if (version === 4) return decodeIpv4(b);
  if (version === 6) return decodeIpv6(b);
  return fail(`IP version ${version}`);
}

function decodeIpv4(b: Buffer): PacketResult {
  if (b.length < 20) return fail(`IPv4 header truncated (${b.length} bytes)`);
  const ihl = ((b[0] as number) & 0x0f) * 4;
  if (ihl < 20) return fail(`IPv4 header length ${ihl}`);
  const fragOffset = b.readUInt16BE(6) & 0x1fff;
  const proto = b[9] as number;
  const base = {
    ipVersion: 4 as const,
    src: `${b[12]}.${b[13]}.${b[14]}.${b[15]}`,
    dst: `${b[16]}.${b[17]}.${b[18]}.${b[19]}`,
    ipProtocol: proto,
    ttl: b[8] as number,
    length: b.readUInt16BE(2),
    fragment: fragOffset !== 0,
  };
  if (base.fragment) return { ok: true, packet: base };
  return { ok: true, packet: { ...base, ...transport(proto, b.subarray(ihl)) } };
}

function ipv6At(b: Buffer, off: number): string {
  return formatIp({ family: 6, value: BigInt(`0x${b.toString('hex', off, off + 16)}`) });
}

/** Extension headers walked to find the transport header; more is taken as hostile. */
const MAX_EXTENSION_HEADERS = 8;

function decodeIpv6(b: Buffer): PacketResult {
  if (b.length < 40) return fail(`IPv6 header truncated (${b.length} bytes)`);
  let next = b[6] as number;
  let off = 40;
  let fragment = false;
  for (let i = 0; i < MAX_EXTENSION_HEADERS; i++) {
    if (next === 0 || next === 43 || next === 60) {
      // Hop-by-hop, routing, destination options: (len + 1) * 8 bytes.
      if (b.length < off + 2) break;
      const len = ((b[off + 1] as number) + 1) * 8;
      next = b[off] as number;
      off += len;
    } else if (next === 44) {
      // Fragment header: 8 bytes; offset in the top 13 bits of bytes 2-3.
      if (b.length < off + 8) break;
      fragment = fragment || b.readUInt16BE(off + 2) >> 3 !== 0;
      next = b[off] as number;
      off += 8;
    } else if (next === 51) {
      // Authentication header: (len + 2) * 4 bytes.
      if (b.length < off + 2) break;
      const len = ((b[off + 1] as number) + 2) * 4;
      next = b[off] as number;
      off += len;
    } else break;
  }
  const base = {
    ipVersion: 6 as const,
    src: ipv6At(b, 8),
    dst: ipv6At(b, 24),
    ipProtocol: next,
    ttl: b[7] as number,
    length: b.readUInt16BE(4) + 40,
    fragment,
  };
  if (fragment || off > b.length) return { ok: true, packet: base };
  return { ok: true, packet: { ...base, ...transport(next, b.subarray(off)) } };
}

/** Ports, TCP flags or ICMP type/code, as far as the captured bytes reach. */
function transport(
  proto: number,
  t: Buffer,
): Pick<DecodedPacket, 'sport' | 'dport' | 'tcpFlags' | 'icmpType' | 'icmpCode'> {
  switch (proto) {
    case IPPROTO.TCP:
      if (t.length < 4) return {};
      return {
        sport: t.readUInt16BE(0),
        dport: t.readUInt16BE(2),
        ...(t.length >= 14 ? { tcpFlags: t[13] as number } : {}),
      };
    case IPPROTO.UDP:
    case IPPROTO.SCTP:
      if (t.length < 4) return {};
      return { sport: t.readUInt16BE(0), dport: t.readUInt16BE(2) };
    case IPPROTO.ICMP:
    case IPPROTO.ICMPV6:
      if (t.length < 2) return {};
      return { icmpType: t[0] as number, icmpCode: t[1] as number };
    default:
      return {};
  }
}
