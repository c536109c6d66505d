import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen, type Routes } from './server.js';
import { ListenerMetrics } from '../listen/metrics.js';

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
    rule: () => ({ nodes: [], allow: [] }),
    metrics: new ListenerMetrics(),
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

// A refused client (a pod, from its own namespace) is in test/integration/listeners.test.ts.
test('every TCP listener answers loopback with no Node known; listener metrics start at 0', async (t) => {
  const metrics = new ListenerMetrics();
  const { tcp, observe } = await serve(t, {
    cni: () => Promise.resolve({ exitCode: 0, stdout: '{}' }),
    status: () => ({ ready: true }),
    raw: { '/v1/flows': (_req, res) => void res.end('{}') },
    rule: () => ({ nodes: [], allow: [] }),
    metrics,
  });
  assert.equal((await call(observe, 'GET', '/v1/flows')).status, 200);
  assert.equal((await call(tcp, 'GET', '/healthz')).status, 200);
  const text = metrics.registry.render();
  for (const listener of ['unix', 'health', 'observe']) {
    for (const reason of ['client', 'host', 'streams', 'client_streams'])
      assert.match(
        text,
        new RegExp(
          `^weft_listener_refused_total\\{listener="${listener}",reason="${reason}"\\} 0$`,
          'm',
        ),
      );
    assert.match(
      text,
      new RegExp(
        `^weft_listener_streams_dropped_total\\{listener="${listener}",reason="stalled"\\} 0$`,
        'm',
      ),
    );
  }
});
