/**
 * One pool's directory on disk, host-local's format: one file per allocated
 * address, named by the address (`10.0.0.5`, `fd00::5`), holding
 * `{"containerId","ifname"}`; a `last_reserved` hint; and, after a crash,
 * temp files (`.tmp-…`) that recover() removes.
 *
 * An allocation file is only ever created by `link`ing a complete, fsynced
 * temp file to the address's name. `link` never replaces a file, so it fails
 * with EEXIST when the address is taken, and a file under an address name
 * always has complete content.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isUsable } from '../core/ipam/pool.js';
import { cidrContains, formatCidr } from '../core/net/cidr.js';
import { compareIp, formatIp, parseIp } from '../core/net/ip.js';
import type { Cidr, IpAddr } from '../core/net/types.js';

/** Who holds an address: a CNI attachment. */
export interface Owner {
  readonly containerId: string;
  readonly ifname: string;
}

export interface Allocation {
  readonly ip: IpAddr;
  readonly owner: Owner;
}

/** Temp files start with this; nothing else in a pool directory does. */
export const TEMP_PREFIX = '.tmp-';
export const LAST_RESERVED = 'last_reserved';

/** The directory name of a pool: its CIDR with `/` replaced by `_`. */
export function poolDirName(cidr: Cidr): string {
  return formatCidr(cidr).replace('/', '_');
}

export interface Pool {
  readonly cidr: Cidr;
  readonly dir: string;
}

/** What one read of a pool directory found. */
export interface PoolScan {
  /** Names of the address files read, readable or not: none of them is free. */
  readonly taken: Set<string>;
  /** By address. */
  readonly allocations: Allocation[];
  /** Names of allocation files whose content is not a valid owner. */
  readonly corrupt: string[];
  readonly temps: string[];
}

export function sameOwner(a: Owner, b: Owner): boolean {
  return a.containerId === b.containerId && a.ifname === b.ifname;
}

function errno(e: unknown): string | undefined {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (errno(e) === 'ENOENT') return [];
    throw e;
  }
}

/** Unlinks a file; false when it was already gone. */
async function unlinkIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (e) {
    if (errno(e) === 'ENOENT') return false;
    throw e;
  }
}

/** The owner in an allocation file's text, or undefined when it is not one. */
function parseOwner(text: string): Owner | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const { containerId, ifname } = v as Record<string, unknown>;
  if (typeof containerId !== 'string' || containerId === '') return undefined;
  if (typeof ifname !== 'string' || ifname === '') return undefined;
  return { containerId, ifname };
}

/** The owner in a file; 'corrupt' when unreadable or invalid; undefined when gone. */
async function readOwner(path: string): Promise<Owner | 'corrupt' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return errno(e) === 'ENOENT' ? undefined : 'corrupt';
  }
  return parseOwner(text) ?? 'corrupt';
}

/** The address an entry of the pool directory is named after, if it is one of the pool's. */
function addressOf(pool: Pool, name: string): IpAddr | undefined {
  const ip = parseIp(name);
  if (ip === undefined || formatIp(ip) !== name || !isUsable(pool.cidr, ip)) return undefined;
  return ip;
}

export async function ensurePoolDir(pool: Pool): Promise<void> {
  await mkdir(pool.dir, { recursive: true, mode: 0o700 });
}

/**
 * Reads a pool directory. Files are read one after another, so that many
 * concurrent calls hold few descriptors. Entries that are not named by a
 * usable address of the pool (in canonical form) are not the store's.
 */
export async function scanPool(pool: Pool): Promise<PoolScan> {
  const scan: PoolScan = { taken: new Set(), allocations: [], corrupt: [], temps: [] };
  for (const name of await listNames(pool.dir)) {
    if (name.startsWith(TEMP_PREFIX)) {
      scan.temps.push(name);
      continue;
    }
    const ip = addressOf(pool, name);
    if (ip === undefined) continue;
    const owner = await readOwner(join(pool.dir, name));
    if (owner === undefined) continue;
    scan.taken.add(name);
    if (owner === 'corrupt') scan.corrupt.push(name);
    else scan.allocations.push({ ip, owner });
  }
  scan.allocations.sort((a, b) => compareIp(a.ip, b.ip));
  return scan;
}

