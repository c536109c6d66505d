import test from 'node:test';
import assert from 'node:assert/strict';
import { CniError, CniErrorCodes, WeftCniCodes, cniErrorJson, cniErrorResult } from './errors.js';

test('the error JSON is {cniVersion, code, msg, details}', () => {
  const err = new CniError(CniErrorCodes.TRY_AGAIN_LATER, 'agent busy', 'retry in a second');
  assert.equal(
    cniErrorJson(err, '1.1.0'),
    '{"cniVersion":"1.1.0","code":11,"msg":"agent busy","details":"retry in a second"}',
  );
  assert.equal(err.message, 'agent busy: retry in a second');
  assert.ok(err instanceof Error);
});

test('details is left out when there are none', () => {
  const err = new CniError(CniErrorCodes.PLUGIN_NOT_AVAILABLE, 'agent not ready');
  assert.deepEqual(cniErrorResult(err, '0.4.0'), {
    cniVersion: '0.4.0',
    code: 50,
    msg: 'agent not ready',
  });
  assert.equal(err.details, undefined);
});

test("weft's own codes are 100 and above, as the spec leaves them to plugins", () => {
  assert.deepEqual(WeftCniCodes, { CHECK_FAILED: 100, ADDRESSES_EXHAUSTED: 101, INTERNAL: 999 });
});
