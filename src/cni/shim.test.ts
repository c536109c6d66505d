/**
 * Runs the bundled weft-cni (dist/weft-cni.js) the way a container runtime
 * does: exec the file, CNI_* in the environment, the config on stdin, then
 * read stdout and the exit code. The agent is absent, or a stand-in HTTP
 * server on a temporary unix socket that records what it got.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentRoutes } from '../api/routes.js';

// This file runs as dist/cni/shim.test.js.
const DIST = fileURLToPath(new URL('..', import.meta.url));
const BUNDLE = join(DIST, 'weft-cni.js');
const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/build-cni.mjs', import.meta.url));

/** The newest modification time of the bundle's inputs (tsc output of the shim, core/cni and api). */
function newestInput(): number {
  const dirs = [join(DIST, 'cni'), join(DIST, 'core', 'cni'), join(DIST, 'api')];
  const files = dirs.flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith('.js'))
      .map((f) => join(d, f)),
  );
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

let dir = '';

before(() => {
  if (!existsSync(BUNDLE) || statSync(BUNDLE).mtimeMs < newestInput()) {
    execFileSync(process.execPath, [BUILD_SCRIPT], { stdio: 'inherit' });
  }
  dir = mkdtempSync(join(tmpdir(), 'weft-cni-test-'));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Executes the bundle with exactly `env` (plus PATH, for `#!/usr/bin/env node`) and `stdin`. */
async function runCni(env: Record<string, string>, stdin: string): Promise<Run> {
  const child = spawn(BUNDLE, [], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.end(stdin);
  const [exitCode] = (await once(child, 'close')) as [number | null];
  return { exitCode, stdout, stderr };
}

interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** Asserts stdout is exactly one CNI error object and returns it. */
function cniError(run: Run): CniErrorJson {
  assert.equal(run.exitCode, 1, `exit code; stderr: ${run.stderr}`);
  const parsed = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed).sort(), ['cniVersion', 'code', 'details', 'msg']);
  assert.equal(typeof parsed['cniVersion'], 'string');
  assert.equal(typeof parsed['code'], 'number');
  assert.equal(typeof parsed['msg'], 'string');
  assert.equal(typeof parsed['details'], 'string');
  return parsed as unknown as CniErrorJson;
}

const CONFIG = '{"cniVersion":"1.1.0","name":"weft","type":"weft"}';

const ADD_ENV = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: '3f6940ab5ab43bc5',
  CNI_NETNS: '/var/run/netns/cni-3f69',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0',
};

interface Recorded {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A stand-in agent: records each request and answers with `answer(requestNumber)`. */
async function standInAgent(
  socketPath: string,
  answer: { status: number; body: string },
): Promise<{ server: Server; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (s: string) => (body += s));
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
  });
  server.listen(socketPath);
  await once(server, 'listening');
  return { server, requests };
}

async function stop(server: Server): Promise<void> {
  server.close();
  await once(server, 'close');
}

