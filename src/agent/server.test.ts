import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient, type AgentAddress } from '../api/client.js';
import { AgentRoutes, type RouteBase } from '../api/routes.js';
import { listen, type Handlers } from './server.js';
import { ListenerMetrics } from '../listen/metrics.js';

const R = AgentRoutes;

async function call(at: AgentAddress, route: RouteBase): Promise<{ status: number; body: string }> {
  const body = route.method === 'POST' ? JSON.stringify({ env: {}, stdin: '' }) : undefined;
  return new AgentClient(at).exchange(route, body === undefined ? {} : { body });
}

function ready() {
  return {
    ready: true,
    node: 'n',
    health: 'ok',
    uptimeSeconds: 0,
    lastSync: null,
    counts: null,
    flows: { enabled: false },
  } as const;
}

/** The agent API on a fresh socket, with health and observe listeners on 127.0.0.1. */
async function serve(t: TestContext, handlers: Handlers) {
  const dir = await mkdtemp(join(tmpdir(), 'weft-server-'));
  const servers = await listen(
    handlers,
    join(dir, 'agent.sock'),
    { host: '127.0.0.1', port: 0 },
    { host: '127.0.0.1', port: 0 },
  );
  t.after(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await rm(dir, { recursive: true, force: true });
  });
  const at = (i: number): AgentAddress => ({
    kind: 'http',
    node: 'n',
    url: `http://127.0.0.1:${(servers[i]?.address() as AddressInfo).port}`,
  });
  const unix: AgentAddress = { kind: 'unix', node: 'n', socket: join(dir, 'agent.sock') };
  return { unix, tcp: at(1), observe: at(2) };
}

test('TCP: health answers health and metrics, observe the read-only views; CNI stays on the unix socket', async (t) => {
  let cniCalls = 0;
  const { unix, tcp, observe } = await serve(t, {
    cni: () => {
      cniCalls++;
      return Promise.resolve({ exitCode: 0, stdout: '{}' });
    },
    status: ready,
    get: { endpoints: () => [] },
    raw: {
      metrics: (_req, res) => void res.end('weft_up 1\n'),
      flows: (_req, res) => void res.end('{}'),
    },
    rule: () => ({ nodes: [], allow: [] }),
    metrics: new ListenerMetrics(),
  });
  assert.equal((await call(observe, R.flows)).status, 200, 'flows to observers');
  assert.equal((await call(observe, R.status)).status, 200);
  assert.equal((await call(observe, R.metrics)).status, 200);
  assert.equal((await call(observe, R.cni)).status, 404);
  assert.equal((await call(observe, R.endpoints)).status, 404);
  assert.equal((await call(tcp, R.healthz)).status, 200);
  assert.equal((await call(tcp, R.cni)).status, 404);
  assert.equal((await call(tcp, R.endpoints)).status, 404);
  assert.equal((await call(tcp, R.status)).status, 404);
  assert.equal((await call(tcp, R.flows)).status, 404, 'flows stay root-only');
  assert.deepEqual(await call(tcp, R.metrics), { status: 200, body: 'weft_up 1\n' });
  assert.equal(cniCalls, 0, 'no CNI call came through TCP');
  assert.equal((await call(unix, R.cni)).status, 200);
  assert.equal((await call(unix, R.endpoints)).status, 200);
  assert.equal(cniCalls, 1);
});

// A refused client (a pod, from its own namespace) is in test/integration/listeners.test.ts.
test('every TCP listener answers loopback with no Node known; listener metrics start at 0', async (t) => {
  const metrics = new ListenerMetrics();
  const { tcp, observe } = await serve(t, {
    cni: () => Promise.resolve({ exitCode: 0, stdout: '{}' }),
    status: ready,
    raw: { flows: (_req, res) => void res.end('{}') },
    rule: () => ({ nodes: [], allow: [] }),
    metrics,
  });
  assert.equal((await call(observe, R.flows)).status, 200);
  assert.equal((await call(tcp, R.healthz)).status, 200);
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
