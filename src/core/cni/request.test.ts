import test from 'node:test';
import assert from 'node:assert/strict';
import { CniError, CniErrorCodes } from './errors.js';
import { ifnameProblem, parseCniArgs, parseCniRequest, type CniRequest } from './request.js';

/** The CniError `fn` throws; fails the test when it throws nothing or something else. */
function cniErrorOf(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CniError) return e;
    throw e;
  }
  assert.fail('expected a CniError, but nothing was thrown');
}

function expectError(fn: () => unknown, code: number, msg: RegExp): CniError {
  const err = cniErrorOf(fn);
  assert.equal(err.code, code, `code ${err.code}: ${err.msg}`);
  assert.match(err.msg, msg);
  return err;
}

const CONFIG = { cniVersion: '1.1.0', name: 'weft', type: 'weft' };
const STDIN = JSON.stringify(CONFIG);

const ADD_ENV = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'a1b2c3',
  CNI_NETNS: '/var/run/netns/cni-1234',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
  CNI_ARGS:
    'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=a1b2c3;K8S_POD_UID=0f1e',
};

function withEnv(over: Record<string, string | undefined>): Record<string, string | undefined> {
  return { ...ADD_ENV, ...over };
}

function parse(over: Record<string, string | undefined>, stdin = STDIN): CniRequest {
  return parseCniRequest(withEnv(over), stdin);
}

test('ADD: every field from env and stdin', () => {
  const req = parse({});
  assert.deepEqual(req, {
    command: 'ADD',
    containerId: 'a1b2c3',
    netns: '/var/run/netns/cni-1234',
    ifname: 'eth0',
    path: ['/opt/cni/bin', '/usr/lib/cni'],
    args: {
      IgnoreUnknown: '1',
      K8S_POD_NAMESPACE: 'shop',
      K8S_POD_NAME: 'web-0',
      K8S_POD_INFRA_CONTAINER_ID: 'a1b2c3',
      K8S_POD_UID: '0f1e',
    },
    config: { cniVersion: '1.1.0', name: 'weft', type: 'weft', agentSocket: '/run/weft/cni.sock' },
  });
});

test('CNI_ARGS: pairs, empty values and segments, every key accepted', () => {
  assert.deepEqual(parseCniArgs(''), {});
  assert.deepEqual(parseCniArgs('A=1;B=;;C=x=y;'), { A: '1', B: '', C: 'x=y' });
  assert.deepEqual(parseCniArgs('__proto__=1'), { ['__proto__']: '1' });
  assert.equal(Object.getPrototypeOf(parseCniArgs('__proto__=1')), Object.prototype);
});

test('CNI_ARGS: a malformed or repeated pair is error 4', () => {
  expectError(() => parseCniArgs('K8S_POD_NAME'), 4, /CNI_ARGS has an invalid pair "K8S_POD_NAME"/);
  expectError(() => parseCniArgs('=x'), 4, /invalid pair "=x"/);
  expectError(() => parseCniArgs('A=1;A=2'), 4, /sets "A" more than once/);
  expectError(() => parse({ CNI_ARGS: 'A=1;broken' }), 4, /CNI_ARGS/);
});

test('CNI_COMMAND missing or unknown is error 4', () => {
  expectError(() => parse({ CNI_COMMAND: undefined }), 4, /CNI_COMMAND is not set/);
  expectError(() => parse({ CNI_COMMAND: '' }), 4, /CNI_COMMAND is not set/);
  const err = expectError(() => parse({ CNI_COMMAND: 'add' }), 4, /CNI_COMMAND "add" is unknown/);
  assert.match(err.details ?? '', /ADD, DEL, CHECK, GC, STATUS, VERSION/);
});

test('each command requires its env variables (error 4 naming the variable)', () => {
  const cases: [string, string][] = [
    ['ADD', 'CNI_CONTAINERID'],
    ['ADD', 'CNI_NETNS'],
    ['ADD', 'CNI_IFNAME'],
    ['ADD', 'CNI_PATH'],
    ['CHECK', 'CNI_NETNS'],
    ['DEL', 'CNI_CONTAINERID'],
    ['DEL', 'CNI_IFNAME'],
    ['DEL', 'CNI_PATH'],
    ['GC', 'CNI_PATH'],
    ['STATUS', 'CNI_PATH'],
  ];
  for (const [command, name] of cases) {
    for (const value of [undefined, '']) {
      expectError(
        () => parseCniRequest({ ...ADD_ENV, CNI_COMMAND: command, [name]: value }, STDIN),
        4,
        new RegExp(`^${name} is required for ${command}`),
      );
    }
  }
});