/**
 * The lowest address below `mine` that `owner` holds among the files not in
 * `seen` (those created since a scan); `mine` when there is none.
 */
export async function lowestHeldSince(
  pool: Pool,
  owner: Owner,
  mine: IpAddr,
  seen: ReadonlySet<string>,
): Promise<IpAddr> {
  let lowest = mine;
  for (const name of await listNames(pool.dir)) {
    const ip = seen.has(name) ? undefined : addressOf(pool, name);
    if (ip === undefined || compareIp(ip, lowest) >= 0) continue;
    const other = await readOwner(join(pool.dir, name));
    if (other !== undefined && other !== 'corrupt' && sameOwner(other, owner)) lowest = ip;
  }
  return lowest;
}

function tempName(dir: string): string {
  return join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`);
}

/** Writes a new temp file with `text` and fsyncs it; returns its path. */
async function writeSyncedTemp(dir: string, text: string): Promise<string> {
  const path = tempName(dir);
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlinkIfPresent(path);
    throw e;
  }
  await fh.close();
  return path;
}

/** Makes a new directory entry durable, where the filesystem supports it. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (e) {
    if (errno(e) !== 'EINVAL') throw e;
  } finally {
    await fh.close();
  }
}

/** Links `temp` to `target`; false when `target` already exists. */
async function tryLink(temp: string, target: string): Promise<boolean> {
  try {
    await link(temp, target);
    return true;
  } catch (e) {
    if (errno(e) === 'EEXIST') return false;
    throw e;
  }
}

/**
 * Creates an allocation file for `owner` at the first of `candidates` that
 * is not in `skip` and not taken meanwhile; undefined when there is none.
 * One temp file serves every attempt and is removed before returning.
 */
export async function createAllocation(
  pool: Pool,
  owner: Owner,
  candidates: Iterable<IpAddr>,
  skip: ReadonlySet<string>,
): Promise<IpAddr | undefined> {
  const content = `${JSON.stringify({ containerId: owner.containerId, ifname: owner.ifname })}\n`;
  const temp = await writeSyncedTemp(pool.dir, content);
  try {
    for (const ip of candidates) {
      const name = formatIp(ip);
      if (skip.has(name) || !(await tryLink(temp, join(pool.dir, name)))) continue;
      await syncDir(pool.dir);
      return ip;
    }
    return undefined;
  } finally {
    await unlinkIfPresent(temp);
  }
}

/** Reads the address's file and unlinks it only if `owner` holds it. */
export async function removeIfOwner(pool: Pool, ip: IpAddr, owner: Owner): Promise<boolean> {
  const path = join(pool.dir, formatIp(ip));
  const current = await readOwner(path);
  if (current === undefined || current === 'corrupt' || !sameOwner(current, owner)) return false;
  return unlinkIfPresent(path);
}

/** Removes a temp file found by a scan; false when it was already gone. */
export function removeTemp(pool: Pool, name: string): Promise<boolean> {
  return unlinkIfPresent(join(pool.dir, name));
}

/** Removes an allocation file found corrupt by a scan, if it still is. */
export async function removeIfCorrupt(pool: Pool, name: string): Promise<boolean> {
  const path = join(pool.dir, name);
  if ((await readOwner(path)) !== 'corrupt') return false;
  return unlinkIfPresent(path);
}

/** The hint, when it names an address of the pool; anything else is ignored. */
export async function readLastReserved(pool: Pool): Promise<IpAddr | undefined> {
  let text: string;
  try {
    text = await readFile(join(pool.dir, LAST_RESERVED), 'utf8');
  } catch {
    return undefined;
  }
  const ip = parseIp(text.trim());
  return ip !== undefined && cidrContains(pool.cidr, ip) ? ip : undefined;
}

/** Temp file + rename; best effort: the hint is never needed for correctness. */
export async function writeLastReserved(pool: Pool, ip: IpAddr): Promise<void> {
  const temp = tempName(pool.dir);
  try {
    await writeFile(temp, `${formatIp(ip)}\n`, { flag: 'wx', mode: 0o600 });
    await rename(temp, join(pool.dir, LAST_RESERVED));
  } catch {
    await unlinkIfPresent(temp).catch(() => undefined);
  }
}
