/**
 * Pod address allocations of one node, on disk, crash-safe the way
 * containernetworking/plugins host-local is (the format is in pool-dir.ts):
 * one directory per pool, `<dir>/<cidr with / replaced by _>/`, one file per
 * allocated address.
 *
 * Safety comes from the filesystem, not from memory: an allocation is a
 * `link` of a complete, fsynced temp file to the address's name, which fails
 * when the address is taken. Two callers (in one process or many) can never
 * hold one address, and a crash leaves at most a temp file, which recover()
 * removes. No state is kept in memory besides the pool list.
 *
 * Removal is read-check-unlink. Within one IpamStore removals run one at a
 * time, so two removals of one file cannot interleave with a re-allocation of
 * its address. Across processes there is no lock (host-local takes an flock):
 * allocation is safe there, but only one process should release at a time —
 * the agent, which serves every CNI request of its node.
 */
import { join } from 'node:path';
import { ErrorCodes, WeftError } from '../core/errors.js';
import type { Issue } from '../core/errors.js';
import { nextCandidates, usableRange } from '../core/ipam/pool.js';
import { formatCidr } from '../core/net/cidr.js';
import type { Cidr, IpAddr } from '../core/net/types.js';
import {
  createAllocation,
  ensurePoolDir,
  lowestHeldSince,
  poolDirName,
  readLastReserved,
  removeIfCorrupt,
  removeIfOwner,
  removeTemp,
  sameOwner,
  scanPool,
  writeLastReserved,
} from './pool-dir.js';
import type { Allocation, Owner, Pool } from './pool-dir.js';

export type { Allocation, Owner } from './pool-dir.js';
export { LAST_RESERVED, TEMP_PREFIX, poolDirName } from './pool-dir.js';

export interface PoolUsage {
  readonly cidr: Cidr;
  /** Addresses with a file, readable or not. */
  readonly allocated: number;
  /** Usable addresses of the pool. */
  readonly capacity: bigint;
}

export interface RecoverReport {
  readonly removedTemp: number;
  readonly removedCorrupt: number;
}

interface Got {
  readonly ip: IpAddr;
  /** Created by this call (so a failed allocate removes it again). */
  readonly fresh: boolean;
}

function ownerKey(o: Owner): string {
  return JSON.stringify([o.containerId, o.ifname]);
}

function checkOwner(owner: Owner): void {
  for (const field of ['containerId', 'ifname'] as const) {
    const v: unknown = owner[field];
    if (typeof v === 'string' && v !== '') continue;
    throw WeftError.of({
      code: ErrorCodes.INVALID_FIELD,
      object: 'IPAM owner',
      field,
      message: `must be a non-empty string, got ${JSON.stringify(v)}`,
      fix: 'pass the CNI_CONTAINERID and CNI_IFNAME of the request',
    });
  }
}

function capacityOf(cidr: Cidr): bigint {
  return usableRange(cidr)?.size ?? 0n;
}

function exhausted(pool: Pool): WeftError {
  const cidr = formatCidr(pool.cidr);
  return WeftError.of({
    code: ErrorCodes.ADDRESS,
    object: `IPAM pool ${cidr}`,
    field: '',
    message: `no free address: all ${capacityOf(pool.cidr)} usable addresses are allocated`,
    fix: `release the addresses of pods that are gone (CNI GC), or give the node a larger pod CIDR than ${cidr}`,
  });
}

function poolIssue(cidr: Cidr, message: string, fix: string): Issue {
  return {
    code: ErrorCodes.ADDRESS,
    object: `IPAM pool ${formatCidr(cidr)}`,
    field: '',
    message,
    fix,
  };
}

/** The pools, IPv4 first; throws when there is none, two of a family or an empty one. */
function checkPools(pools: readonly Cidr[]): Cidr[] {
  const issues: Issue[] = [];
  const first = new Map<number, Cidr>();
  for (const cidr of pools) {
    const other = first.get(cidr.family);
    if (other === undefined) first.set(cidr.family, cidr);
    else {
      const message = `a second IPv${cidr.family} pool (the first is ${formatCidr(other)})`;
      issues.push(
        poolIssue(cidr, message, 'give the node at most one pod CIDR per address family'),
      );
    }
    if (usableRange(cidr) === undefined) {
      const fix = `use a pod CIDR with room for pods, e.g. a /${cidr.family === 4 ? 24 : 64}`;
      issues.push(poolIssue(cidr, 'has no address a pod may be given', fix));
    }
  }
  if (pools.length === 0) {
    issues.push({
      code: ErrorCodes.ADDRESS,
      object: 'IPAM store',
      field: 'pools',
      message: 'no pool to allocate from',
      fix: "set the node's pod CIDRs (spec.podCIDRs)",
    });
  }
  if (issues.length > 0) throw new WeftError(issues);
  return [...pools].sort((a, b) => a.family - b.family);
}

