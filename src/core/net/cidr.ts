import { compareIp, familyBits, formatIp, parseIp } from './ip.js';
import type { Cidr, IpAddr, IpFamily } from './types.js';

/** An inclusive range of address values within one family. */
interface Range {
  start: bigint;
  end: bigint;
}

const PREFIX_TEXT = /^(0|[1-9][0-9]{0,2})$/;

function hostBits(c: Cidr): bigint {
  return BigInt(familyBits(c.family) - c.prefix);
}

/** Mask of the host part for a prefix: the low (bits - prefix) bits set. */
function hostMask(family: IpFamily, prefix: number): bigint {
  return (1n << BigInt(familyBits(family) - prefix)) - 1n;
}

/**
 * Parses "a.b.c.d/n" or "v6/n". The prefix is plain decimal (no sign, no
 * leading zeros) within the family's width. Host bits are cleared; whether any
 * were set is reported so callers can warn. A bare address is rejected.
 */
export function parseCidr(s: string): { cidr: Cidr; hadHostBits: boolean } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIp(s.slice(0, slash));
  const prefixText = s.slice(slash + 1);
  if (addr === undefined || !PREFIX_TEXT.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > familyBits(addr.family)) return undefined;
  const host = hostMask(addr.family, prefix);
  const base = addr.value & ~host;
  return { cidr: { family: addr.family, base, prefix }, hadHostBits: base !== addr.value };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp({ family: c.family, value: c.base })}/${c.prefix}`;
}

/** The single-address block of an address: /32 or /128. */
export function hostCidr(a: IpAddr): Cidr {
  return { family: a.family, base: a.value, prefix: familyBits(a.family) };
}

/** Number of addresses in the block. */
export function cidrSize(c: Cidr): bigint {
  return 1n << hostBits(c);
}

function lastValue(c: Cidr): bigint {
  return c.base + cidrSize(c) - 1n;
}

export function cidrFirst(c: Cidr): IpAddr {
  return { family: c.family, value: c.base };
}

export function cidrLast(c: Cidr): IpAddr {
  return { family: c.family, value: lastValue(c) };
}

/** The n-th address of the block (0 is the network address), if in range. */
export function cidrNth(c: Cidr, n: bigint): IpAddr | undefined {
  if (n < 0n || n >= cidrSize(c)) return undefined;
  return { family: c.family, value: c.base + n };
}

/** Whether the address is in the block; always false across families. */
export function cidrContains(c: Cidr, a: IpAddr): boolean {
  if (c.family !== a.family) return false;
  if (c.family === 4) {
    // IPv4 fits a double exactly; this is the hot path of set membership.
    const v = Number(a.value);
    const base = Number(c.base);
    return v >= base && v < base + 2 ** (32 - c.prefix);
  }
  return a.value >> hostBits(c) === c.base >> hostBits(c);
}

export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    outer.prefix <= inner.prefix &&
    cidrContains(outer, { family: inner.family, value: inner.base })
  );
}

/** Two CIDR blocks overlap exactly when one contains the other. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrContainsCidr(a, b) || cidrContainsCidr(b, a);
}

/**
 * A set of non-overlapping CIDR blocks, claimed one after another: a block
 * that overlaps one already claimed is refused and that one named. Each claim
 * costs one map lookup per prefix length (33 for IPv4), not one comparison
 * per block already claimed.
 */
export class CidrClaims {
  /** Claimed blocks by their key. */
  private readonly claimed = new Map<string, Cidr>();
  /** Every block that contains a claimed one (the claimed block itself too) → a claimed one inside. */
  private readonly covering = new Map<string, Cidr>();

  /** Claims `c`; when it overlaps a claimed block, claims nothing and returns that block. */
  claim(c: Cidr): Cidr | undefined {
    // A claimed block that contains c (or is c): one of c's truncations.
    for (let p = 0; p <= c.prefix; p++) {
      const hit = this.claimed.get(truncatedKey(c, p));
      if (hit) return hit;
    }
    // A claimed block inside c.
    const inside = this.covering.get(truncatedKey(c, c.prefix));
    if (inside) return inside;
    this.claimed.set(truncatedKey(c, c.prefix), c);
    for (let p = 0; p <= c.prefix; p++) {
      const k = truncatedKey(c, p);
      if (!this.covering.has(k)) this.covering.set(k, c);
    }
    return undefined;
  }
}

function truncatedKey(c: Cidr, prefix: number): string {
  return `${c.family}/${(c.base & ~hostMask(c.family, prefix)).toString(36)}/${prefix}`;
}

/** Orders by family (IPv4 first), then base address, then shorter prefix first. */
export function compareCidr(a: Cidr, b: Cidr): number {
  const byBase = compareIp(cidrFirst(a), cidrFirst(b));
  return byBase !== 0 ? byBase : a.prefix - b.prefix;
}

/** floor(log2(x)) for x > 0. */
function log2(x: bigint): number {
  return x.toString(2).length - 1;
}

/** Number of trailing zero bits of x, capped at `max` (x = 0 gives `max`). */
function trailingZeros(x: bigint, max: number): number {
  if (x === 0n) return max;
  return Math.min(log2(x & -x), max);
}

/**
 * The fewest CIDR blocks covering exactly [start, end]: greedily take the
 * largest aligned block at `start` that fits. The result is sorted.
 */
function rangeToCidrs(family: IpFamily, r: Range, out: Cidr[]): void {
  const bits = familyBits(family);
  let start = r.start;
  while (start <= r.end) {
    const size = Math.min(trailingZeros(start, bits), log2(r.end - start + 1n));
    out.push({ family, base: start, prefix: bits - size });
    start += 1n << BigInt(size);
  }
}

function toRange(c: Cidr): Range {
  return { start: c.base, end: lastValue(c) };
}

function byStart(a: Range, b: Range): number {
  return a.start < b.start ? -1 : a.start > b.start ? 1 : 0;
}

/** Sorts and merges overlapping or adjacent ranges. */
function unionRanges(ranges: Range[]): Range[] {
  ranges.sort(byStart);
  const merged: Range[] = [];
  for (const r of ranges) {
    const top = merged[merged.length - 1];
    if (top !== undefined && r.start <= top.end + 1n) {
      if (r.end > top.end) top.end = r.end;
    } else {
      merged.push({ start: r.start, end: r.end });
    }
  }
  return merged;
}

/**
 * The addresses of `c` that are in none of `except`, as a minimal sorted list
 * of disjoint blocks. Excepts of another family or outside `c` are ignored;
 * excepts larger than `c` remove all of it.
 */
export function subtractCidrs(c: Cidr, except: readonly Cidr[]): Cidr[] {
  const whole = toRange(c);
  const holes: Range[] = [];
  for (const e of except) {
    if (!cidrOverlaps(c, e)) continue;
    const r = toRange(e);
    holes.push({
      start: r.start > whole.start ? r.start : whole.start,
      end: r.end < whole.end ? r.end : whole.end,
    });
  }
  const out: Cidr[] = [];
  let next = whole.start;
  for (const hole of unionRanges(holes)) {
    if (hole.start > next) rangeToCidrs(c.family, { start: next, end: hole.start - 1n }, out);
    next = hole.end + 1n;
  }
  if (next <= whole.end) rangeToCidrs(c.family, { start: next, end: whole.end }, out);
  return out;
}

/**
 * The union of the blocks as a minimal sorted list of disjoint blocks
 * (overlaps removed, adjacent siblings merged), IPv4 before IPv6.
 */
export function mergeCidrs(list: readonly Cidr[]): Cidr[] {
  const out: Cidr[] = [];
  for (const family of [4, 6] as const) {
    const ranges = list.filter((c) => c.family === family).map(toRange);
    for (const r of unionRanges(ranges)) rangeToCidrs(family, r, out);
  }
  return out;
}
