import type { Cidr, IpAddr } from './types.js';

/**
 * Membership in a union of CIDR blocks by binary search over sorted,
 * disjoint ranges: O(log n) per address. IPv4 uses doubles (exact for 32
 * bits), IPv6 bigints.
 */
export class AddressRanges {
  private readonly v4Start: number[] = [];
  private readonly v4End: number[] = [];
  private readonly v6Start: bigint[] = [];
  private readonly v6End: bigint[] = [];

  /** `cidrs` must be disjoint (as mergeCidrs and subtractCidrs return them). */
  constructor(cidrs: readonly Cidr[]) {
    const sorted = [...cidrs].sort(
      (a, b) => a.family - b.family || (a.base < b.base ? -1 : a.base > b.base ? 1 : 0),
    );
    for (const c of sorted) {
      if (c.family === 4) {
        const base = Number(c.base);
        this.v4Start.push(base);
        this.v4End.push(base + 2 ** (32 - c.prefix) - 1);
      } else {
        this.v6Start.push(c.base);
        this.v6End.push(c.base + (1n << BigInt(128 - c.prefix)) - 1n);
      }
    }
  }

  get size(): number {
    return this.v4Start.length + this.v6Start.length;
  }

  has(ip: IpAddr): boolean {
    return ip.family === 4
      ? find(this.v4Start, this.v4End, Number(ip.value))
      : find(this.v6Start, this.v6End, ip.value);
  }
}

function find<T extends number | bigint>(starts: readonly T[], ends: readonly T[], v: T): boolean {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((starts[mid] as T) > v) hi = mid - 1;
    else if ((ends[mid] as T) < v) lo = mid + 1;
    else return true;
  }
  return false;
}
