/**
 * Many processes, one store directory: concurrent child processes never get
 * one address twice, and processes killed at random moments leave nothing
 * that recover() and GC cannot clean up.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, WeftError } from '../core/errors.js';
import { formatCidr, parseCidr } from '../core/net/cidr.js';
import { formatIp } from '../core/net/ip.js';
import type { Cidr } from '../core/net/types.js';
import { IpamStore, LAST_RESERVED, TEMP_PREFIX, poolDirName } from './store.js';
import type { Owner } from './store.js';

const WORKER = fileURLToPath(new URL('./testing/alloc-worker.js', import.meta.url));
/** No child may live longer than this, whatever happens. */
const CHILD_LIMIT_MS = 20_000;

function cidr(s: string): Cidr {
  const parsed = parseCidr(s);
  assert.ok(parsed !== undefined, s);
  return parsed.cidr;
}

function owner(containerId: string): Owner {
  return { containerId, ifname: 'eth0' };
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ipam-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface WorkerRun {
  /** Complete lines only: a line cut by a kill is dropped. */
  readonly lines: string[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  /** Killed because it outlived CHILD_LIMIT_MS: a hang, never a pass. */
  readonly timedOut: boolean;
}

interface WorkerOptions {
  readonly dir: string;
  readonly pools: readonly string[];
  readonly prefix: string;
  readonly count: number;
  readonly keep?: number;
  readonly untilFull?: boolean;
  /** Called once, when the first output arrives: the worker is in its loop. */
  readonly onStarted?: (kill: () => void) => void;
}

function runWorker(o: WorkerOptions): Promise<WorkerRun> {
  const args = [WORKER, '--dir', o.dir, '--prefix', o.prefix, '--count', String(o.count)];
  for (const p of o.pools) args.push('--pool', p);
  if (o.keep !== undefined) args.push('--keep', String(o.keep));
  if (o.untilFull) args.push('--until-full');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => child.kill('SIGKILL');
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    kill();
  }, CHILD_LIMIT_MS);
  let out = '';
  let err = '';
  let started = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    if (!started) {
      started = true;
      o.onStarted?.(kill);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      const lines = out.split('\n');
      lines.pop(); // the text after the last newline is not a complete line
      resolve({ lines, code, signal, stderr: err, timedOut });
    });
  });
}

/** The files of a pool directory, read straight from disk. */
function poolFiles(
  dir: string,
  pool: string,
): { temps: string[]; allocations: Map<string, string> } {
  const poolDir = join(dir, poolDirName(cidr(pool)));
  const temps: string[] = [];
  const allocations = new Map<string, string>();
  for (const name of readdirSync(poolDir)) {
    if (name.startsWith(TEMP_PREFIX)) temps.push(name);
    else if (name !== LAST_RESERVED) {
      const text = readFileSync(join(poolDir, name), 'utf8');
      let content: unknown;
      assert.doesNotThrow(() => (content = JSON.parse(text)), `${pool} ${name}: ${text}`);
      assert.deepEqual(Object.keys(content as object), ['containerId', 'ifname']);
      const { containerId, ifname } = content as { containerId: unknown; ifname: unknown };
      assert.equal(ifname, 'eth0');
      assert.equal(typeof containerId, 'string');
      allocations.set(name, containerId as string);
    }
  }
  return { temps, allocations };
}

test('child processes allocating at once never share an address', async (t) => {
  const dir = tempDir(t);
  const pools = ['10.30.0.0/24', 'fd00:30::/120'];
  const runs = await Promise.all(
    [0, 1, 2, 3].map((k) => runWorker({ dir, pools, prefix: `w${k}`, count: 25 })),
  );
  const held = new Map<string, string>();
  for (const run of runs) {
    assert.equal(run.timedOut, false);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.lines.at(-1), 'DONE');
    for (const line of run.lines.slice(0, -1)) {
      const [kind, id, v4, v6, ...rest] = line.split(' ');
      assert.ok(kind === 'A' && id && v4 && v6 && rest.length === 0, line);
      for (const ip of [v4, v6]) {
        assert.equal(held.get(ip), undefined, `${ip} printed for ${held.get(ip)} and ${id}`);
        held.set(ip, id);
      }
    }
  }
  assert.equal(held.size, 200);
  for (const pool of pools) {
    const { temps, allocations } = poolFiles(dir, pool);
    assert.deepEqual(temps, []);
    assert.equal(allocations.size, 100);
    for (const [ip, id] of allocations) assert.equal(held.get(ip), id, ip);
  }
});

test('child processes racing for the last addresses fill the pool exactly', async (t) => {
  const dir = tempDir(t);
  const pools = ['10.31.0.0/26'];
  const runs = await Promise.all(
    [0, 1, 2, 3].map((k) => runWorker({ dir, pools, prefix: `w${k}`, count: 40, untilFull: true })),
  );
  const ips: string[] = [];
  for (const run of runs) {
    assert.equal(run.timedOut, false);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.lines.at(-1), 'FULL', 'every worker saw the pool full');
    for (const line of run.lines.slice(0, -1)) ips.push(line.split(' ')[2] as string);
  }
  assert.equal(ips.length, 62, 'every usable address was handed out');
  assert.equal(new Set(ips).size, 62, 'and none twice');
  assert.equal(poolFiles(dir, '10.31.0.0/26').allocations.size, 62);
});

