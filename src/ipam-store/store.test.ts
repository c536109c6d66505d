import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, WeftError } from '../core/errors.js';
import { parseCidr } from '../core/net/cidr.js';
import { formatIp } from '../core/net/ip.js';
import type { Cidr, IpAddr } from '../core/net/types.js';
import { IpamStore, LAST_RESERVED, poolDirName } from './store.js';
import type { Owner } from './store.js';

function cidr(s: string): Cidr {
  const parsed = parseCidr(s);
  assert.ok(parsed !== undefined, s);
  return parsed.cidr;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ipam-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function owner(containerId: string, ifname = 'eth0'): Owner {
  return { containerId, ifname };
}

function texts(ips: readonly IpAddr[]): string[] {
  return ips.map(formatIp);
}

/** The allocation files of a pool, read straight from disk: address → parsed content. */
function filesOf(dir: string, pool: string): Map<string, unknown> {
  const poolDir = join(dir, poolDirName(cidr(pool)));
  const out = new Map<string, unknown>();
  for (const name of readdirSync(poolDir)) {
    if (name === LAST_RESERVED) continue;
    out.set(name, JSON.parse(readFileSync(join(poolDir, name), 'utf8')));
  }
  return out;
}

function isAddressError(pool: string): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof WeftError);
    assert.equal(e.code, ErrorCodes.ADDRESS);
    assert.match(e.message, new RegExp(`IPAM pool ${pool.replace(/[.]/g, '\\.')}`));
    assert.match(e.message, /fix: .*larger pod CIDR/);
    return true;
  };
}

test('allocate, idempotency, exhaustion and release in a /30', async (t) => {
  const dir = tempDir(t);
  const store = new IpamStore(dir, [cidr('10.0.0.0/30')]);
  assert.deepEqual(texts(await store.allocate(owner('a'))), ['10.0.0.1']);
  assert.deepEqual(texts(await store.allocate(owner('a'))), ['10.0.0.1'], 'same owner, same IP');
  assert.deepEqual(texts(await store.allocate(owner('b'))), ['10.0.0.2']);
  await assert.rejects(store.allocate(owner('c')), isAddressError('10.0.0.0/30'));
  assert.deepEqual(await store.usage(), [
    { cidr: cidr('10.0.0.0/30'), allocated: 2, capacity: 2n },
  ]);

  assert.deepEqual(texts(await store.release(owner('a'))), ['10.0.0.1']);
  assert.deepEqual(await store.release(owner('a')), [], 'release is idempotent');
  assert.deepEqual(await store.release(owner('nobody')), []);
  assert.deepEqual(texts(await store.allocate(owner('c'))), ['10.0.0.1']);
  assert.deepEqual(
    (await store.list()).map((a) => [formatIp(a.ip), a.owner.containerId]),
    [
      ['10.0.0.1', 'c'],
      ['10.0.0.2', 'b'],
    ],
  );
  // The on-disk format is host-local's: one file per address, named by it.
  assert.deepEqual(
    filesOf(dir, '10.0.0.0/30'),
    new Map([
      ['10.0.0.1', { containerId: 'c', ifname: 'eth0' }],
      ['10.0.0.2', { containerId: 'b', ifname: 'eth0' }],
    ]),
  );
  assert.ok(statSync(join(dir, '10.0.0.0_30')).isDirectory());
});

test('an owner is a container and an interface; release leaves other owners alone', async (t) => {
  const store = new IpamStore(tempDir(t), [cidr('10.0.0.0/29')]);
  const [eth0] = await store.allocate(owner('c1', 'eth0'));
  const [eth1] = await store.allocate(owner('c1', 'eth1'));
  assert.ok(eth0 && eth1);
  assert.notEqual(formatIp(eth0), formatIp(eth1));
  assert.deepEqual(await store.release(owner('c1', 'eth1')), [eth1]);
  assert.deepEqual(await store.allocate(owner('c1', 'eth0')), [eth0]);
  assert.deepEqual(await store.release(owner('c1', 'eth2')), []);
  assert.equal((await store.list()).length, 1);
});

test('addresses are handed out round-robin: a released one is not reused at once', async (t) => {
  const store = new IpamStore(tempDir(t), [cidr('10.0.0.0/29')]);
  assert.deepEqual(texts(await store.allocate(owner('a'))), ['10.0.0.1']);
  await store.release(owner('a'));
  assert.deepEqual(texts(await store.allocate(owner('b'))), ['10.0.0.2']);
  for (const id of ['c', 'd', 'e', 'f']) await store.allocate(owner(id));
  assert.deepEqual(texts(await store.allocate(owner('g'))), ['10.0.0.1'], 'wraps around');
});

