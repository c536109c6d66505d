import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { HealthCheck } from '../../core/services/types.js';
import {
  HEALTH_CHECK_LIMITS,
  ProxyHealth,
  serveProxyHealth,
  ServiceHealthServers,
} from './health-check.js';
import { ServiceProxyMetrics } from './metrics.js';

// Real servers on 127.0.0.1. Expected answers are written from kube-proxy's
// healthcheck package (service_health.go, proxy_health.go).

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function get(port: number, path = '/', method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A TCP port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function check(name: string, nodePort: number, localEndpoints: number): HealthCheck {
  return { service: { namespace: 'shop', name }, nodePort, localEndpoints };
}

function servers(t: TestContext, opts: ConstructorParameters<typeof ServiceHealthServers>[0] = {}) {
  const s = new ServiceHealthServers(opts);
  t.after(() => s.close());
  return s;
}

test('200 with local endpoints, 503 without, as kube-proxy answers; the count changes in place', async (t) => {
  const port = await freePort();
  const hc = servers(t);
  await hc.sync([check('web', port, 2)], ['127.0.0.1']);
  const ok = await get(port, '/any/path');
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['content-type'], 'application/json');
  assert.equal(ok.headers['x-content-type-options'], 'nosniff');
  assert.equal(ok.headers['x-load-balancing-endpoint-weight'], '2');
  assert.equal(
    ok.body,
    '{\n\t"service": {\n\t\t"namespace": "shop",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}',
  );
  const status = await hc.sync([check('web', port, 0)], ['127.0.0.1']);
  assert.deepEqual(status.serving, [
    {
      service: { namespace: 'shop', name: 'web' },
      port,
      addresses: ['127.0.0.1'],
      localEndpoints: 0,
    },
  ]);
  const none = await get(port);
  assert.equal(none.status, 503);
  assert.equal(none.headers['x-load-balancing-endpoint-weight'], '0');
  assert.deepEqual(JSON.parse(none.body), {
    service: { namespace: 'shop', name: 'web' },
    localEndpoints: 0,
    serviceProxyHealthy: true,
  });
  const head = await get(port, '/', 'HEAD');
  assert.equal(head.status, 503);
  assert.equal(head.body, '');
});

test('servers open and close as health checks and their ports come and go', async (t) => {
  const [a, b, c] = [await freePort(), await freePort(), await freePort()];
  const metrics = new ServiceProxyMetrics();
  const hc = servers(t, { metrics });
  await hc.sync([check('api', a, 1), check('web', b, 1)], ['127.0.0.1']);
  assert.equal((await get(a)).status, 200);
  assert.equal((await get(b)).status, 200);
  assert.match(metrics.render(), /^weft_services_health_check_servers\{state="serving"\} 2$/m);
  // api goes; web moves to another port.
  const status = await hc.sync([check('web', c, 1)], ['127.0.0.1']);
  assert.deepEqual(
    status.serving.map((s) => [s.service.name, s.port]),
    [['web', c]],
  );
  await assert.rejects(get(a), /ECONNREFUSED/);
  await assert.rejects(get(b), /ECONNREFUSED/);
  assert.equal(JSON.parse((await get(c)).body).service.name, 'web');
  assert.match(metrics.render(), /^weft_services_health_check_servers\{state="serving"\} 1$/m);
  await hc.close();
  await assert.rejects(get(c), /ECONNREFUSED/);
});

test('a port in use is reported, naming the Service and the port; the others are served; retried at the next sync', async (t) => {
  const [busy, free] = [await freePort(), await freePort()];
  const squatter: Server = createServer();
  await new Promise<void>((r) => squatter.listen(busy, '127.0.0.1', r));
  const metrics = new ServiceProxyMetrics();
  const hc = servers(t, { metrics });
  const status = await hc.sync([check('api', busy, 1), check('web', free, 1)], ['127.0.0.1']);
  assert.deepEqual(
    status.serving.map((s) => s.service.name),
    ['web'],
  );
  assert.deepEqual(status.failed, [
    {
      service: { namespace: 'shop', name: 'api' },
      port: busy,
      address: '127.0.0.1',
      message: `Service shop/api: healthCheckNodePort ${busy} on 127.0.0.1:${busy}: the port is already in use (another process listens there); its health check is not served here (retried at the next sync)`,
    },
  ]);
  assert.equal((await get(free)).status, 200);
  assert.match(metrics.render(), /^weft_services_health_check_servers\{state="failed"\} 1$/m);
  await new Promise<void>((r) => squatter.close(() => r()));
  const retried = await hc.sync([check('api', busy, 1), check('web', free, 1)], ['127.0.0.1']);
  assert.deepEqual(retried.failed, []);
  assert.equal(JSON.parse((await get(busy)).body).service.name, 'api');
  assert.match(metrics.render(), /^weft_services_health_check_servers\{state="failed"\} 0$/m);
});