test('VERSION works without an agent, lists the versions up to 1.1.0, answers in the version asked', async () => {
  for (const [stdin, version] of [
    ['', '1.1.0'],
    ['{"cniVersion":"1.0.0"}', '1.0.0'],
    ['{"cniVersion":"0.4.0"}', '0.4.0'],
  ] as const) {
    const run = await runCni(
      { CNI_COMMAND: 'VERSION', WEFT_CNI_SOCKET: join(dir, 'none.sock') },
      stdin,
    );
    assert.equal(run.exitCode, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      cniVersion: version,
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
  }
});

test('no agent (no socket): STATUS is error 50, ADD is error 11', async () => {
  const socket = join(dir, 'missing.sock');
  const status = cniError(
    await runCni(
      { CNI_COMMAND: 'STATUS', CNI_PATH: '/opt/cni/bin', WEFT_CNI_SOCKET: socket },
      CONFIG,
    ),
  );
  assert.equal(status.code, 50);
  assert.equal(status.cniVersion, '1.1.0');
  assert.match(status.msg, new RegExp(`^the weft agent at ${socket} is not reachable: .*ENOENT`));

  const add = cniError(await runCni({ ...ADD_ENV, WEFT_CNI_SOCKET: socket }, CONFIG));
  assert.equal(add.code, 11);
  assert.match(add.msg, /is not reachable/);
});

test('no agent (no socket, or nothing listening on it): DEL succeeds, CHECK is error 11 in the config version', async () => {
  const stale = join(dir, 'stale.sock');
  writeFileSync(stale, '');
  const config = '{"cniVersion":"0.4.0","name":"weft","type":"weft"}';
  for (const socket of [stale, join(dir, 'absent.sock')]) {
    const del = await runCni({ ...ADD_ENV, CNI_COMMAND: 'DEL', WEFT_CNI_SOCKET: socket }, config);
    assert.equal(del.exitCode, 0, del.stdout);
    assert.equal(del.stdout, '');
    assert.match(del.stderr, /no weft agent at .*; DEL succeeds/);
  }
  const check = cniError(
    await runCni({ ...ADD_ENV, CNI_COMMAND: 'CHECK', WEFT_CNI_SOCKET: stale }, config),
  );
  assert.equal(check.code, 11);
  assert.equal(check.cniVersion, '0.4.0');
  assert.match(check.msg, /ECONNREFUSED/);
});

test('an agent that does not answer in time: error 11', async () => {
  const socket = join(dir, 'silent.sock');
  const server = createServer(() => {
    // Never answers.
  });
  server.listen(socket);
  await once(server, 'listening');
  try {
    const run = await runCni(
      { ...ADD_ENV, WEFT_CNI_SOCKET: socket, WEFT_CNI_TIMEOUT_MS: '200' },
      CONFIG,
    );
    const err = cniError(run);
    assert.equal(err.code, 11);
    assert.match(err.msg, /no answer within 200 ms/);
  } finally {
    server.closeAllConnections();
    await stop(server);
  }
});

test('env and stdin reach the agent intact; its stdout and exit code come back verbatim', async () => {
  const socket = join(dir, 'agent.sock');
  const result =
    '{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/cni-3f69"}],' +
    '"ips":[{"address":"10.244.1.5/32","interface":0}]}';
  const { server, requests } = await standInAgent(socket, {
    status: 200,
    body: JSON.stringify({ exitCode: 0, stdout: result }),
  });
  try {
    // Whitespace, a newline and non-ASCII text: stdin must arrive byte for byte.
    const stdin =
      '{ "cniVersion": "1.1.0", "name": "weft", "type": "weft", "args": {"note": "café ☕"} }\n';
    const run = await runCni({ ...ADD_ENV, WEFT_CNI_SOCKET: socket, HOME: '/root' }, stdin);
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.stdout, result);

    assert.equal(requests.length, 1);
    const got = requests[0];
    assert.ok(got);
    assert.equal(got.method, 'POST');
    assert.equal(got.url, AgentRoutes.cni.path);
    assert.equal(got.headers['content-type'], 'application/json');
    // Only CNI_* variables are forwarded: not PATH, HOME or WEFT_CNI_SOCKET.
    assert.deepEqual(JSON.parse(got.body), { env: ADD_ENV, stdin });
  } finally {
    await stop(server);
  }
});

test("the agent's failures pass through: error JSON and exit code", async () => {
  const socket = join(dir, 'failing.sock');
  const error = '{"cniVersion":"1.1.0","code":7,"msg":"mtu must be an integer from 576 to 9000"}';
  const { server } = await standInAgent(socket, {
    status: 200,
    body: JSON.stringify({ exitCode: 1, stdout: error }),
  });
  try {
    const run = await runCni({ ...ADD_ENV, CNI_COMMAND: 'CHECK', WEFT_CNI_SOCKET: socket }, CONFIG);
    assert.equal(run.exitCode, 1);
    assert.equal(run.stdout, error);
  } finally {
    await stop(server);
  }
});

test('an empty success (DEL) prints nothing and exits 0', async () => {
  const socket = join(dir, 'del.sock');
  const { server } = await standInAgent(socket, {
    status: 200,
    body: '{"exitCode":0,"stdout":""}',
  });
  try {
    const run = await runCni({ ...ADD_ENV, CNI_COMMAND: 'DEL', WEFT_CNI_SOCKET: socket }, CONFIG);
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.stdout, '');
  } finally {
    await stop(server);
  }
});

