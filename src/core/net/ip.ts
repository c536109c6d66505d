import type { IpAddr, IpFamily } from './types.js';

/** Number of bits in an address of the family. */
export function familyBits(f: IpFamily): 32 | 128 {
  return f === 4 ? 32 : 128;
}

const DECIMAL_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Strict dotted quad: four decimal octets, no leading zeros, no signs or spaces. */
function parseIpv4Value(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!DECIMAL_OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return BigInt(value);
}

/**
 * Parses the colon-separated groups on one side of a `::` (or the whole
 * address when there is none) into 16-bit values. Only the final part of the
 * whole address may be an embedded IPv4 address, which yields two groups.
 */
function parseGroups(s: string, allowIpv4Tail: boolean): number[] | undefined {
  if (s === '') return [];
  const parts = s.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (HEX_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
      continue;
    }
    if (!allowIpv4Tail || i !== parts.length - 1) return undefined;
    const v4 = parseIpv4Value(part);
    if (v4 === undefined) return undefined;
    const n = Number(v4);
    groups.push(Math.floor(n / 0x10000), n % 0x10000);
  }
  return groups;
}

function parseIpv6Value(s: string): bigint | undefined {
  const gap = s.indexOf('::');
  let groups: number[];
  if (gap < 0) {
    const all = parseGroups(s, true);
    if (all === undefined || all.length !== 8) return undefined;
    groups = all;
  } else {
    const tailText = s.slice(gap + 2);
    if (tailText.includes('::')) return undefined;
    const head = parseGroups(s.slice(0, gap), false);
    const tail = parseGroups(tailText, true);
    if (head === undefined || tail === undefined) return undefined;
    // `::` stands for at least one zero group (as in Go's net/netip).
    const zeros = 8 - head.length - tail.length;
    if (zeros < 1) return undefined;
    groups = [...head, ...new Array<number>(zeros).fill(0), ...tail];
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

/**
 * Parses an IPv4 dotted quad or an IPv6 address in any RFC 4291 text form.
 * Strict: no leading zeros in IPv4 octets, no zones, brackets or whitespace.
 * An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) stays family 6.
 */
export function parseIp(s: string): IpAddr | undefined {
  if (s.includes(':')) {
    const value = parseIpv6Value(s);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIpv4Value(s);
  return value === undefined ? undefined : { family: 4, value };
}

function formatIpv4(value: bigint): string {
  const n = Number(value);
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/** The leftmost longest run of at least two zero groups, or undefined. */
function longestZeroRun(groups: readonly number[]): { start: number; end: number } | undefined {
  let best: { start: number; end: number } | undefined;
  let i = 0;
  while (i < groups.length) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i >= 2 && (best === undefined || j - i > best.end - best.start)) {
      best = { start: i, end: j };
    }
    i = j;
  }
  return best;
}

/** RFC 5952 canonical text: lowercase, no leading zeros, longest zero run as `::`. */
function formatIpv6(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(Number((value >> shift) & 0xffffn));
  }
  const hex = (gs: readonly number[]): string => gs.map((g) => g.toString(16)).join(':');
  const run = longestZeroRun(groups);
  if (run === undefined) return hex(groups);
  return `${hex(groups.slice(0, run.start))}::${hex(groups.slice(run.end))}`;
}

/** Dotted quad for IPv4, RFC 5952 canonical form for IPv6. */
export function formatIp(a: IpAddr): string {
  return a.family === 4 ? formatIpv4(a.value) : formatIpv6(a.value);
}

export function ipEquals(a: IpAddr, b: IpAddr): boolean {
  return a.family === b.family && a.value === b.value;
}

/** Orders IPv4 before IPv6, then by numeric value. */
export function compareIp(a: IpAddr, b: IpAddr): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** A unique string key for an address, cheap to compute (not for display). */
export function ipKey(a: IpAddr): string {
  return `${a.family}:${a.value.toString(16)}`;
}