test('dual-stack: one address per pool, IPv4 first, all or nothing', async (t) => {
  const dir = tempDir(t);
  const store = new IpamStore(dir, [cidr('fd00::/127'), cidr('10.0.0.0/24')]);
  assert.deepEqual(texts(await store.allocate(owner('a'))), ['10.0.0.1', 'fd00::1']);
  assert.deepEqual(texts(await store.allocate(owner('a'))), ['10.0.0.1', 'fd00::1']);
  await assert.rejects(store.allocate(owner('b')), isAddressError('fd00::/127'));
  assert.deepEqual(
    (await store.list()).map((a) => a.owner.containerId),
    ['a', 'a'],
    'b got no IPv4 address either',
  );
  assert.deepEqual(texts(await store.release(owner('a'))), ['10.0.0.1', 'fd00::1']);
  assert.deepEqual(await store.list(), []);
  assert.ok(readdirSync(dir).includes('fd00::_127'));
});

test('gc releases every allocation whose owner is not valid', async (t) => {
  const store = new IpamStore(tempDir(t), [cidr('10.0.0.0/24'), cidr('fd00::/120')]);
  for (const id of ['a', 'b', 'c']) await store.allocate(owner(id));
  await store.allocate(owner('a', 'eth1'));
  const gone = await store.gc([owner('a'), owner('c', 'eth1'), owner('zzz')]);
  assert.deepEqual(
    gone.map((a) => `${a.owner.containerId}/${a.owner.ifname} ${formatIp(a.ip)}`),
    [
      'b/eth0 10.0.0.2',
      'c/eth0 10.0.0.3',
      'a/eth1 10.0.0.4',
      'b/eth0 fd00::2',
      'c/eth0 fd00::3',
      'a/eth1 fd00::4',
    ],
  );
  assert.deepEqual(
    (await store.list()).map((a) => `${a.owner.containerId} ${formatIp(a.ip)}`),
    ['a 10.0.0.1', 'a fd00::1'],
  );
  assert.deepEqual(await store.gc([owner('a')]), []);
  assert.equal((await store.gc([])).length, 2);
  assert.deepEqual(await store.list(), []);
});

test('50 concurrent allocations for 50 owners get 50 distinct addresses', async (t) => {
  const dir = tempDir(t);
  const store = new IpamStore(dir, [cidr('10.1.0.0/24')]);
  const ids = Array.from({ length: 50 }, (_, i) => `pod-${i}`);
  const got = await Promise.all(ids.map((id) => store.allocate(owner(id))));
  const ips = got.map((g) => {
    assert.equal(g.length, 1);
    return formatIp(g[0] as IpAddr);
  });
  assert.equal(new Set(ips).size, 50);
  const files = filesOf(dir, '10.1.0.0/24');
  assert.equal(files.size, 50);
  ids.forEach((id, i) => assert.deepEqual(files.get(ips[i] as string), owner(id)));
});

test('concurrent allocations for the same owner agree on one address', async (t) => {
  const dir = tempDir(t);
  const store = new IpamStore(dir, [cidr('10.1.0.0/24'), cidr('fd00:1::/64')]);
  const others = Array.from({ length: 10 }, (_, i) => store.allocate(owner(`other-${i}`)));
  const same = Array.from({ length: 10 }, () => store.allocate(owner('retried')));
  const results = await Promise.all([...same, ...others]);
  const first = results[0];
  assert.ok(first !== undefined);
  for (const r of results.slice(0, 10)) assert.deepEqual(r, first);
  const held = (await store.list()).filter((a) => a.owner.containerId === 'retried');
  assert.deepEqual(
    held.map((a) => a.ip),
    first,
    'exactly one address per pool on disk',
  );
  assert.equal((await store.list()).length, 22);
});

test('concurrent release, gc and allocate keep every address with one owner', async (t) => {
  const dir = tempDir(t);
  const store = new IpamStore(dir, [cidr('10.2.0.0/26')]);
  const first = Array.from({ length: 40 }, (_, i) => owner(`old-${i}`));
  for (const o of first) await store.allocate(o);
  const keep = first.filter((_, i) => i % 2 === 0);
  const fresh = Array.from({ length: 30 }, (_, i) => owner(`new-${i}`));
  const results = await Promise.allSettled([
    ...first.filter((_, i) => i % 4 === 1).map((o) => store.release(o)),
    store.gc([...keep, ...fresh]),
    ...fresh.map((o) => store.allocate(o)),
  ]);
  // 62 usable, 20 kept: the 30 new owners fit once the 20 others are gone,
  // but some may have raced ahead of the release; none may be lost or doubled.
  const failed = results.filter((r) => r.status === 'rejected');
  for (const f of failed) assert.ok(f.reason instanceof WeftError, String(f.reason));
  const list = await store.list();
  const files = filesOf(dir, '10.2.0.0/26');
  assert.equal(files.size, list.length);
  for (const a of list) assert.deepEqual(files.get(formatIp(a.ip)), a.owner);
  const holders = new Set(list.map((a) => a.owner.containerId));
  assert.equal(holders.size, list.length, 'no owner holds two addresses');
  for (const o of keep) assert.ok(holders.has(o.containerId), `${o.containerId} was kept`);
  for (const o of first) {
    if (!keep.includes(o)) assert.ok(!holders.has(o.containerId), `${o.containerId} released`);
  }
  assert.equal(list.length, keep.length + fresh.length - failed.length);
});

