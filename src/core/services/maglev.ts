/**
 * Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016, section 3.4): a lookup table
 * of M slots, M prime, each slot naming a backend. Each backend walks its
 * own permutation of the slots (an offset and a skip from two hashes of its
 * name) and, in turns, claims the next free slot of its walk; so every
 * backend holds M/N slots give or take one, and removing one of N backends
 * frees its slots while most others keep theirs. A connection's hash picks
 * the slot. Pure and deterministic: the same backends give the same table on
 * every node, in whatever order they come.
 */

/** Table sizes (primes): a Service port takes the smallest with 100 slots a backend. */
export const MAGLEV_SIZES = [1021, 4093, 16381, 65521] as const;

/**
 * The smallest of MAGLEV_SIZES with at least 100 slots a backend (the
 * paper's advice: fewer, and removing a backend moves more than its own
 * share), the largest beyond 655 backends. A Service port that grows past
 * 10, 40 or 163 endpoints gets a larger table, and its connections are
 * shuffled once.
 */
export function maglevSize(backends: number): number {
  return MAGLEV_SIZES.find((m) => m >= 100 * backends) ?? 65521;
}

/** FNV-1a (32 bits) of the UTF-16 code units of `s`, from `basis`. */
function fnv1a(s: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  // A final avalanche (murmur3's fmix32): FNV's low bits alone are weak.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

const OFFSET_BASIS = 2166136261;
/** Another basis for the second hash (the skip), so it is independent of the offset. */
const SKIP_BASIS = 0x5bd1e995;

/**
 * The lookup table for `backends` (their names; unique): slot → backend
 * name, `size` slots (a prime, at least the number of backends). Empty for
 * no backends.
 */
export function maglevTable(
  backends: readonly string[],
  size = maglevSize(backends.length),
): string[] {
  const names = [...new Set(backends)].sort();
  if (names.length === 0) return [];
  if (names.length > size) throw new Error(`maglev: ${names.length} backends for ${size} slots`);
  const walks = names.map((name) => ({
    name,
    offset: fnv1a(name, OFFSET_BASIS) % size,
    skip: (fnv1a(name, SKIP_BASIS) % (size - 1)) + 1,
    next: 0,
  }));
  const table = new Array<string | undefined>(size).fill(undefined);
  let filled = 0;
  for (;;) {
    for (const w of walks) {
      let slot = (w.offset + w.next * w.skip) % size;
      while (table[slot] !== undefined) {
        w.next++;
        slot = (w.offset + w.next * w.skip) % size;
      }
      table[slot] = w.name;
      w.next++;
      if (++filled === size) return table as string[];
    }
  }
}