export class IpamStore {
  readonly #pools: readonly Pool[];
  /** Removals run one at a time (see the module comment). */
  #removals: Promise<unknown> = Promise.resolve();

  /** At most one pool per family; each must have a usable address. */
  constructor(dir: string, pools: Cidr[]) {
    this.#pools = checkPools(pools).map((cidr) => ({ cidr, dir: join(dir, poolDirName(cidr)) }));
  }

  /**
   * One address from each pool, IPv4 first. Idempotent: an owner that holds
   * an address of a pool gets it back. All or nothing: when a pool is
   * exhausted, what this call took from the others is released again.
   */
  async allocate(owner: Owner): Promise<IpAddr[]> {
    checkOwner(owner);
    const got: (Got & { pool: Pool })[] = [];
    try {
      for (const pool of this.#pools) got.push({ pool, ...(await this.#allocateIn(pool, owner)) });
    } catch (e) {
      await this.#serially(async () => {
        for (const g of got) if (g.fresh) await removeIfOwner(g.pool, g.ip, owner);
      });
      throw e;
    }
    return got.map((g) => g.ip);
  }

  /** Releases every address of `owner`; idempotent. Returns what was released. */
  async release(owner: Owner): Promise<IpAddr[]> {
    checkOwner(owner);
    const gone = await this.#removeWhere((o) => sameOwner(o, owner));
    return gone.map((a) => a.ip);
  }

  /** Every allocation with a readable owner, IPv4 first, by address. */
  async list(): Promise<Allocation[]> {
    const out: Allocation[] = [];
    for (const pool of this.#pools) out.push(...(await scanPool(pool)).allocations);
    return out;
  }

  /** Releases every allocation whose owner is not in `valid` (CNI GC); returns them. */
  async gc(valid: readonly Owner[]): Promise<Allocation[]> {
    const keep = new Set(valid.map(ownerKey));
    return this.#removeWhere((o) => !keep.has(ownerKey(o)));
  }

  /**
   * Run once at agent start, before serving requests: removes the temp files
   * a crash left behind (an allocation in progress elsewhere would lose its
   * temp file and fail) and allocation files that cannot be read as an owner.
   */
  async recover(): Promise<RecoverReport> {
    return this.#serially(async () => {
      let removedTemp = 0;
      let removedCorrupt = 0;
      for (const pool of this.#pools) {
        await ensurePoolDir(pool);
        const scan = await scanPool(pool);
        for (const name of scan.temps) if (await removeTemp(pool, name)) removedTemp++;
        for (const name of scan.corrupt) if (await removeIfCorrupt(pool, name)) removedCorrupt++;
      }
      return { removedTemp, removedCorrupt };
    });
  }

  /** Per pool, IPv4 first: addresses allocated and usable. */
  async usage(): Promise<PoolUsage[]> {
    const out: PoolUsage[] = [];
    for (const pool of this.#pools) {
      const allocated = (await scanPool(pool)).taken.size;
      out.push({ cidr: pool.cidr, allocated, capacity: capacityOf(pool.cidr) });
    }
    return out;
  }

  async #allocateIn(pool: Pool, owner: Owner): Promise<Got> {
    await ensurePoolDir(pool);
    const scan = await scanPool(pool);
    const held = scan.allocations.find((a) => sameOwner(a.owner, owner));
    if (held !== undefined) return { ip: held.ip, fresh: false };
    const hint = await readLastReserved(pool);
    const ip = await createAllocation(pool, owner, nextCandidates(pool.cidr, hint), scan.taken);
    if (ip === undefined) throw exhausted(pool);
    await writeLastReserved(pool, ip);
    return this.#settle(pool, owner, ip, scan.taken);
  }

  /**
   * Two concurrent allocations for one owner (a retried CNI ADD) may both
   * link an address. Each links after its scan, so whichever links second
   * finds the other's file among the names that are new since its own scan.
   * All agree on the owner's lowest address; a caller whose link is not that
   * one removes it. (An address freed and re-linked between the two looks is
   * not re-read: that needs a release and a reuse inside one allocation.)
   */
  async #settle(pool: Pool, owner: Owner, mine: IpAddr, seen: Set<string>): Promise<Got> {
    const lowest = await lowestHeldSince(pool, owner, mine, seen);
    if (lowest === mine) return { ip: mine, fresh: true };
    await this.#serially(() => removeIfOwner(pool, mine, owner));
    return { ip: lowest, fresh: false };
  }

  async #removeWhere(match: (o: Owner) => boolean): Promise<Allocation[]> {
    return this.#serially(async () => {
      const gone: Allocation[] = [];
      for (const pool of this.#pools) {
        for (const a of (await scanPool(pool)).allocations) {
          if (match(a.owner) && (await removeIfOwner(pool, a.ip, a.owner))) gone.push(a);
        }
      }
      return gone;
    });
  }

  #serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#removals.then(fn);
    this.#removals = run.catch(() => undefined);
    return run;
  }
}
