// The pod server on loopback, in this process: echo, probe outcomes, a large
// batch without leaked descriptors, and bad requests.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../testing/ports.js';
import { startPodServer, type PodServer } from './pod-server.js';
import { podServerCommand } from './pod-server-main.js';
import {
  podServerHealth,
  podServerShutdown,
  probeFrom,
  worstCaseMs,
  type ProbeTarget,
} from './probe-client.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-pod-server-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let sockets = 0;
const controlPath = () => join(dir, `c${sockets++}.sock`);

async function server(
  t: test.TestContext,
  ports: number[],
): Promise<PodServer & { control: string }> {
  const control = controlPath();
  const s = await startPodServer({
    control,
    ports: ports.map((port) => ({ port, protocol: 'TCP' })),
  });
  t.after(() => s.close());
  return { ...s, control, health: s.health, close: s.close };
}

const tcp = (ip: string, port: number, timeoutMs = 2000): ProbeTarget => ({
  ip,
  port,
  protocol: 'TCP',
  timeoutMs,
});
const udp = (ip: string, port: number, timeoutMs = 2000): ProbeTarget => ({
  ip,
  port,
  protocol: 'UDP',
  timeoutMs,
});

/** A raw control request; status and body as text. */
function raw(
  control: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: control, method, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const openFds = () => readdirSync('/proc/self/fd').length;

test('echoes TCP and UDP on a declared port, over IPv4 and IPv6 loopback', async (t) => {
  const port = await freePort();
  const s = await server(t, [port]);

  for (const host of ['127.0.0.1', '::1']) {
    const c = connect({ host, port });
    c.end('hello over tcp');
    let got = '';
    for await (const d of c) got += String(d);
    assert.equal(got, 'hello over tcp', host);

    const u = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    u.send('hello over udp', port, host);
    const [msg] = (await once(u, 'message')) as [Buffer];
    u.close();
    assert.equal(String(msg), 'hello over udp', host);
  }

  const results = await probeFrom(s.control, [
    tcp('127.0.0.1', port),
    udp('127.0.0.1', port),
    tcp('::1', port),
    udp('::1', port),
    tcp('::ffff:127.0.0.1', port),
  ]);
  assert.deepEqual(
    results.map((r) => [r.outcome, r.ok, r.error]),
    Array(5).fill(['connected', true, undefined]),
  );
  for (const r of results) assert.ok(r.ms >= 0 && r.ms < 2000);
});

test('health lists every served socket and the SCTP ports it cannot serve', async (t) => {
  const [a, b] = [await freePort(), await freePort()];
  const control = controlPath();
  const s = await startPodServer({
    control,
    ports: [
      { port: b, protocol: 'UDP' },
      { port: a, protocol: 'TCP' },
      { port: a, protocol: 'SCTP' },
    ],
  });
  t.after(() => s.close());
  const [lo, hi] = a < b ? [a, b] : [b, a];
  assert.deepEqual(await podServerHealth(control), {
    ok: true,
    pid: process.pid,
    ports: [
      { port: lo, protocol: 'TCP' },
      { port: lo, protocol: 'UDP' },
      { port: hi, protocol: 'TCP' },
      { port: hi, protocol: 'UDP' },
    ],
    notServed: [
      { port: a, protocol: 'SCTP', reason: 'SCTP sockets are not available on this kernel' },
    ],
  });
});

test('a closed port is refused; a silent peer is a timeout', async (t) => {
  const s = await server(t, [await freePort()]);
  const closed = await freePort();
  // Accepts connections (the kernel completes the handshake) but never answers.
  const silentTcp: Server = createServer(() => undefined).listen({ host: '127.0.0.1', port: 0 });
  await once(silentTcp, 'listening');
  t.after(() => silentTcp.close());
  const silentUdp: UdpSocket = createSocket('udp4');
  silentUdp.bind({ address: '127.0.0.1', port: 0 });
  await once(silentUdp, 'listening');
  t.after(() => silentUdp.close());

  const [tcpClosed, udpClosed, udp6Closed, tcpSilent, udpSilent] = await probeFrom(s.control, [
    tcp('127.0.0.1', closed),
    udp('127.0.0.1', closed),
    udp('::1', closed),
    tcp('127.0.0.1', (silentTcp.address() as AddressInfo).port, 200),
    udp('127.0.0.1', silentUdp.address().port, 200),
  ]);
  assert.equal(tcpClosed?.outcome, 'refused');
  assert.match(tcpClosed?.error ?? '', /ECONNREFUSED/);
  assert.equal(udpClosed?.outcome, 'refused');
  assert.match(udpClosed?.error ?? '', /ECONNREFUSED \(UDP 127\.0\.0\.1:\d+\)/);
  assert.equal(udp6Closed?.outcome, 'refused');
  assert.equal(tcpSilent?.outcome, 'timeout');
  assert.equal(tcpSilent?.ok, false);
  assert.equal(tcpSilent?.error, 'connected, but no echo within 200 ms');
  assert.equal(udpSilent?.outcome, 'timeout');
  assert.equal(udpSilent?.error, 'no echo within 200 ms');
});

test('a local failure (no route, broadcast) is an error, and the server lives on', async (t) => {
  const port = await freePort();
  const s = await server(t, [port]);
  const results = await probeFrom(s.control, [
    udp('255.255.255.255', port),
    tcp('255.255.255.255', port),
    udp('127.0.0.1', port),
  ]);
  assert.deepEqual(
    results.map((r) => r.outcome),
    ['error', 'error', 'connected'],
    JSON.stringify(results),
  );
  assert.match(results[0]?.error ?? '', /^connect E[A-Z]+ 255\.255\.255\.255:\d+ \(UDP /);
  assert.equal((await podServerHealth(s.control)).ok, true);
});

test('2,000 targets: every result in order, every socket closed afterwards', async (t) => {
  const port = await freePort();
  const closed = await freePort();
  const s = await server(t, [port]);
  await probeFrom(s.control, [tcp('127.0.0.1', port)]); // warm up lazily opened handles
  const before = openFds();

  const targets = Array.from({ length: 2000 }, (_, i) => {
    const to = i % 10 === 9 ? closed : port;
    const ip = i % 4 < 2 ? '127.0.0.1' : '::1';
    return i % 2 === 0 ? tcp(ip, to, 5000) : udp(ip, to, 5000);
  });
  const results = await probeFrom(s.control, targets);
  assert.equal(results.length, 2000);
  results.forEach((r, i) =>
    assert.equal(r.outcome, i % 10 === 9 ? 'refused' : 'connected', `target ${i}`),
  );

  // The echo side closes its half after the prober's FIN: give it a moment.
  let now = openFds();
  for (let i = 0; i < 100 && now > before + 2; i++) {
    await new Promise((r) => setTimeout(r, 20));
    now = openFds();
  }
  assert.ok(now <= before + 2, `open descriptors: ${before} before, ${now} after`);
});

test('bad requests get 400 with a reason, and the server keeps working', async (t) => {
  const port = await freePort();
  const s = await server(t, [port]);
  const target = { ip: '127.0.0.1', port, protocol: 'TCP', timeoutMs: 1000 };
  const cases: [string, string, string | undefined, number, RegExp][] = [
    ['POST', '/probe', 'not json', 400, /not JSON/],
    ['POST', '/probe', '', 400, /not JSON/],
    ['POST', '/probe', '[]', 400, /^body: expected an object/],
    ['POST', '/probe', '{}', 400, /^targets: expected an array/],
    [
      'POST',
      '/probe',
      JSON.stringify({ targets: [{ ...target, port: 0 }] }),
      400,
      /targets\[0\]\.port/,
    ],
    [
      'POST',
      '/probe',
      JSON.stringify({ targets: [target, { ...target, ip: 'x' }] }),
      400,
      /targets\[1\]\.ip/,
    ],
    [
      'POST',
      '/probe',
      JSON.stringify({ targets: [{ ...target, protocol: 'SCTP' }] }),
      400,
      /protocol/,
    ],
    [
      'POST',
      '/probe',
      JSON.stringify({ targets: [{ ...target, timeoutMs: -1 }] }),
      400,
      /timeoutMs/,
    ],
    [
      'POST',
      '/probe',
      JSON.stringify({ targets: [{ ...target, extra: 1 }] }),
      400,
      /targets\[0\]\.extra: unknown field/,
    ],
    ['POST', '/probe', JSON.stringify({ targets: [], concurrency: 0 }), 400, /concurrency/],
    ['GET', '/probe', undefined, 405, /takes POST/],
    ['GET', '/nope', undefined, 404, /no route/],
  ];
  for (const [method, path, body, status, message] of cases) {
    const res = await raw(s.control, method, path, body);
    assert.equal(res.status, status, `${method} ${path} ${body ?? ''}: ${res.body}`);
    assert.match((JSON.parse(res.body) as { error: string }).error, message);
  }
  await assert.rejects(
    probeFrom(s.control, [{ ...tcp('127.0.0.1', port), port: 70000 }]),
    /POST \/probe answered 400: targets\[0\]\.port: expected an integer 1-65535, got 70000/,
  );
  assert.deepEqual(
    (await probeFrom(s.control, [tcp('127.0.0.1', port), udp('127.0.0.1', port)])).map((r) => r.ok),
    [true, true],
  );
  assert.deepEqual(JSON.parse((await raw(s.control, 'POST', '/probe', '{"targets":[]}')).body), {
    results: [],
  });
});

test('a port in use fails the start with the reason, and leaves no socket behind', async (t) => {
  const busy = createServer().listen({ host: '::', port: 0 });
  await once(busy, 'listening');
  t.after(() => busy.close());
  const port = (busy.address() as AddressInfo).port;
  const control = controlPath();
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  assert.equal(await podServerCommand(['--control', control, '--port', String(port)], io), 1);
  assert.match(lines.join('\n'), new RegExp(`^weft: lab pod-server: .*EADDRINUSE.*${port}`));
  assert.equal(existsSync(control), false);
});

test('POST /shutdown closes the server and removes its socket', async () => {
  const port = await freePort();
  const control = controlPath();
  const s = await startPodServer({ control, ports: [{ port, protocol: 'TCP' }] });
  assert.ok(existsSync(control));
  await podServerShutdown(control);
  await s.closed;
  assert.equal(existsSync(control), false);
  await s.close(); // idempotent
  await assert.rejects(podServerHealth(control), (e: Error) => {
    assert.equal(
      e.message,
      `pod server control socket ${control} does not exist: is the pod server running?`,
    );
    return true;
  });
  // The echo port is free again.
  const again = await startPodServer({ control, ports: [{ port, protocol: 'UDP' }] });
  await again.close();
});

test('the control request times out after the probes plus a margin, naming the socket', async (t) => {
  // A server that accepts the request and never answers.
  const control = controlPath();
  const mute = createServer(() => undefined).listen(control);
  await once(mute, 'listening');
  t.after(() => mute.close());
  await assert.rejects(
    probeFrom(control, [tcp('127.0.0.1', 1, 50)], { marginMs: 100 }),
    new RegExp(`pod server at ${control} did not answer POST /probe within 155 ms`),
  );
  assert.equal(worstCaseMs([tcp('::1', 1, 300), tcp('::1', 1, 100)], 256), 400 / 2 + 300 / 2);
  assert.equal(worstCaseMs(Array(1000).fill(tcp('::1', 1, 300)), 100), 3000 + 297);
});

test('podServerCommand: usage, then ready and a clean return on /shutdown', async () => {
  const lines: string[] = [];
  const io = {
    out: (t: string) => lines.push(`out: ${t}`),
    err: (t: string) => lines.push(`err: ${t}`),
  };
  assert.equal(await podServerCommand([], io), 2);
  assert.match(lines.pop() ?? '', /^err: weft: --control is required\n {2}fix: /);
  assert.equal(await podServerCommand(['--control', 'x', '--port', '80/ICMP'], io), 2);
  assert.match(lines.pop() ?? '', /--port 80\/ICMP: not a port/);
  assert.equal(await podServerCommand(['--control', 'x', '--hostname', 'a b'], io), 2);
  assert.match(lines.pop() ?? '', /--hostname "a b": not a hostname/);
  assert.equal(await podServerCommand(['--control', 'x', '--bogus'], io), 2);
  assert.equal(await podServerCommand(['--help'], io), 0);
  assert.match(lines.pop() ?? '', /^out: usage: weft lab pod-server/);

  const port = await freePort();
  const control = controlPath();
  const running = podServerCommand(['--control', control, '--port', `${port}/udp`], io);
  while (!lines.includes('out: ready')) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual((await podServerHealth(control)).ports, [
    { port, protocol: 'TCP' },
    { port, protocol: 'UDP' },
  ]);
  await podServerShutdown(control);
  assert.equal(await running, 0);
});