test('env is checked completely before stdin', () => {
  expectError(() => parse({ CNI_IFNAME: undefined }, '{nope'), 4, /CNI_IFNAME/);
  expectError(() => parse({ CNI_IFNAME: 'a/b' }, '{nope'), 4, /CNI_IFNAME/);
  expectError(() => parse({ CNI_NETNS: 'x' }, '{"cniVersion":"0.1.0"}'), 4, /CNI_NETNS/);
  expectError(() => parse({ CNI_ARGS: 'x' }, '{"ipam":{}}'), 4, /CNI_ARGS/);
});

test('CNI_CONTAINERID: starts alphanumeric, then alphanumerics, _ . -', () => {
  for (const ok of ['a', '0', 'abc_DEF.1-2', '3f6940ab5ab43bc522569d15b23f8c1b']) {
    assert.equal((parse({ CNI_CONTAINERID: ok }) as { containerId: string }).containerId, ok);
  }
  for (const bad of ['-a', '_a', '.a', 'a b', 'a/b', 'a:b', 'é']) {
    expectError(() => parse({ CNI_CONTAINERID: bad }), 4, /^CNI_CONTAINERID ".*" is invalid/);
  }
});

test('CNI_IFNAME: non-empty, < 16 bytes, not . or .., no / : or whitespace', () => {
  for (const ok of ['eth0', 'a', '123456789012345', 'net-1_x.y']) {
    assert.equal(ifnameProblem(ok), undefined, ok);
  }
  assert.equal(ifnameProblem('1234567890123456'), 'it is longer than 15 bytes');
  assert.equal(ifnameProblem('ééééééééé'), 'it is longer than 15 bytes');
  for (const bad of ['.', '..', 'a/b', 'a:b', 'a b', 'a\tb', 'a\nb']) {
    assert.notEqual(ifnameProblem(bad), undefined, JSON.stringify(bad));
    expectError(() => parse({ CNI_IFNAME: bad }), 4, /^CNI_IFNAME ".*" is invalid: /);
  }
});

test('CNI_NETNS must be an absolute path; DEL may omit it', () => {
  expectError(
    () => parse({ CNI_NETNS: 'netns/x' }),
    4,
    /CNI_NETNS "netns\/x" is not an absolute path/,
  );
  const del = parse({ CNI_COMMAND: 'DEL', CNI_NETNS: undefined });
  assert.equal(del.command, 'DEL');
  assert.equal('netns' in del, false);
  const delEmpty = parse({ CNI_COMMAND: 'DEL', CNI_NETNS: '' });
  assert.equal('netns' in delEmpty, false);
  const delWith = parse({ CNI_COMMAND: 'DEL' });
  assert.equal(delWith.command === 'DEL' && delWith.netns, '/var/run/netns/cni-1234');
});

const PREV = {
  cniVersion: '1.1.0',
  interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/var/run/netns/cni-1234' }],
  ips: [{ address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 0 }],
  routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
};

test('CHECK requires prevResult (error 7) and carries it', () => {
  expectError(() => parse({ CNI_COMMAND: 'CHECK' }), 7, /CHECK needs prevResult/);
  const req = parse({ CNI_COMMAND: 'CHECK' }, JSON.stringify({ ...CONFIG, prevResult: PREV }));
  assert.equal(req.command, 'CHECK');
  assert.deepEqual(req.command === 'CHECK' && req.prevResult, {
    interfaces: PREV.interfaces,
    ips: PREV.ips,
    routes: PREV.routes,
  });
});

test('DEL carries prevResult when the runtime has it', () => {
  const req = parse({ CNI_COMMAND: 'DEL' }, JSON.stringify({ ...CONFIG, prevResult: PREV }));
  assert.equal(req.command === 'DEL' && req.prevResult?.ips?.[0]?.address, '10.244.1.5/32');
  assert.equal('prevResult' in parse({ CNI_COMMAND: 'DEL' }), false);
});

