import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChildRecord, processStartTime } from './children.js';
import { Tool } from '../kernel-readers/subprocess.js';

function sleeper(t: test.TestContext): ChildProcess & { pid: number } {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => c.kill('SIGKILL'));
  assert.ok(c.pid);
  return c as ChildProcess & { pid: number };
}

const exited = (c: ChildProcess) =>
  new Promise<string | null>((resolve) => c.once('exit', (_code, signal) => resolve(signal)));

test('reap ends a recorded helper that still runs, and only a process with its PID, start time and program', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-helpers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const record = new ChildRecord(dir);
  const left = sleeper(t);
  const reused = sleeper(t);
  const other = sleeper(t);
  record.add(left.pid, '/usr/bin/sleep');
  assert.deepEqual(readdirSync(dir), [`${left.pid}.json`]);
  const entry = JSON.parse(readFileSync(join(dir, `${left.pid}.json`), 'utf8')) as {
    start: string;
  };
  assert.match(entry.start, /^\d+$/);
  // A PID now held by another process (a different start time), and one running another program.
  const start = processStartTime(reused.pid);
  assert.ok(start);
  writeFileSync(
    join(dir, `${reused.pid}.json`),
    JSON.stringify({ pid: reused.pid, start: String(Number(start) - 1), name: 'sleep' }),
  );
  writeFileSync(
    join(dir, `${other.pid}.json`),
    JSON.stringify({ pid: other.pid, start: processStartTime(other.pid), name: 'tcpdump' }),
  );
  writeFileSync(join(dir, '99999999.json'), 'not json');

  const gone = exited(left);
  const ended = await record.reap();
  assert.deepEqual(ended, [`sleep ${left.pid}`]);
  assert.equal(await gone, 'SIGKILL');
  assert.ok(processStartTime(reused.pid), 'a reused PID is left alone');
  assert.ok(processStartTime(other.pid), 'another program is left alone');
  assert.deepEqual(readdirSync(dir), [], 'every record is forgotten');
});

test('a tool records its helper while it runs and forgets it when it exits', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-helpers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const record = new ChildRecord(dir);
  const tool = new Tool('sleep', ['60'], {
    ledger: record,
    onStdout: () => undefined,
    onStderrLine: () => undefined,
    onExit: () => undefined,
  });
  t.after(() => tool.close());
  assert.deepEqual(readdirSync(dir), [`${tool.pid}.json`]);
  await tool.close();
  assert.deepEqual(readdirSync(dir), []);
  assert.deepEqual(await record.reap(), []);
});