test("without WEFT_CNI_SOCKET the config's agentSocket is used", async () => {
  const socket = join(dir, 'from-config.sock');
  const { server, requests } = await standInAgent(socket, {
    status: 200,
    body: '{"exitCode":0,"stdout":""}',
  });
  try {
    const config = JSON.stringify({
      cniVersion: '1.1.0',
      name: 'weft',
      type: 'weft',
      agentSocket: socket,
    });
    const run = await runCni({ CNI_COMMAND: 'STATUS', CNI_PATH: '/opt/cni/bin' }, config);
    assert.equal(run.exitCode, 0, run.stdout);
    assert.equal(requests.length, 1);
  } finally {
    await stop(server);
  }
});

test('an HTTP error from the agent: STATUS is error 50, ADD error 5', async () => {
  const socket = join(dir, 'http-error.sock');
  const { server } = await standInAgent(socket, { status: 500, body: 'internal error' });
  try {
    const env = { CNI_PATH: '/opt/cni/bin', WEFT_CNI_SOCKET: socket };
    const status = cniError(await runCni({ ...env, CNI_COMMAND: 'STATUS' }, CONFIG));
    assert.equal(status.code, 50);
    assert.match(status.msg, /answered HTTP 500/);
    assert.equal(status.details, 'internal error');
    const add = cniError(await runCni({ ...ADD_ENV, WEFT_CNI_SOCKET: socket }, CONFIG));
    assert.equal(add.code, 5);
  } finally {
    await stop(server);
  }
});

test('an answer weft does not understand is error 6, naming the route and the field', async () => {
  const socket = join(dir, 'garbled.sock');
  const { server } = await standInAgent(socket, { status: 200, body: '{"exitCode":"0"}' });
  try {
    const run = await runCni({ ...ADD_ENV, WEFT_CNI_SOCKET: socket }, CONFIG);
    assert.equal(run.exitCode, 1, run.stderr);
    const err = JSON.parse(run.stdout) as CniErrorJson;
    assert.equal(err.code, 6);
    assert.equal(
      err.msg,
      `the weft agent's ${AgentRoutes.cni.path} answer is invalid: "exitCode" must be an integer from 0 to 255, got "0"`,
    );
  } finally {
    await stop(server);
  }
});

test('a missing or unknown CNI_COMMAND is error 4, without asking the agent', async () => {
  const socket = join(dir, 'none.sock');
  const missing = cniError(await runCni({ WEFT_CNI_SOCKET: socket }, ''));
  assert.equal(missing.code, 4);
  assert.match(missing.msg, /CNI_COMMAND is not set/);
  const unknown = cniError(await runCni({ CNI_COMMAND: 'UP', WEFT_CNI_SOCKET: socket }, CONFIG));
  assert.equal(unknown.code, 4);
  assert.match(unknown.msg, /CNI_COMMAND "UP" is unknown/);
});

test('a config past 512 KiB on stdin is error 7 naming the limit; nothing reaches the agent', async () => {
  const socket = join(dir, 'big.sock');
  const agent = await standInAgent(socket, { status: 200, body: '{"exitCode":0,"stdout":""}' });
  const child = spawn(BUNDLE, [], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...ADD_ENV, WEFT_CNI_SOCKET: socket },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  const closed = once(child, 'close') as Promise<[number | null]>;
  let done = false;
  void closed.then(() => (done = true));
  // 64 MiB offered in 1 MiB writes: the shim stops reading at the limit, so the pipe breaks.
  child.stdin.on('error', () => undefined);
  const chunk = Buffer.alloc(1 << 20, 0x20);
  let offered = 0;
  for (let i = 0; i < 64 && !done && child.stdin.writable; i++) {
    offered++;
    if (!child.stdin.write(chunk))
      await Promise.race([once(child.stdin, 'drain').catch(() => undefined), closed]);
  }
  child.stdin.end();
  const [exitCode] = await closed;
  const err = cniError({ exitCode, stdout, stderr: '' });
  assert.equal(err.code, 7);
  assert.equal(err.msg, 'the network config on stdin is larger than weft reads (512.0 KiB)');
  assert.ok(offered < 64, `the shim stopped reading early (${offered} MiB offered)`);
  assert.equal(agent.requests.length, 0);
  await stop(agent.server);
});
