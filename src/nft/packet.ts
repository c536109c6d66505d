/**
 * A packet as the tracer (trace.ts) sees it: its addresses, protocol, ports,
 * conntrack state and marks, and the value each selector reads from it. A
 * field the packet does not have (`ip saddr` of an IPv6 packet, `icmp type`
 * of a TCP one) reads as undefined: nft's implicit dependency on the
 * protocol fails, and so does the expression, whatever its operator.
 */
import { ErrorCodes } from '../core/errors.js';
import { formatIp, parseIp } from '../core/net/ip.js';
import type { NftSelector } from './model.js';
import { protocolNumber, type LiteralValue } from './literals.js';

export type CtState = 'new' | 'established' | 'related' | 'invalid' | 'untracked';

export interface Packet {
  readonly family: 4 | 6;
  readonly saddr: string;
  readonly daddr: string;
  /** A protocol number, or its name (`tcp`, `udp`, `sctp`, `icmp`, `icmpv6`). */
  readonly l4proto: number | string;
  /**
   * The transport header's first two 16-bit words (`th sport`, `th dport`):
   * the ports of TCP, UDP and SCTP. A rule that reads one the packet lacks
   * makes the trace throw (for ICMP they are other header fields).
   */
  readonly sport?: number;
  readonly dport?: number;
  /** ICMP or ICMPv6 type, by nft's name (`echo-request`, `nd-neighbor-solicit`). */
  readonly icmpType?: string;
  /** meta mark (default 0). */
  readonly mark?: number;
  readonly ct: {
    readonly state: CtState;
    readonly direction: 'original' | 'reply';
    /** ct mark (default 0). */
    readonly mark?: number;
  };
  readonly iifname?: string;
  readonly oifname?: string;
  /** The host's own addresses: `fib saddr/daddr type` is `local` for these. */
  readonly localAddresses?: readonly string[];
  /** What `numgen random` gives this packet, before `mod` (default 0). */
  readonly random?: number;
  /** The address `masquerade` makes the source: that of the interface the packet leaves by. */
  readonly masqueradeAddress?: string;
  /** When the packet passes, in seconds: for set elements that time out (default 0). */
  readonly time?: number;
}

/** The packet or the tables ask what the tracer cannot answer (see Packet). */
export class TraceError extends Error {
  readonly code = ErrorCodes.NFT_TRACE;

  constructor(message: string) {
    super(message);
    this.name = 'TraceError';
  }
}

/** What a selector reads: a number, a name, or nothing. */
export type Field = bigint | string | undefined;

/** The packet on its way: its fields, and its marks as the rules change them. */
export class PacketState {
  mark: number;
  ctMark: number;
  private readonly proto: number;
  private saddr: bigint;
  private daddr: bigint;
  private sport: number | undefined;
  private dport: number | undefined;
  private readonly local: ReadonlySet<string>;

  constructor(private readonly p: Packet) {
    const proto = typeof p.l4proto === 'number' ? p.l4proto : protocolNumber(p.l4proto);
    if (proto === undefined) throw new TraceError(`unknown protocol ${p.l4proto}`);
    this.proto = proto;
    this.saddr = this.address(p.saddr);
    this.daddr = this.address(p.daddr);
    this.sport = p.sport;
    this.dport = p.dport;
    const local = (p.localAddresses ?? []).map((a) => {
      const ip = parseIp(a);
      if (!ip) throw new TraceError(`local address ${a} is not an address`);
      return ip;
    });
    // The host's addresses of the packet's family are the ones fib compares.
    this.local = new Set(local.filter((ip) => ip.family === p.family).map((ip) => `${ip.value}`));
    this.mark = p.mark ?? 0;
    this.ctMark = p.ct.mark ?? 0;
  }

  private address(text: string): bigint {
    const ip = parseIp(text);
    if (!ip || ip.family !== this.p.family)
      throw new TraceError(`${text} is not an IPv${this.p.family} address`);
    return ip.value;
  }

  /** The packet's family: what a NAT address must be. */
  get family(): 4 | 6 {
    return this.p.family;
  }

  /** `dnat`: a new destination address, and port when given. */
  rewriteDestination(address: string, port: number | undefined): void {
    this.daddr = this.address(address);
    if (port !== undefined) this.dport = port;
  }

  /** `masquerade` (or snat): a new source address. */
  rewriteSource(address: string): void {
    this.saddr = this.address(address);
  }

  /** The packet as it is now: addresses and ports rewritten, marks as the rules left them. */
  now(): Packet {
    return {
      ...this.p,
      saddr: formatIp({ family: this.p.family, value: this.saddr }),
      daddr: formatIp({ family: this.p.family, value: this.daddr }),
      sport: this.sport,
      dport: this.dport,
      mark: this.mark,
      ct: { ...this.p.ct, mark: this.ctMark },
    };
  }

  /** A field of the packet; undefined when the packet has none (nft's implicit dependency fails). */
  field(sel: NftSelector): Field {
    const p = this.p;
    switch (sel) {
      case 'ip saddr':
        return p.family === 4 ? this.saddr : undefined;
      case 'ip daddr':
        return p.family === 4 ? this.daddr : undefined;
      case 'ip6 saddr':
        return p.family === 6 ? this.saddr : undefined;
      case 'ip6 daddr':
        return p.family === 6 ? this.daddr : undefined;
      case 'meta l4proto':
        return BigInt(this.proto);
      case 'th sport':
      case 'th dport': {
        const port = sel === 'th sport' ? this.sport : this.dport;
        if (port === undefined)
          throw new TraceError(
            `a rule reads ${sel} of a packet that gives none (protocol ${p.l4proto})`,
          );
        return BigInt(port);
      }
      case 'meta mark':
        return BigInt(this.mark >>> 0);
      case 'ct mark':
        return BigInt(this.ctMark >>> 0);
      case 'ct state':
        return p.ct.state;
      case 'ct direction':
        return p.ct.direction;
      case 'icmp type':
      case 'icmpv6 type': {
        const icmp =
          sel === 'icmp type'
            ? p.family === 4 && this.proto === 1
            : p.family === 6 && this.proto === 58;
        if (!icmp) return undefined;
        if (p.icmpType === undefined)
          throw new TraceError(`a rule reads ${sel} of a packet that gives none`);
        return p.icmpType;
      }
      case 'fib saddr type':
        return this.local.has(`${this.saddr}`) ? 'local' : 'unicast';
      case 'fib daddr type':
        return this.local.has(`${this.daddr}`) ? 'local' : 'unicast';
      case 'iifname':
        return p.iifname ?? '';
      case 'oifname':
        return p.oifname ?? '';
    }
  }
}

/** Whether a literal's value holds a field (an interface name ending in `*` is a prefix). */
function matchesPart(v: LiteralValue | undefined, f: Field): boolean {
  if (v === undefined || f === undefined) return false;
  if (v.kind === 'range') return typeof f === 'bigint' && f >= v.lo && f <= v.hi;
  if (typeof f !== 'string') return false;
  return v.name.endsWith('*') ? f.startsWith(v.name.slice(0, -1)) : f === v.name;
}

/** Parsed parts of an element or value, one per part of a concatenation. */
export type Values = readonly (LiteralValue | undefined)[];

/** Whether every part of a key holds its field. */
export const matchesKey = (key: Values, fields: readonly Field[]) =>
  key.every((v, i) => matchesPart(v, fields[i]));
