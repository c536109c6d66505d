import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConntrackEvent } from './conntrack.js';
import { ConntrackReader } from './conntrack-reader.js';
import { NflogReader } from './nflog-reader.js';

// The readers' process handling, without the kernel (the kernel tests are in
// test/integration/flows-io.test.ts).

test('a missing tcpdump or conntrack binary is a start error that says what to install', async () => {
  await assert.rejects(
    NflogReader.start({ group: 1, tcpdump: '/nonexistent/tcpdump' }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'WEFT_FLOW_READER_START');
      assert.match(e.message, /cannot read nflog group 1: .*ENOENT.*\(install tcpdump/s);
      return true;
    },
  );
  await assert.rejects(
    ConntrackReader.start({ conntrack: '/nonexistent/conntrack' }),
    /cannot read conntrack events: .*ENOENT/s,
  );
  await assert.rejects(ConntrackReader.start({ events: [] }), /use NEW, UPDATE, DESTROY/);
});

const LINE =
  '[1795330842.849591]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.98.1.2 dst=10.98.2.2 sport=PORT dport=8080 [UNREPLIED] src=10.98.2.2 dst=10.98.1.2 sport=8080 dport=PORT id=1';

/**
 * Stands in for `conntrack -E` to exercise line handling: it announces its
 * socket buffer as conntrack does, then writes event lines cut at awkward
 * places, one line too long to be an event, a garbage line, and a last line
 * with no newline before it exits.
 */
function scriptedConntrack(dir: string): string {
  const lines = [1, 2, 3].map((p) => LINE.replace(/PORT/g, String(40000 + p)));
  const chunks = [
    lines[0]?.slice(0, 17),
    `${lines[0]?.slice(17)}\n${lines[1]?.slice(0, 100)}`,
    `${lines[1]?.slice(100)}\n`,
    'x'.repeat(20_000),
    'y'.repeat(20_000),
    '\nnot an event\n',
    lines[2],
  ];
  const path = join(dir, 'conntrack');
  writeFileSync(
    path,
    `#!${process.execPath}
const chunks = ${JSON.stringify(chunks)};
process.stderr.write('NOTICE: Netlink socket buffer size has been set to 16777216 bytes.\\n');
let i = 0;
const next = () => {
  if (i === chunks.length) return;
  process.stdout.write(chunks[i++], () => setTimeout(next, 20));
};
setTimeout(next, 50);
`,
  );
  chmodSync(path, 0o755);
  return path;
}

test('conntrack lines split across reads, an overlong line and a last line without newline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-flows-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const reader = await ConntrackReader.start({ conntrack: scriptedConntrack(dir) });
  const events: ConntrackEvent[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of reader) events.push(e);
    })(),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'WEFT_FLOW_READER_EXIT');
      assert.match(e.message, /conntrack reader stopped: .* exited 0/);
      return true;
    },
  );
  assert.deepEqual(
    events.map((e) => e.original.sport),
    [40001, 40002, 40003],
  );
  const s = reader.stats();
  assert.equal(s.lines, 4, 'three events and the garbage line');
  assert.equal(s.malformed, 2);
  assert.match(s.lastMalformed ?? '', /not an event/);
  assert.equal(s.delivered, 3);
});
