/**
 * One literal of an nft datatype (a part of a set element or map key, a
 * value in a rule) read as nft reads it: whether it is one valid value,
 * whether it is a prefix or range (which needs `flags interval` in a named
 * set), the value it stands for and how nft lists it. The validator checks
 * literals with it, the fake stores and compares elements by it, the tracer
 * matches packets against it.
 */
import { formatCidr, parseCidr } from '../core/net/cidr.js';
import { formatIp, parseIp } from '../core/net/ip.js';
import type { NftDatatype } from './model.js';

/** What a literal stands for: an inclusive range of numbers (one number: lo = hi), or a name. */
export type LiteralValue =
  | { readonly kind: 'range'; readonly lo: bigint; readonly hi: bigint }
  | { readonly kind: 'name'; readonly name: string };

export type Literal =
  | { readonly problem: string }
  | {
      readonly problem?: undefined;
      /** A prefix or a range: only an interval set holds it. */
      readonly interval: boolean;
      /**
       * Absent for a name nft resolves through the system's databases
       * (a service name, a protocol this module does not know).
       */
      readonly value?: LiteralValue;
      /** As nft lists it (`10.0.0.0-10.0.0.255` lists as `10.0.0.0/24`, `6` as `tcp`). */
      readonly text: string;
    };

/** Values of the datatypes that are names, as nft 1.0.6 knows them (checked with `nft -c`). */
const NAMED_VALUES: Partial<Record<NftDatatype, ReadonlySet<string>>> = {
  ct_state: new Set(['invalid', 'established', 'related', 'new', 'untracked']),
  ct_dir: new Set(['original', 'reply']),
  fib_addrtype: new Set(
    'unspec unicast local broadcast anycast multicast blackhole unreachable prohibit'.split(' '),
  ),
  icmp_type: new Set(
    `echo-reply destination-unreachable source-quench redirect echo-request router-advertisement
    router-solicitation time-exceeded parameter-problem timestamp-request timestamp-reply
    info-request info-reply address-mask-request address-mask-reply`.split(/\s+/),
  ),
  icmpv6_type: new Set(
    `destination-unreachable packet-too-big time-exceeded parameter-problem echo-request
    echo-reply mld-listener-query mld-listener-report mld-listener-done mld-listener-reduction
    nd-router-solicit nd-router-advert nd-neighbor-solicit nd-neighbor-advert nd-redirect
    router-renumbering ind-neighbor-solicit ind-neighbor-advert mld2-listener-report`.split(/\s+/),
  ),
};

/**
 * Protocols by the names nft reads (/etc/protocols, plus nft's `icmpv6`);
 * nft lists a protocol by its first name here (58 as `ipv6-icmp`).
 */
const PROTOCOLS: readonly (readonly [string, number])[] = [
  ['icmp', 1],
  ['igmp', 2],
  ['tcp', 6],
  ['udp', 17],
  ['dccp', 33],
  ['gre', 47],
  ['esp', 50],
  ['ah', 51],
  ['ipv6-icmp', 58],
  ['icmpv6', 58],
  ['sctp', 132],
  ['udplite', 136],
];
const PROTOCOL_NUMBERS: ReadonlyMap<string, number> = new Map(PROTOCOLS);
const PROTOCOL_NAMES: ReadonlyMap<number, string> = new Map(
  [...PROTOCOLS].reverse().map(([name, n]) => [n, name] as const),
);

/** A protocol's number by its name, as nft reads it; undefined for a name it would not know here. */
export function protocolNumber(name: string): number | undefined {
  return PROTOCOL_NUMBERS.get(name);
}

const range = (lo: bigint, hi: bigint): LiteralValue => ({ kind: 'range', lo, hi });

/** A range of addresses as nft lists it: one address, a prefix when it is one, else `lo-hi`. */
function addressText(lo: bigint, hi: bigint, family: 4 | 6): string {
  const ip = (value: bigint) => formatIp({ family, value });
  if (lo === hi) return ip(lo);
  const size = hi - lo + 1n;
  const bits = family === 4 ? 32 : 128;
  if ((size & (size - 1n)) === 0n && lo % size === 0n) {
    const prefix = bits - (size.toString(2).length - 1);
    return formatCidr({ family, base: lo, prefix });
  }
  return `${ip(lo)}-${ip(hi)}`;
}

