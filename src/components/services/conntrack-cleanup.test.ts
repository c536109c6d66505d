import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIp } from '../../core/net/ip.js';
import type { ConntrackFilter } from '../../core/services/conntrack-plan.js';
import { conntrackDeleteArgs, deleteStaleEntries } from './conntrack-cleanup.js';

const ip = (s: string) => {
  const a = parseIp(s);
  assert.ok(a, s);
  return a;
};

const gone: ConntrackFilter = {
  family: 4,
  protocol: 'UDP',
  dst: ip('10.96.0.10'),
  dstPort: 53,
  endpoint: { ip: ip('10.244.1.5'), port: 5353 },
  reason: 'endpoint-removed',
  service: 'kube-system/dns:dns/UDP',
};

test('each filter is one exact conntrack -D', () => {
  assert.deepEqual(conntrackDeleteArgs(gone), [
    '-D',
    '-f',
    'ipv4',
    '-p',
    'udp',
    '--orig-dst',
    '10.96.0.10',
    '--orig-port-dst',
    '53',
    '--reply-src',
    '10.244.1.5',
    '--reply-port-src',
    '5353',
  ]);
  const nodePortOpened: ConntrackFilter = {
    family: 6,
    protocol: 'SCTP',
    dstPort: 30053,
    reason: 'frontend-opened',
    service: 'tel/sig:/SCTP',
  };
  assert.deepEqual(conntrackDeleteArgs(nodePortOpened), [
    '-D',
    '-f',
    'ipv6',
    '-p',
    'sctp',
    '--orig-port-dst',
    '30053',
  ]);
});

/** A stand-in for conntrack: a shell script in a temp dir. */
function fakeConntrack(t: import('node:test').TestContext, body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ct-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'conntrack');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

test('counts what conntrack deleted; "0 flow entries have been deleted" (exit 1) is no failure', async (t) => {
  const conntrack = fakeConntrack(
    t,
    `case "$*" in
  *10.244.1.5*) echo "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted." >&2 ;;
  *) echo "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted." >&2; exit 1 ;;
esac`,
  );
  const other = { ...gone, endpoint: { ip: ip('10.244.1.6'), port: 5353 } };
  const r = await deleteStaleEntries([gone, other, gone], { conntrack });
  assert.deepEqual(r.failures, []);
  assert.equal(r.done, 3);
  assert.equal(r.deleted, 4);
});

test('a deletion of many entries (each one a line on stdout) fills no buffer', async (t) => {
  const conntrack = fakeConntrack(
    t,
    `i=0; while [ $i -lt 5000 ]; do
  echo "udp      17 29 src=10.0.0.1 dst=10.96.0.10 sport=$i dport=53 [UNREPLIED] src=10.244.1.5 dst=10.0.0.1 sport=5353 dport=$i mark=0 use=1"
  i=$((i+1))
done
echo "conntrack v1.4.7 (conntrack-tools): 5000 flow entries have been deleted." >&2`,
  );
  const r = await deleteStaleEntries([gone], { conntrack, timeoutMs: 10_000 });
  assert.deepEqual(r.failures, []);
  assert.equal(r.deleted, 5000);
});

test('failures come back with their filter and conntrack’s words, never as a rejection', async (t) => {
  const conntrack = fakeConntrack(
    t,
    'echo "conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters" >&2; exit 1',
  );
  const r = await deleteStaleEntries([gone], { conntrack });
  assert.equal(r.done, 0);
  assert.equal(r.failures.length, 1);
  assert.equal(r.failures[0]?.filter, gone);
  assert.match(
    r.failures[0]?.message ?? '',
    /conntrack -D -f ipv4 -p udp .*: conntrack v1.4.7 \(conntrack-tools\): Operation failed: invalid parameters$/,
  );
  const missing = await deleteStaleEntries([gone], { conntrack: '/nonexistent/conntrack' });
  assert.equal(missing.failures.length, 1);
  assert.match(missing.failures[0]?.message ?? '', /ENOENT/);
});

test('bounded in time: a command that hangs is killed, filters past the deadline are not run', async (t) => {
  const conntrack = fakeConntrack(t, 'exec sleep 5');
  const started = Date.now();
  const r = await deleteStaleEntries([gone, gone, gone], {
    conntrack,
    timeoutMs: 150,
    deadlineMs: 100,
    concurrency: 1,
  });
  assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  assert.deepEqual(
    r.failures.map((f) => f.message.replace(/^.*: /, '')),
    [
      'no answer within 150 ms',
      "not run, the cleanup's 100 ms had passed",
      "not run, the cleanup's 100 ms had passed",
    ],
  );
  assert.equal(r.done, 0);
});

test('no filters: nothing runs', async () => {
  const r = await deleteStaleEntries([], { conntrack: '/nonexistent/conntrack' });
  assert.deepEqual([r.done, r.deleted, r.failures], [0, 0, []]);
});
