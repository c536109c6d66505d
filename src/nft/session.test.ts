import test from 'node:test';
import assert from 'node:assert/strict';
import { NftSession, NftSessionBroken } from './session.js';

test('an nft that does not answer in time is ended, and the session says why', async () => {
  // A stand-in that reads everything and answers nothing, as nft stuck in a huge transaction.
  const session = new NftSession(['sh', ['-c', 'exec cat >/dev/null']], 300);
  const pid = session.pid;
  assert.ok(pid);
  await assert.rejects(session.apply('add table inet x\n'), (e: unknown) => {
    assert.ok(e instanceof NftSessionBroken);
    assert.equal(e.message, 'nft did not answer within 0.3 s and was ended');
    return true;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.throws(() => process.kill(pid, 0), 'the process is gone');
  assert.equal(session.pid, undefined);
});
