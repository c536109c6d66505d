import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen, type Routes } from './server.js';

function call(
  target: { socketPath: string } | { host: string; port: number },
  method: string,
  path: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, method, path }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: res.headers['content-type']?.startsWith('application/json')
            ? JSON.parse(text)
            : text,
        }),
      );
    });
    req.on('error', reject);
    req.end(method === 'POST' ? JSON.stringify({ env: {}, stdin: '' }) : undefined);
  });
}

/** The agent API on a fresh socket, with health and observe listeners on 127.0.0.1. */
async function serve(t: TestContext, routes: Routes) {
  const dir = await mkdtemp(join(tmpdir(), 'weft-server-'));
  const servers = await listen(
    routes,
    join(dir, 'agent.sock'),
    { host: '127.0.0.1', port: 0 },
    { host: '127.0.0.1', port: 0 },
  );
  t.after(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await rm(dir, { recursive: true, force: true });
  });
  const at = (i: number) => ({
    host: '127.0.0.1',
    port: (servers[i]?.address() as AddressInfo).port,
  });
  return { unix: { socketPath: join(dir, 'agent.sock') }, tcp: at(1), observe: at(2) };
}

test('TCP: health answers health and metrics, observe the read-only views; CNI stays on the unix socket', async (t) => {
  let cniCalls = 0;
  const { unix, tcp, observe } = await serve(t, {
    cni: () => {
      cniCalls++;
      return Promise.resolve({ exitCode: 0, stdout: '{}' });
    },
    status: () => ({ ready: true }),
    get: { '/v1/endpoints': () => [] },
    raw: {
      '/metrics': (_req, res) => void res.end('weft_up 1\n'),
      '/v1/flows': (_req, res) => void res.end('{}'),
    },
  });
  assert.equal((await call(observe, 'GET', '/v1/flows')).status, 200, 'flows to observers');
  assert.equal((await call(observe, 'GET', '/v1/status')).status, 200);
  assert.equal((await call(observe, 'GET', '/metrics')).status, 200);
  assert.equal((await call(observe, 'POST', '/v1/cni')).status, 404);
  assert.equal((await call(observe, 'GET', '/v1/endpoints')).status, 404);
  assert.equal((await call(tcp, 'GET', '/healthz')).status, 200);
  assert.equal((await call(tcp, 'POST', '/v1/cni')).status, 404);
  assert.equal((await call(tcp, 'GET', '/v1/endpoints')).status, 404);
  assert.equal((await call(tcp, 'GET', '/v1/status')).status, 404);
  assert.equal((await call(tcp, 'GET', '/v1/flows')).status, 404, 'flows stay root-only');
  assert.deepEqual(await call(tcp, 'GET', '/metrics'), { status: 200, body: 'weft_up 1\n' });
  assert.equal(cniCalls, 0, 'no CNI call came through TCP');
  assert.equal((await call(unix, 'POST', '/v1/cni')).status, 200);
  assert.equal((await call(unix, 'GET', '/v1/endpoints')).status, 200);
  assert.equal(cniCalls, 1);
});

test('observe: a caller the agent does not allow gets 403 naming why; health is not gated', async (t) => {
  const asked: string[] = [];
  const { tcp, observe } = await serve(t, {
    cni: () => Promise.resolve({ exitCode: 0, stdout: '{}' }),
    status: () => ({ ready: true }),
    raw: { '/v1/flows': (_req, res) => void res.end('{}') },
    observeFrom: (remote) => (asked.push(remote), false),
  });
  const refused = await call(observe, 'GET', '/v1/flows');
  assert.equal(refused.status, 403);
  assert.match(
    (refused.body as { error: string }).error,
    /answers this cluster's nodes and loopback only, and 127\.0\.0\.1 is neither/,
  );
  assert.deepEqual(asked, ['127.0.0.1']);
  assert.equal((await call(tcp, 'GET', '/healthz')).status, 200);
  assert.deepEqual(asked, ['127.0.0.1'], 'only the observe listener asks');
});