/** An address, prefix or address range. */
function addressLiteral(part: string, family: 4 | 6): Literal {
  const bits = family === 4 ? 32 : 128;
  if (part.includes('/')) {
    const c = parseCidr(part);
    if (!c || c.cidr.family !== family) return { problem: `${part} is not an IPv${family} CIDR` };
    if (c.hadHostBits) return { problem: `${part} has host bits set` };
    const hi = c.cidr.base + (1n << BigInt(bits - c.cidr.prefix)) - 1n;
    return {
      value: range(c.cidr.base, hi),
      interval: true,
      text: addressText(c.cidr.base, hi, family),
    };
  }
  const dash = part.indexOf('-');
  const [a, b] = dash < 0 ? [part, part] : [part.slice(0, dash), part.slice(dash + 1)];
  const lo = parseIp(a);
  const hi = parseIp(b);
  if (lo?.family !== family || hi?.family !== family)
    return { problem: `${part} is not an IPv${family} address` };
  if (lo.value > hi.value) return { problem: `${part} is an empty range` };
  return {
    value: range(lo.value, hi.value),
    interval: dash >= 0,
    text: addressText(lo.value, hi.value, family),
  };
}

/** A port or protocol number, a range of them, or a name. */
function numberLiteral(type: 'inet_service' | 'inet_proto', part: string): Literal {
  const max = type === 'inet_service' ? 65535 : 255;
  if (/^[a-z][a-z0-9-]*$/.test(part)) {
    const n = type === 'inet_proto' ? PROTOCOL_NUMBERS.get(part) : undefined;
    return n === undefined
      ? { interval: false, text: part }
      : { interval: false, value: range(BigInt(n), BigInt(n)), text: numberText(type, n, n) };
  }
  const m = /^(\d+)(?:-(\d+))?$/.exec(part);
  if (!m) return { problem: `${part} is not a number or a range` };
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (hi > max || lo > hi) return { problem: `${part} is out of range 0-${max}` };
  return {
    interval: m[2] !== undefined,
    value: range(BigInt(lo), BigInt(hi)),
    text: numberText(type, lo, hi),
  };
}

function numberText(type: 'inet_service' | 'inet_proto', lo: number, hi: number): string {
  const one = (n: number) => (type === 'inet_proto' ? (PROTOCOL_NAMES.get(n) ?? `${n}`) : `${n}`);
  return lo === hi ? one(lo) : `${one(lo)}-${one(hi)}`;
}

function namedLiteral(type: NftDatatype, part: string): Literal {
  const names = NAMED_VALUES[type];
  if (names && !names.has(part))
    return { problem: `${part} is not a ${type} (one of: ${[...names].join(', ')})` };
  if (type === 'mark') {
    if (!/^0x[0-9a-f]{1,8}$|^\d+$/.test(part)) return { problem: `${part} is not a mark` };
    const n = BigInt(part);
    if (n > 0xffffffffn) return { problem: `${part} is not a mark` };
    return { interval: false, value: range(n, n), text: `0x${n.toString(16).padStart(8, '0')}` };
  }
  if (type === 'ifname') {
    if (!/^"[^"]{1,15}"$|^[A-Za-z0-9_.-]{1,15}$/.test(part))
      return { problem: `${part} is not an interface name` };
    const name = part.replace(/^"(.*)"$/, '$1');
    return { interval: false, value: { kind: 'name', name }, text: `"${name}"` };
  }
  return { interval: false, value: { kind: 'name', name: part }, text: part };
}

/** One ` . `-separated part of an element or value, read as a literal of `type`. */
export function parseLiteral(type: NftDatatype, part: string): Literal {
  if (part === '' || /[,{}\n;#]/.test(part.replace(/^"[^"]*"$/, '""')))
    return { problem: `element part ${JSON.stringify(part)} is not a single value` };
  switch (type) {
    case 'ipv4_addr':
      return addressLiteral(part, 4);
    case 'ipv6_addr':
      return addressLiteral(part, 6);
    case 'inet_service':
    case 'inet_proto':
      return numberLiteral(type, part);
    default:
      return namedLiteral(type, part);
  }
}

/** The parts of an element or key (`10.0.0.1 . tcp . 80`), one per datatype of a concatenation. */
export function elementParts(key: string): string[] {
  return key.split(' . ').map((p) => p.trim());
}