/** What one worker reported before it died. */
interface Reported {
  /** containerId → addresses, for owners it allocated and did not report released. */
  readonly held: Map<string, string[]>;
  /** Owners it reported allocated, released or not. */
  readonly allocated: Set<string>;
  /** The owner whose release may have been cut short; undefined if none. */
  readonly releasing: string | undefined;
  /** The owner it may have been allocating when it died. */
  readonly allocating: string;
}

function parseReport(prefix: string, keep: number, lines: readonly string[]): Reported {
  const held = new Map<string, string[]>();
  const allocated = new Set<string>();
  let last = -1;
  for (const line of lines) {
    const [kind, id, ...ips] = line.split(' ');
    assert.ok(id !== undefined, line);
    if (kind === 'A') {
      allocated.add(id);
      held.set(id, ips);
      assert.equal(id, `${prefix}-${++last}`, 'owners are allocated in order');
    } else {
      assert.equal(kind, 'R', line);
      assert.ok(held.delete(id), `${id} released without being held`);
    }
  }
  const pending = `${prefix}-${last - keep}`;
  return {
    held,
    allocated,
    releasing: last >= keep && held.has(pending) ? pending : undefined,
    allocating: `${prefix}-${last + 1}`,
  };
}

test('workers killed at random moments leak nothing that recover and GC do not reclaim', async (t) => {
  const dir = tempDir(t);
  const pools = ['10.40.0.0/25', 'fd00:40::/121'];
  const store = new IpamStore(dir, pools.map(cidr));
  const ROUNDS = 5;
  const WORKERS = 4;
  const KEEP = 2;
  const reports: Reported[] = [];
  let killed = 0;
  let removedTemp = 0;

  for (let round = 0; round < ROUNDS; round++) {
    const runs = await Promise.all(
      Array.from({ length: WORKERS }, (_, k) => {
        const prefix = `r${round}w${k}`;
        const onStarted = (kill: () => void) => setTimeout(kill, Math.random() * 250);
        return runWorker({ dir, pools, prefix, count: 5000, keep: KEEP, onStarted }).then(
          (run) => ({ prefix, run }),
        );
      }),
    );
    for (const { prefix, run } of runs) {
      assert.equal(run.timedOut, false, `${prefix} hung`);
      // Killed mid-loop, or (on a very fast machine) done; never failed.
      assert.ok(run.signal === 'SIGKILL' || run.code === 0, `${prefix}: ${run.stderr}`);
      if (run.signal === 'SIGKILL') killed++;
      const lines = run.lines.filter((l) => l !== 'DONE');
      reports.push(parseReport(prefix, KEEP, lines));
    }
    removedTemp += (await store.recover()).removedTemp;
    checkDisk(dir, pools, reports);
  }
  const reported = reports.reduce((n, r) => n + r.allocated.size, 0);
  t.diagnostic(
    `${killed} workers killed after ${reported} reported allocations; recover removed ${removedTemp} temp files`,
  );

  // Release every owner the workers reported; what is left can only be an
  // allocation a worker was making when it died, and GC takes those.
  for (const r of reports) for (const id of r.allocated) await store.release(owner(id));
  const allocating = new Set(reports.map((r) => r.allocating));
  const left = await store.list();
  for (const a of left) assert.ok(allocating.has(a.owner.containerId), a.owner.containerId);
  assert.deepEqual(await store.gc([]), left);
  assert.deepEqual(await store.list(), []);
  for (const u of await store.usage()) assert.equal(u.allocated, 0, formatCidr(u.cidr));
  for (const pool of pools) assert.deepEqual(poolFiles(dir, pool).allocations.size, 0);

  // Completely free: every usable IPv4 address can be handed out again.
  for (let i = 0; i < 126; i++) await store.allocate(owner(`again-${i}`));
  await assert.rejects(store.allocate(owner('one-too-many')), (e: unknown) => {
    assert.ok(e instanceof WeftError && e.code === ErrorCodes.ADDRESS);
    assert.match(e.message, /IPAM pool 10\.40\.0\.0\/25/);
    return true;
  });
  const ips = (await store.list()).map((a) => formatIp(a.ip));
  assert.equal(new Set(ips.filter((ip) => ip.includes('.'))).size, 126);
});

/**
 * After recover(): no temp file, every allocation file complete, and every
 * address on disk explained by what the workers reported — each owner they
 * hold has its own addresses, and anything else is an allocation or release
 * cut short by a kill.
 */
function checkDisk(dir: string, pools: readonly string[], reports: readonly Reported[]): void {
  const inFlight = new Set<string>();
  for (const r of reports) {
    inFlight.add(r.allocating);
    if (r.releasing !== undefined) inFlight.add(r.releasing);
  }
  const onDisk = new Map<string, string>();
  for (const pool of pools) {
    const { temps, allocations } = poolFiles(dir, pool);
    assert.deepEqual(temps, [], `${pool}: temp files left after recover`);
    const owners = [...allocations.values()];
    assert.equal(new Set(owners).size, owners.length, `${pool}: an owner with two addresses`);
    for (const [ip, id] of allocations) onDisk.set(ip, id);
  }
  const claimed = new Map<string, string>();
  for (const r of reports) {
    for (const [id, ips] of r.held) {
      for (const ip of ips) {
        assert.equal(claimed.get(ip), undefined, `${ip} reported for ${claimed.get(ip)} and ${id}`);
        claimed.set(ip, id);
        if (id === r.releasing && !onDisk.has(ip)) continue;
        assert.equal(onDisk.get(ip), id, `${ip} of ${id}`);
      }
    }
  }
  for (const [ip, id] of onDisk) {
    assert.ok(claimed.get(ip) === id || inFlight.has(id), `${ip} held by ${id}, unexplained`);
  }
}
