// The UI server's guard and stream bounds, on loopback: the Host check
// (DNS rebinding), the per-client and per-listener stream limits, and a
// client that does not read being dropped and counted. The access rule from
// a pod's address is in test/integration/listeners.test.ts.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Flow } from '../core/flows/types.js';
import { HostNames } from '../core/listen/host.js';
import { ListenerMetrics } from '../listen/metrics.js';
import type { StreamLimits } from '../listen/streams.js';
import { FlowFeed } from './feed.js';
import type { PolicySource } from './policy-source.js';
import { createUiServer } from './server.js';

const policy: PolicySource = {
  irs: () => Promise.resolve({ irs: [], errors: [] }),
  cluster: () => Promise.resolve(undefined),
};

/** `n` flows of about 400 bytes each. */
function flows(n: number): Flow[] {
  const t0 = Date.now() - n;
  return Array.from({ length: n }, (_, i) => ({
    time: t0 + i,
    node: 'node-1',
    direction: 'ingress' as const,
    source: { kind: 'world' as const, ip: `10.1.${i >> 8}.${i & 255}`, port: 40000 },
    destination: { kind: 'world' as const, ip: '10.2.0.1', port: 5432 },
    protocol: 'TCP' as const,
    ipProtocol: 6,
    event: 'start' as const,
    verdict: 'forwarded' as const,
    decidedBy: { kind: 'default' as const },
  })) as Flow[];
}

async function serve(t: TestContext, given: Flow[], limits: StreamLimits) {
  const feed = new FlowFeed(
    async function* (signal) {
      yield* given;
      await new Promise((r) => signal.addEventListener('abort', r));
    },
    { capacity: given.length + 1 },
  );
  feed.start();
  const metrics = new ListenerMetrics();
  const server = createUiServer({
    feed,
    policy,
    title: 'test',
    streamLimits: limits,
    guard: {
      listener: 'ui',
      rule: () => ({ nodes: [], allow: [] }),
      hosts: { names: new HostNames(['127.0.0.1', 'weft.example.com']), flag: '--ui-host' },
      metrics,
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const sockets: Socket[] = [];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await feed.stop();
  });
  for (let i = 0; i < 200 && feed.status().received < given.length; i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.equal(feed.status().received, given.length, 'the feed holds the flows');
  /** A raw request that never reads past the status line; resolves with that line. */
  const open = (path: string, host = `127.0.0.1:${port}`) =>
    new Promise<{ status: number; socket: Socket }>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      sockets.push(s);
      s.once('error', reject);
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      s.once('data', (d: Buffer) => {
        s.pause();
        resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(d.toString('latin1'))?.[1]), socket: s });
      });
    });
  return { port, metrics, open };
}

const metricValue = (m: ListenerMetrics, series: string) =>
  Number(
    new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(m.registry.render())?.[1],
  );

test('the UI answers its own Host names only: another name gets 421 naming --ui-host', async (t) => {
  const { port, metrics } = await serve(t, [], {
    maxStreams: 4,
    maxPerClient: 2,
    maxQueued: 100,
    stallMs: 60_000,
  });
  // fetch() would not send another Host: a plain request does, as a rebound browser would.
  const get = (host: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        { port, host: '127.0.0.1', path: '/api/status', headers: { host } },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject).end();
    });
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'weft.example.com:8080'])
    assert.equal((await get(host)).status, 200, host);
  const rebound = await get(`attacker.example:${port}`);
  assert.equal(rebound.status, 421);
  assert.match(
    rebound.text,
    /Host \\"attacker\.example:\d+\\" is not a name of this UI.*--ui-host NAME/,
  );
  assert.equal(metricValue(metrics, 'weft_listener_refused_total{listener="ui",reason="host"}'), 1);
});

test('streams are bounded per client and per listener, and a refused one costs nothing', async (t) => {
  const { open, metrics } = await serve(t, flows(10), {
    maxStreams: 3,
    maxPerClient: 2,
    maxQueued: 100,
    stallMs: 60_000,
  });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await open('/api/stream')).status);
  assert.deepEqual(statuses, [200, 200, 429, 429], 'two per client address');
  assert.equal(
    metricValue(metrics, 'weft_listener_refused_total{listener="ui",reason="client_streams"}'),
    2,
  );
  assert.equal(metricValue(metrics, 'weft_listener_streams{listener="ui"}'), 2);
});

test('a stream whose client does not read is not buffered: it is dropped after the stall time, and counted', async (t) => {
  // 20,000 flows, about 8 MB of events: more than the kernel's socket buffers take.
  const { open, metrics } = await serve(t, flows(20_000), {
    maxStreams: 4,
    maxPerClient: 4,
    maxQueued: 30_000,
    stallMs: 300,
  });
  const { status, socket } = await open('/api/stream?last=20000');
  assert.equal(status, 200);
  const closed = await new Promise<boolean>((resolve) => {
    const t0 = setTimeout(() => resolve(false), 5000);
    socket.once('close', () => (clearTimeout(t0), resolve(true)));
    // Reading now would drain it: only the close (end of data) is awaited, unread bytes are discarded.
    socket.on('end', () => socket.destroy());
    setTimeout(() => socket.resume(), 2000);
  });
  assert.ok(closed, 'the agent closed the stream');
  assert.equal(
    metricValue(metrics, 'weft_listener_streams_dropped_total{listener="ui",reason="stalled"}'),
    1,
  );
  assert.equal(
    metricValue(metrics, 'weft_listener_streams{listener="ui"}'),
    0,
    'its slot is free again',
  );
});