test('a command newer than the config version is error 1', () => {
  const v031 = JSON.stringify({ ...CONFIG, cniVersion: '0.3.1', prevResult: PREV });
  expectError(() => parse({ CNI_COMMAND: 'CHECK' }, v031), 1, /CHECK needs cniVersion 0.4.0/);
  const v100 = JSON.stringify({ ...CONFIG, cniVersion: '1.0.0' });
  expectError(() => parse({ CNI_COMMAND: 'STATUS' }, v100), 1, /STATUS needs cniVersion 1.1.0/);
  expectError(() => parse({ CNI_COMMAND: 'GC' }, v100), 1, /GC needs cniVersion 1.1.0/);
  assert.equal(parse({}, v100).command, 'ADD');
});

test('GC: valid attachments from both keys, merged; refused without them', () => {
  const env = { CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' };
  const a = { containerID: 'c1', ifname: 'eth0' };
  const b = { containerID: 'c2', ifname: 'eth0' };
  const stdin = JSON.stringify({
    ...CONFIG,
    'cni.dev/valid-attachments': [a],
    'cni.dev/attachments': [a, b],
  });
  const req = parseCniRequest(env, stdin);
  assert.deepEqual(req.command === 'GC' && req.validAttachments, [
    { containerId: 'c1', ifname: 'eth0' },
    { containerId: 'c2', ifname: 'eth0' },
  ]);
  const empty = parseCniRequest(
    env,
    JSON.stringify({ ...CONFIG, 'cni.dev/valid-attachments': [] }),
  );
  assert.deepEqual(empty.command === 'GC' && empty.validAttachments, []);
  expectError(() => parseCniRequest(env, STDIN), 7, /GC needs "cni.dev\/valid-attachments"/);
  expectError(
    () =>
      parseCniRequest(
        env,
        JSON.stringify({ ...CONFIG, 'cni.dev/valid-attachments': [{ ifname: 'eth0' }] }),
      ),
    7,
    /cni.dev\/valid-attachments\[0\].containerID is required/,
  );
});

test('STATUS needs only CNI_COMMAND, CNI_PATH and the config', () => {
  const req = parseCniRequest({ CNI_COMMAND: 'STATUS', CNI_PATH: '/opt/cni/bin' }, STDIN);
  assert.deepEqual(req, {
    command: 'STATUS',
    path: ['/opt/cni/bin'],
    config: { cniVersion: '1.1.0', name: 'weft', type: 'weft', agentSocket: '/run/weft/cni.sock' },
  });
});

test('VERSION needs no other env, and stdin may be empty', () => {
  assert.deepEqual(parseCniRequest({ CNI_COMMAND: 'VERSION' }, ''), { command: 'VERSION' });
  assert.deepEqual(parseCniRequest({ CNI_COMMAND: 'VERSION' }, '\n'), { command: 'VERSION' });
  assert.deepEqual(parseCniRequest({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.2.0"}'), {
    command: 'VERSION',
    cniVersion: '0.2.0',
  });
  expectError(() => parseCniRequest({ CNI_COMMAND: 'VERSION' }, '{'), 6, /not valid JSON/);
  expectError(
    () => parseCniRequest({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":1}'),
    7,
    /cniVersion must be a string/,
  );
});

test('stdin that is not JSON is error 6; JSON that is not an object is error 7', () => {
  expectError(() => parse({}, ''), 6, /not valid JSON/);
  expectError(() => parse({}, '{"cniVersion": "1.1.0",'), 6, /not valid JSON/);
  expectError(() => parse({}, '[1]'), 7, /must be a JSON object/);
});

test('CniError code constants are the spec numbers', () => {
  assert.deepEqual(CniErrorCodes, {
    INCOMPATIBLE_VERSION: 1,
    UNSUPPORTED_FIELD: 2,
    UNKNOWN_CONTAINER: 3,
    INVALID_ENVIRONMENT: 4,
    IO_ERROR: 5,
    DECODE_ERROR: 6,
    INVALID_NETWORK_CONFIG: 7,
    TRY_AGAIN_LATER: 11,
    PLUGIN_NOT_AVAILABLE: 50,
    PLUGIN_NOT_AVAILABLE_LIMITED: 51,
  });
});
