import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentRoutes } from '../api/routes.js';
import { main } from './cni-conf.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cni-conf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An HTTP server on a unix socket (the agent) or on 127.0.0.1 (the API server). */
async function serve(t: TestContext, at: string | 0, handler: Handler): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(at, resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  if (typeof at === 'string') return at;
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function run(args: string[]): Promise<{ code: number; log: string[] }> {
  const log: string[] = [];
  const code = await main(args, (line) => log.push(line));
  return { code, log };
}

test('install waits for the agent to be ready, then writes the conflist', async (t) => {
  const dir = tempDir(t);
  let asked = 0;
  const socket = await serve(t, join(dir, 'agent.sock'), (req, res) => {
    assert.equal(req.url, AgentRoutes.status.path);
    asked++;
    json(res, 200, asked < 3 ? { ready: false, message: 'syncing' } : { ready: true });
  });
  const conf = join(dir, 'net.d');
  mkdirSync(conf);
  const r = await run(['install', '--conf-dir', conf, '--socket', socket, '--mtu', '1450']);
  assert.equal(r.code, 0, r.log.join('\n'));
  assert.equal(asked, 3);
  assert.deepEqual(readdirSync(conf), ['10-weft.conflist']);
  assert.deepEqual(JSON.parse(readFileSync(join(conf, '10-weft.conflist'), 'utf8')), {
    cniVersion: '1.0.0',
    cniVersions: ['0.4.0', '1.0.0', '1.1.0'],
    name: 'weft',
    plugins: [{ type: 'weft', mtu: 1450, agentSocket: socket }],
  });
});

test('install gives up after its timeout and writes nothing', async (t) => {
  const dir = tempDir(t);
  const socket = await serve(t, join(dir, 'agent.sock'), (_req, res) =>
    json(res, 200, { ready: false, message: 'first sync' }),
  );
  const started = Date.now();
  const r = await run(['install', '--conf-dir', dir, '--socket', socket, '--timeout-seconds', '1']);
  assert.equal(r.code, 1);
  assert.match(r.log.join('\n'), /agent not ready after 1s \(first sync\)/);
  assert.ok(Date.now() - started < 5000);
  assert.equal(existsSync(join(dir, '10-weft.conflist')), false);
});

test('install rejects a bad MTU before waiting', async (t) => {
  const dir = tempDir(t);
  const r = await run(['install', '--conf-dir', dir, '--mtu', '100', '--socket', join(dir, 'x')]);
  assert.equal(r.code, 2);
  assert.match(r.log.join('\n'), /--mtu 100: not an MTU; use 576-9000/);
});

/** A conf dir holding weft's conflist, a token file, and a fake API server. */
async function stopFixture(t: TestContext, answer: (req: IncomingMessage) => [number, unknown]) {
  const dir = tempDir(t);
  writeFileSync(join(dir, '10-weft.conflist'), '{}');
  writeFileSync(join(dir, 'token'), 'tok-123\n');
  const seen: { url?: string; auth?: string } = {};
  const api = await serve(t, 0, (req, res) => {
    seen.url = req.url;
    seen.auth = req.headers.authorization;
    const [status, body] = answer(req);
    json(res, status, body);
  });
  const args = [
    'remove-if-uninstalled',
    '--conf-dir',
    dir,
    '--daemonset',
    'kube-system/weft',
    '--api-server',
    api,
    '--token-file',
    join(dir, 'token'),
  ];
  return { dir, seen, args };
}

test('a rolling upgrade keeps the conflist', async (t) => {
  const f = await stopFixture(t, () => [200, { kind: 'DaemonSet', metadata: { name: 'weft' } }]);
  const r = await run(f.args);
  assert.equal(r.code, 0);
  assert.equal(f.seen.url, '/apis/apps/v1/namespaces/kube-system/daemonsets/weft');
  assert.equal(f.seen.auth, 'Bearer tok-123');
  assert.ok(existsSync(join(f.dir, '10-weft.conflist')));
  assert.match(r.log.join('\n'), /still exists/);
});

test('an uninstall removes the conflist', async (t) => {
  const f = await stopFixture(t, () => [404, { kind: 'Status', code: 404 }]);
  const r = await run(f.args);
  assert.equal(r.code, 0);
  assert.equal(existsSync(join(f.dir, '10-weft.conflist')), false);
  assert.match(r.log.join('\n'), /is gone: weft is being uninstalled; removed/);
});

test('an API server that cannot be reached keeps the conflist', async (t) => {
  const f = await stopFixture(t, () => [200, {}]);
  const args = [...f.args];
  args[args.indexOf('--api-server') + 1] = 'http://127.0.0.1:1';
  const r = await run(args);
  assert.equal(r.code, 0);
  assert.ok(existsSync(join(f.dir, '10-weft.conflist')));
  assert.match(r.log.join('\n'), /API server unreachable/);
});

test('bad arguments exit 2 with the fix', async () => {
  assert.equal((await run(['frobnicate'])).code, 2);
  const r = await run(['remove-if-uninstalled', '--conf-dir', '/x', '--daemonset', 'weft']);
  assert.equal(r.code, 2);
  assert.match(r.log.join('\n'), /not NAMESPACE\/NAME, e.g. kube-system\/weft/);
  assert.equal((await run(['install', '--conf-dir', '/x', '--bogus'])).code, 2);
});
