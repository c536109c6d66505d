/**
 * Which addresses of a pod CIDR a pod may be given, and in which order an
 * allocator should try them. Pure: the store on disk (src/ipam-store) decides
 * which of them are free.
 */
import { familyBits } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';

/** The inclusive run of addresses of a pool that pods may be given. */
export interface UsableRange {
  readonly first: IpAddr;
  readonly last: IpAddr;
  /** Number of addresses from `first` to `last`, both included (at least 1). */
  readonly size: bigint;
}

/**
 * The addresses of `cidr` a pod may get, or undefined when there are none.
 * IPv4 loses the network address and, for a /30 or larger block, the
 * broadcast address (a /31 keeps its second address, a /32 keeps nothing).
 * IPv6 loses the subnet-router anycast address, the first (a /127 keeps its
 * second address, a /128 keeps nothing). This is host-local's default range.
 */
export function usableRange(cidr: Cidr): UsableRange | undefined {
  const hostBits = familyBits(cidr.family) - cidr.prefix;
  const size = 1n << BigInt(hostBits);
  const first = cidr.base + 1n;
  const broadcast = cidr.family === 4 && hostBits >= 2;
  const last = cidr.base + size - (broadcast ? 2n : 1n);
  if (last < first) return undefined;
  return {
    first: { family: cidr.family, value: first },
    last: { family: cidr.family, value: last },
    size: last - first + 1n,
  };
}

/** Whether a pod may be given `ip` from `cidr`. */
export function isUsable(cidr: Cidr, ip: IpAddr): boolean {
  const range = usableRange(cidr);
  return (
    range !== undefined &&
    ip.family === cidr.family &&
    ip.value >= range.first.value &&
    ip.value <= range.last.value
  );
}

/**
 * Every usable address of `cidr` exactly once, in address order, starting
 * just after `after` and wrapping around, so that the address released last
 * is tried last (host-local's `last_reserved_ip`). When `after` is not a
 * usable address of the pool (another family, outside the block, or the
 * network address), the walk starts at the first usable address; when it is
 * the broadcast address, the walk wraps to the first as well. Lazy: a /64
 * is never materialised.
 */
export function nextCandidates(cidr: Cidr, after?: IpAddr): Iterable<IpAddr> {
  const range = usableRange(cidr);
  if (range === undefined) return [];
  const first = range.first.value;
  const last = range.last.value;
  const start =
    after !== undefined && isUsable(cidr, after) && after.value < last ? after.value + 1n : first;
  const family = cidr.family;
  return {
    *[Symbol.iterator](): Iterator<IpAddr> {
      for (let i = 0n; i < range.size; i++) {
        const value = start + i;
        yield { family, value: value > last ? value - range.size : value };
      }
    },
  };
}