test('a stale or garbage last_reserved hint is ignored', async (t) => {
  const pool = cidr('10.0.0.0/29');
  const hints: [string, string][] = [
    ['garbage\n', '10.0.0.1'],
    ['', '10.0.0.1'],
    ['192.168.7.7\n', '10.0.0.1'],
    ['fd00::3\n', '10.0.0.1'],
    ['10.0.0.3/24\n', '10.0.0.1'],
    ['10.0.0.7\n', '10.0.0.1'],
    ['10.0.0.6\n', '10.0.0.1'],
    ['10.0.0.3\n', '10.0.0.4'],
    ['  10.0.0.4  \n', '10.0.0.5'],
  ];
  for (const [hint, want] of hints) {
    const dir = tempDir(t);
    const poolDir = join(dir, poolDirName(pool));
    mkdirSync(poolDir);
    writeFileSync(join(poolDir, LAST_RESERVED), hint);
    const store = new IpamStore(dir, [pool]);
    assert.deepEqual(texts(await store.allocate(owner('a'))), [want], JSON.stringify(hint));
    assert.equal(readFileSync(join(poolDir, LAST_RESERVED), 'utf8'), `${want}\n`);
  }
  // A directory in the hint's place is no hint either.
  const dir = tempDir(t);
  mkdirSync(join(dir, poolDirName(pool), LAST_RESERVED), { recursive: true });
  const store = new IpamStore(dir, [pool]);
  assert.deepEqual(texts(await store.allocate(owner('a'))), ['10.0.0.1']);
  assert.deepEqual(texts(await store.allocate(owner('b'))), ['10.0.0.2']);
});

test('recover removes temp files and corrupt allocations, and nothing else', async (t) => {
  const dir = tempDir(t);
  const pool = cidr('10.0.0.0/24');
  const store = new IpamStore(dir, [pool]);
  await store.allocate(owner('good'));
  const poolDir = join(dir, poolDirName(pool));
  const write = (name: string, text: string) => writeFileSync(join(poolDir, name), text);
  write('.tmp-123-abc', '{"containerId":"half');
  write('.tmp-456-def', '');
  write('10.0.0.7', '{"containerId":"x","ifn');
  write('10.0.0.8', '');
  write('10.0.0.9', '{"containerId":"","ifname":"eth0"}');
  write('10.0.0.10', '["x","eth0"]');
  write('10.9.9.9', 'not ours: outside the pool');
  write('10.0.0.011', 'not an address name');
  write('README', 'left alone');

  // Until recovered, a corrupt file still blocks its address, and is not listed.
  assert.deepEqual(
    (await store.list()).map((a) => a.owner.containerId),
    ['good'],
  );
  assert.equal((await store.usage())[0]?.allocated, 5);
  assert.deepEqual(await store.recover(), { removedTemp: 2, removedCorrupt: 4 });
  assert.deepEqual(readdirSync(poolDir).sort(), [
    '10.0.0.011',
    '10.0.0.1',
    '10.9.9.9',
    'README',
    LAST_RESERVED,
  ]);
  assert.deepEqual(await store.recover(), { removedTemp: 0, removedCorrupt: 0 });
  assert.deepEqual(
    (await store.list()).map((a) => a.owner.containerId),
    ['good'],
  );
});

test('recover and list work before any allocation', async (t) => {
  const store = new IpamStore(tempDir(t), [cidr('10.0.0.0/24'), cidr('fd00::/64')]);
  assert.deepEqual(await store.list(), []);
  assert.deepEqual(await store.release(owner('a')), []);
  assert.deepEqual(await store.recover(), { removedTemp: 0, removedCorrupt: 0 });
  assert.deepEqual(await store.usage(), [
    { cidr: cidr('10.0.0.0/24'), allocated: 0, capacity: 254n },
    { cidr: cidr('fd00::/64'), allocated: 0, capacity: 2n ** 64n - 1n },
  ]);
});

test('bad pools and owners are errors that name the problem', (t) => {
  const dir = tempDir(t);
  const poolError = (pattern: RegExp) => (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.equal(e.code, ErrorCodes.ADDRESS);
    assert.match(e.message, pattern);
    return true;
  };
  assert.throws(
    () => new IpamStore(dir, [cidr('10.0.0.0/24'), cidr('10.1.0.0/24')]),
    poolError(/IPAM pool 10\.1\.0\.0\/24: a second IPv4 pool \(the first is 10\.0\.0\.0\/24\)/),
  );
  assert.throws(
    () => new IpamStore(dir, [cidr('10.0.0.1/32')]),
    poolError(/10\.0\.0\.1\/32: has no address a pod may be given/),
  );
  assert.throws(() => new IpamStore(dir, []), poolError(/no pool/));
  const store = new IpamStore(dir, [cidr('10.0.0.0/24')]);
  return assert.rejects(store.allocate({ containerId: '', ifname: 'eth0' }), (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.equal(e.code, ErrorCodes.INVALID_FIELD);
    assert.match(e.message, /IPAM owner: containerId/);
    return true;
  });
});
