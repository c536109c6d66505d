import test from 'node:test';
import assert from 'node:assert/strict';
import { CniError } from './errors.js';
import {
  cniEnv,
  cniErrorResponse,
  decodeAgentStatus,
  decodeCniWireRequest,
  decodeCniWireResponse,
  encodeAgentStatus,
  encodeCniWireRequest,
  encodeCniWireResponse,
} from './wire.js';

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
  assert.deepEqual(decodeCniWireRequest(body), { env: { CNI_COMMAND: 'DEL' }, stdin });
});

test('request: malformed bodies are error 6', () => {
  decodeFails(() => decodeCniWireRequest('nope'), /\/v1\/cni request is invalid: not JSON/);
  decodeFails(() => decodeCniWireRequest('[]'), /not a JSON object/);
  decodeFails(() => decodeCniWireRequest('{"stdin":""}'), /"env" must be an object/);
  decodeFails(
    () => decodeCniWireRequest('{"env":{"PATH":"/bin"},"stdin":""}'),
    /only CNI_\* variables, not PATH/,
  );
  decodeFails(
    () => decodeCniWireRequest('{"env":{"CNI_X":1},"stdin":""}'),
    /"env.CNI_X" must be a string/,
  );
  decodeFails(() => decodeCniWireRequest('{"env":{}}'), /"stdin" must be a string/);
});

test('response: round trip and validation', () => {
  const res = { exitCode: 0, stdout: '{"cniVersion":"1.1.0"}' };
  assert.deepEqual(decodeCniWireResponse(encodeCniWireResponse(res)), res);
  decodeFails(
    () => decodeCniWireResponse('{"exitCode":256,"stdout":""}'),
    /"exitCode" must be an integer from 0 to 255/,
  );
  decodeFails(() => decodeCniWireResponse('{"exitCode":1.5,"stdout":""}'), /exitCode/);
  decodeFails(() => decodeCniWireResponse('{"exitCode":0}'), /"stdout" must be a string/);
});

test('an error response prints the CNI error and exits 1', () => {
  const res = cniErrorResponse(new CniError(3, 'no such container', 'c1/eth0'), '1.0.0');
  assert.deepEqual(res, {
    exitCode: 1,
    stdout: '{"cniVersion":"1.0.0","code":3,"msg":"no such container","details":"c1/eth0"}',
  });
});

test('status: round trip and validation', () => {
  assert.equal(encodeAgentStatus({ ready: true }), '{"ready":true}');
  const down = { ready: false, message: 'waiting for the first full sync' };
  assert.deepEqual(decodeAgentStatus(encodeAgentStatus(down)), down);
  decodeFails(() => decodeAgentStatus('{"ready":"yes"}'), /"ready" must be true or false/);
  decodeFails(() => decodeAgentStatus('{"ready":false,"message":3}'), /"message" must be a string/);
});