test('an address that is not the node’s: reported, nothing half-open', async (t) => {
  const port = await freePort();
  const hc = servers(t);
  const status = await hc.sync([check('web', port, 1)], ['127.0.0.1', '192.0.2.77']);
  assert.deepEqual(status.serving, []);
  assert.match(
    status.failed[0]?.message ?? '',
    new RegExp(
      `^Service shop/web: healthCheckNodePort ${port} on 192.0.2.77:${port}: the address is not one of this node’s`,
    ),
  );
  // What was opened on 127.0.0.1 for it is closed again.
  await assert.rejects(get(port), /ECONNREFUSED/);
});

test('an unhealthy proxy answers 503 even with local endpoints', async (t) => {
  let now = 1_700_000_000_000;
  const health = new ProxyHealth({ timeoutMs: 60_000, now: () => now });
  const port = await freePort();
  const hc = servers(t, { health });
  await hc.sync([check('web', port, 3)], ['127.0.0.1']);
  health.queued();
  now += 59_000;
  assert.equal((await get(port)).status, 200);
  now += 1_000;
  const late = await get(port);
  assert.equal(late.status, 503);
  assert.equal(JSON.parse(late.body).serviceProxyHealthy, false);
  health.updated();
  assert.equal((await get(port)).status, 200);
});

test('bounded: GET and HEAD only, headers limited, connections limited, silent clients closed', async (t) => {
  const limits = { ...HEALTH_CHECK_LIMITS, maxConnections: 2, idleTimeoutMs: 400 };
  const port = await freePort();
  const hc = servers(t, { limits });
  await hc.sync([check('web', port, 1)], ['127.0.0.1']);
  const post = await get(port, '/', 'POST');
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  const big = await new Promise<Answer>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, agent: false, headers: { 'x-pad': 'a'.repeat(10_000) } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(big.status, 431);
  // Two silent connections take the server's two places; a third is closed at once.
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    });
  const closed = (s: Socket) => new Promise<number>((r) => s.on('close', () => r(Date.now())));
  const [s1, s2] = [await open(), await open()];
  t.after(() => {
    s1.destroy();
    s2.destroy();
  });
  const started = Date.now();
  const s3 = await open();
  const third = await closed(s3);
  assert.ok(third - started < 250, `third connection closed after ${third - started} ms`);
  // The silent ones are closed once idle for the limit.
  const ends = await Promise.all([closed(s1), closed(s2)]);
  for (const end of ends) assert.ok(end - started < 2000, `closed after ${end - started} ms`);
  assert.equal((await get(port)).status, 200);
});

test('/healthz and /livez: healthy, late, and a node going away', async (t) => {
  let now = Date.parse('2026-03-01T10:00:00.000Z');
  const health = new ProxyHealth({ timeoutMs: 60_000, now: () => now });
  const metrics = new ServiceProxyMetrics();
  const port = await freePort();
  const server = await serveProxyHealth({ host: '127.0.0.1', port }, health, { metrics });
  t.after(() => new Promise<void>((r) => server.close(() => r())));

  const first = await get(port, '/healthz');
  assert.equal(first.status, 200);
  assert.equal(first.headers['content-type'], 'application/json');
  assert.equal(first.headers['x-content-type-options'], 'nosniff');
  assert.deepEqual(JSON.parse(first.body), {
    lastUpdated: '2026-03-01T10:00:00.000Z',
    currentTime: '2026-03-01T10:00:00.000Z',
    nodeEligible: true,
    healthy: true,
  });
  health.updated();
  health.queued();
  now += 61_000;
  const late = await get(port, '/healthz');
  assert.equal(late.status, 503);
  assert.deepEqual(JSON.parse(late.body), {
    lastUpdated: '2026-03-01T10:00:00.000Z',
    currentTime: '2026-03-01T10:01:01.000Z',
    nodeEligible: true,
    healthy: false,
  });
  assert.equal((await get(port, '/livez')).status, 503);

  health.updated();
  health.setNodeEligible(false);
  const leaving = await get(port, '/healthz');
  assert.equal(leaving.status, 503);
  assert.equal(JSON.parse(leaving.body).nodeEligible, false);
  const live = await get(port, '/livez');
  assert.equal(live.status, 200);
  assert.deepEqual(JSON.parse(live.body), {
    lastUpdated: '2026-03-01T10:01:01.000Z',
    currentTime: '2026-03-01T10:01:01.000Z',
    healthy: true,
  });
  assert.equal((await get(port, '/metrics')).status, 404);
  assert.deepEqual(
    metrics
      .render()
      .split('\n')
      .filter((l) => l.startsWith('weft_services_proxy_healthz_total')),
    [
      'weft_services_proxy_healthz_total{path="healthz",code="200"} 1',
      'weft_services_proxy_healthz_total{path="healthz",code="503"} 2',
      'weft_services_proxy_healthz_total{path="livez",code="200"} 1',
      'weft_services_proxy_healthz_total{path="livez",code="503"} 1',
    ],
  );
});

test('the proxy health listener says where it could not listen', async (t) => {
  const squatter = createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => squatter.close(() => r())));
  const port = (squatter.address() as { port: number }).port;
  await assert.rejects(
    serveProxyHealth({ host: '127.0.0.1', port }, new ProxyHealth()),
    new RegExp(
      `^Error: the proxy health listener on 127.0.0.1:${port}: the port is already in use`,
    ),
  );
});
