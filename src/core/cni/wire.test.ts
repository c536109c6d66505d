import test from 'node:test';
import assert from 'node:assert/strict';
import { CniError } from './errors.js';
import { AgentRoutes } from '../../api/routes.js';
import { cniEnv, cniErrorResponse, decodeCniWireRequest, encodeCniWireRequest } from './wire.js';

const CNI = AgentRoutes.cni.path;

function decodeFails(fn: () => unknown, msg: RegExp): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof CniError && e.code === 6 && msg.test(e.msg),
    String(msg),
  );
}

test('cniEnv keeps only the CNI_* variables that are set', () => {
  assert.deepEqual(
    cniEnv({
      CNI_COMMAND: 'ADD',
      PATH: '/bin',
      HOME: '/root',
      CNI_ARGS: '',
      CNI_NETNS: undefined,
      WEFT_CNI_SOCKET: '/s',
    }),
    { CNI_COMMAND: 'ADD', CNI_ARGS: '' },
  );
});

test('request: round trip, and only CNI_* leaves the shim', () => {
  const stdin = '{"cniVersion":"1.1.0", "name":"weft","type":"weft"}\n';
  const body = encodeCniWireRequest({ env: { CNI_COMMAND: 'DEL', SECRET: 'x' }, stdin });
  assert.deepEqual(JSON.parse(body), { env: { CNI_COMMAND: 'DEL' }, stdin });
  assert.deepEqual(decodeCniWireRequest(body, CNI), { env: { CNI_COMMAND: 'DEL' }, stdin });
});

test('request: malformed bodies are error 6', () => {
  decodeFails(() => decodeCniWireRequest('nope', CNI), /\/v1\/cni request is invalid: not JSON/);
  decodeFails(() => decodeCniWireRequest('[]', CNI), /not a JSON object/);
  decodeFails(() => decodeCniWireRequest('{"stdin":""}', CNI), /"env" must be an object/);
  decodeFails(
    () => decodeCniWireRequest('{"env":{"PATH":"/bin"},"stdin":""}', CNI),
    /only CNI_\* variables, not PATH/,
  );
  decodeFails(
    () => decodeCniWireRequest('{"env":{"CNI_X":1},"stdin":""}', CNI),
    /"env.CNI_X" must be a string/,
  );
  decodeFails(() => decodeCniWireRequest('{"env":{}}', CNI), /"stdin" must be a string/);
});

test('an error response prints the CNI error and exits 1', () => {
  const res = cniErrorResponse(new CniError(3, 'no such container', 'c1/eth0'), '1.0.0');
  assert.deepEqual(res, {
    exitCode: 1,
    stdout: '{"cniVersion":"1.0.0","code":3,"msg":"no such container","details":"c1/eth0"}',
  });
});
