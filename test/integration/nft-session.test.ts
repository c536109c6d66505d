// The long-lived nft (RealNft's default) on a real kernel, each test in fresh
// network namespaces: one process serves many transactions; each stays
// atomic; a refused one fails exactly as with one `nft -f -` per transaction;
// changes made by other processes are seen; a killed nft is replaced; and an
// idle one keeps no process alive.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { NftError, RealNft } from '../../src/nft/runner.js';
const WEFT = { family: 'inet', name: 'weft' } as const;
import { Sandbox } from '../support/sandbox.js';

const SETUP = [
  'add table inet weft',
  'add set inet weft pods { type ipv4_addr; }',
  'add chain inet weft entry { type filter hook forward priority 0; policy accept; }',
  'add rule inet weft entry ip saddr @pods accept comment "pods"',
  '',
].join('\n');

/** What a refused apply threw, comparable. */
async function refusal(p: Promise<void>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof NftError, String(e));
    return { message: e.message, stderr: e.stderr, exitCode: e.exitCode, location: e.location };
  }
  assert.fail('the transaction was taken');
}

test('one nft for many transactions, each atomic, refusals as from nft -f -', async (t) => {
  const sb = Sandbox.create(t);
  const session = new RealNft({ netns: await sb.netns('sess') });
  const perProcess = new RealNft({ netns: await sb.netns('proc'), processPerTransaction: true });
  t.after(() => session.close());
  const both = async (script: string) => {
    await session.applyScript(script);
    await perProcess.applyScript(script);
    assert.equal(await session.list(WEFT), await perProcess.list(WEFT), script);
  };
  await both(SETUP);
  const pid = session.sessionPid;
  assert.ok(pid !== undefined, 'a long-lived nft runs');
  for (let i = 1; i <= 30; i++) {
    await both(
      [
        `add element inet weft pods { 10.0.0.${i} }`,
        i % 3 === 0 ? `delete element inet weft pods { 10.0.0.${i - 1} }` : '',
        `add chain inet weft c${i}`,
        `add rule inet weft c${i} ip daddr 10.1.0.${i} drop comment "c${i}"`,
        '',
      ].join('\n'),
    );
  }
  assert.equal(session.sessionPid, pid, 'the same nft all along');

  // The element comes first, the bad rule second: neither is applied.
  const before = await session.list(WEFT);
  const bad =
    'add element inet weft pods { 10.9.9.9 }\nadd rule inet weft entry ip saddr @gone drop\n';
  const viaSession = await refusal(session.applyScript(bad));
  const viaProcess = await refusal(perProcess.applyScript(bad));
  assert.deepEqual(viaSession, viaProcess);
  assert.match(String((viaSession as { message: string }).message), /at line 2: add rule/);
  assert.equal(await session.list(WEFT), before, 'nothing of the refused script is applied');
  // A syntax error too.
  const typo = 'add element inet weft pods { 10.9.9.9 }\nadd rulle inet weft entry drop\n';
  assert.deepEqual(
    await refusal(session.applyScript(typo)),
    await refusal(perProcess.applyScript(typo)),
  );
  assert.equal(await session.list(WEFT), before);

  await both('add element inet weft pods { 10.9.9.9 }\n');
  assert.match(await session.list(WEFT), /10\.9\.9\.9/);
  assert.equal(session.sessionPid, pid, 'a refusal does not end the long-lived nft');
});

test('the long-lived nft sees what other processes change', async (t) => {
  const sb = Sandbox.create(t);
  const ns = await sb.netns('sess');
  const session = new RealNft({ netns: ns });
  t.after(() => session.close());
  await session.applyScript(SETUP);
  await sb.exec(ns, 'nft', ['add set inet weft extra { type ipv4_addr; }']);
  await session.applyScript('add rule inet weft entry ip saddr @extra drop\n');
  assert.match(await session.list(WEFT), /ip saddr @extra drop/);
  await sb.exec(ns, 'nft', ['delete table inet weft']);
  const again = 'add element inet weft pods { 10.0.0.1 }\n';
  const perProcess = new RealNft({ netns: ns, processPerTransaction: true });
  assert.deepEqual(
    await refusal(session.applyScript(again)),
    await refusal(perProcess.applyScript(again)),
  );
  await session.applyScript(SETUP);
  assert.match(await session.list(WEFT), /set pods/);
});

test('a killed nft is replaced; the next transaction still applies', async (t) => {
  const sb = Sandbox.create(t);
  const session = new RealNft({ netns: await sb.netns('sess') });
  t.after(() => session.close());
  await session.applyScript(SETUP);
  const pid = session.sessionPid;
  assert.ok(pid !== undefined);
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && session.sessionPid !== undefined; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(session.sessionPid, undefined, 'the session saw its nft end');
  await session.applyScript('add element inet weft pods { 10.0.0.7 }\n');
  assert.match(await session.list(WEFT), /10\.0\.0\.7/);
  await session.applyScript('add element inet weft pods { 10.0.0.8 }\n');
  const next = session.sessionPid;
  assert.ok(next !== undefined && next !== pid, 'a new long-lived nft');
});

test('a process that applied through the long-lived nft ends by itself', async (t) => {
  const sb = Sandbox.create(t);
  const ns = await sb.netns('sess');
  const runner = new URL('../../src/nft/runner.js', import.meta.url).href;
  const code = `const { RealNft } = await import(${JSON.stringify(runner)});
    await new RealNft({ netns: ${JSON.stringify(ns)} }).applyScript('add table inet weft\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exit = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('still running after 10 s');
    }, 10_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c ?? 'signal');
    });
  });
  assert.equal(exit, 0);
  assert.match(await sb.exec(ns, 'nft', ['list', 'tables']), /table inet weft/);
});

test('the long-lived nft is replaced after its number of transactions', async (t) => {
  const sb = Sandbox.create(t);
  const session = new RealNft({ netns: await sb.netns('sess'), sessionTransactions: 3 });
  t.after(() => session.close());
  await session.applyScript(SETUP);
  const pids: (number | undefined)[] = [];
  for (let i = 1; i <= 6; i++) {
    await session.applyScript(`add element inet weft pods { 10.0.0.${i} }\n`);
    pids.push(session.sessionPid);
  }
  // SETUP and elements 1-2 in one nft, 3-5 in the next, 6 in a third; after each 3rd, none runs.
  const [a, none1, b, b2, none2, c] = pids;
  assert.ok(a !== undefined && b !== undefined && c !== undefined, pids.join(' '));
  assert.deepEqual([none1, none2], [undefined, undefined]);
  assert.equal(b2, b);
  assert.equal(new Set([a, b, c]).size, 3, 'three nft processes in turn');
  const listed = await session.list(WEFT);
  for (let i = 1; i <= 6; i++) assert.match(listed, new RegExp(`10\\.0\\.0\\.${i}\\b`));
});
