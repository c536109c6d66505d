// The pod server's agnhost netexec contract, against a real server on
// loopback: HTTP /hostname and /clientip, UDP hostname and clientip, echo for
// everything else, and its bounds.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../testing/ports.js';
import { classify, peerText, PORT_LIMITS } from './netexec.js';
import { startPodServer } from './pod-server.js';
import { podServerHealth, probeFrom } from './probe-client.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-netexec-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let sockets = 0;

/** A pod server named web-0 serving one TCP port (so UDP too). */
async function server(
  t: test.TestContext,
  maxConnections?: number,
): Promise<{ port: number; control: string }> {
  const port = await freePort();
  const control = join(dir, `c${sockets++}.sock`);
  const s = await startPodServer({
    control,
    hostname: 'web-0',
    ports: [{ port, protocol: 'TCP' }],
    ...(maxConnections ? { maxConnections } : {}),
  });
  t.after(() => s.close());
  return { port, control };
}

interface Exchange {
  /** Everything the server sent until it closed. */
  readonly text: string;
  /** The client's own port, as the kernel gave it. */
  readonly localPort: number;
}

/** Sends `chunks` on one TCP connection (from `localAddress`), reads until the server closes. */
async function exchange(
  host: string,
  port: number,
  chunks: readonly string[],
  localAddress?: string,
): Promise<Exchange> {
  const c = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
  await once(c, 'connect');
  const localPort = c.localPort ?? 0;
  let text = '';
  c.setEncoding('utf8').on('data', (d: string) => (text += d));
  // Pieces the server no longer reads (after its answer) may fail to send: that is no error here.
  c.on('error', () => undefined);
  const closed = new Promise((resolve) => c.on('close', resolve));
  for (const chunk of chunks) {
    if (c.destroyed) break;
    c.write(chunk);
    await new Promise((r) => setTimeout(r, 20));
  }
  await closed;
  return { text, localPort };
}

/** Status line, headers (lower-cased names) and body of a response. */
function parse(text: string): { status: string; headers: Record<string, string>; body: string } {
  const at = text.indexOf('\r\n\r\n');
  assert.ok(at > 0, `not an HTTP response: ${JSON.stringify(text)}`);
  const [status = '', ...lines] = text.slice(0, at).split('\r\n');
  const headers = Object.fromEntries(
    lines.map((l) => [
      l.slice(0, l.indexOf(':')).toLowerCase(),
      l.slice(l.indexOf(':') + 1).trim(),
    ]),
  );
  return { status, headers, body: text.slice(at + 4) };
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: web\r\nUser-Agent: test\r\n\r\n`;

/** One datagram from `localAddress`; the answer and the client's port. */
async function datagram(
  host: string,
  port: number,
  text: string,
  localAddress: string,
): Promise<{ answer: string; localPort: number }> {
  const u = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  u.bind({ address: localAddress, port: 0 });
  await once(u, 'listening');
  const localPort = u.address().port;
  u.send(text, port, host);
  const [msg] = (await once(u, 'message')) as [Buffer];
  u.close();
  return { answer: String(msg), localPort };
}

test('GET /hostname and /hostName: 200, the pod name as plain text, no newline', async (t) => {
  const { port } = await server(t);
  for (const path of ['/hostname', '/hostName', '/hostname?x=1']) {
    const r = parse((await exchange('127.0.0.1', port, [get(path)])).text);
    assert.equal(r.status, 'HTTP/1.1 200 OK', path);
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8', path);
    assert.equal(r.headers['content-length'], '5', path);
    assert.equal(r.headers['connection'], 'close', path);
    assert.equal(r.body, 'web-0', path);
  }
  // Over IPv6, and HEAD: the same head, no body.
  const head = parse((await exchange('::1', port, ['HEAD /hostname HTTP/1.0\r\n\r\n'])).text);
  assert.equal(head.status, 'HTTP/1.1 200 OK');
  assert.equal(head.headers['content-length'], '5');
  assert.equal(head.body, '');
  // A request line that arrives in pieces is still one request.
  const split = await exchange('127.0.0.1', port, ['GE', 'T /host', 'name HTTP/1.1\r\n', '\r\n']);
  assert.equal(parse(split.text).body, 'web-0');
});

test('GET /clientip: the peer address and port as the server saw them', async (t) => {
  const { port } = await server(t);
  const v4 = await exchange('127.0.0.1', port, [get('/clientip')], '127.0.0.2');
  assert.equal(parse(v4.text).body, `127.0.0.2:${v4.localPort}`);
  const v6 = await exchange('::1', port, [get('/clientip')], '::1');
  assert.equal(parse(v6.text).body, `[::1]:${v6.localPort}`);
  assert.equal(peerText('::ffff:10.0.0.7', 80), '10.0.0.7:80');
  assert.equal(peerText('fd00::7', 80), '[fd00::7]:80');
});

test('UDP: hostname and clientip datagrams are answered, anything else is echoed', async (t) => {
  const { port } = await server(t);
  assert.equal((await datagram('127.0.0.1', port, 'hostname', '127.0.0.2')).answer, 'web-0');
  // As the e2e tests send it: `echo hostName | nc -u`.
  assert.equal((await datagram('127.0.0.1', port, 'hostName\n', '127.0.0.2')).answer, 'web-0');
  const v4 = await datagram('127.0.0.1', port, 'clientip', '127.0.0.2');
  assert.equal(v4.answer, `127.0.0.2:${v4.localPort}`);
  const v6 = await datagram('::1', port, 'clientip', '::1');
  assert.equal(v6.answer, `[::1]:${v6.localPort}`);
  assert.equal((await datagram('::1', port, 'echo me', '::1')).answer, 'echo me');
  assert.equal((await datagram('127.0.0.1', port, 'hostnames', '127.0.0.2')).answer, 'hostnames');
});

test('TCP bytes that are not GET / or HEAD / are echoed as before, and the probe still connects', async (t) => {
  const { port, control } = await server(t);
  for (const bytes of [
    'x',
    'POST /hostname HTTP/1.1\r\n\r\n',
    'GETX /hostname',
    'GET hostname\n',
  ]) {
    const c = connect({ host: '127.0.0.1', port });
    c.end(bytes);
    let got = '';
    for await (const d of c) got += String(d);
    assert.equal(got, bytes);
  }
  // First bytes that could begin a request but stop there are echoed after a moment.
  const c = connect({ host: '127.0.0.1', port });
  c.write('G');
  const t0 = Date.now();
  const [echoed] = (await once(c, 'data')) as [Buffer];
  assert.equal(String(echoed), 'G');
  assert.ok(Date.now() - t0 >= PORT_LIMITS.sniffMs - 50, `echoed after ${Date.now() - t0} ms`);
  c.write('ET /hostname HTTP/1.1\r\n\r\n');
  const [rest] = (await once(c, 'data')) as [Buffer];
  assert.equal(String(rest), 'ET /hostname HTTP/1.1\r\n\r\n', 'the connection stays an echo');
  c.destroy();
  const results = await probeFrom(control, [
    { ip: '127.0.0.1', port, protocol: 'TCP', timeoutMs: 2000 },
    { ip: '::1', port, protocol: 'UDP', timeoutMs: 2000 },
  ]);
  assert.deepEqual(
    results.map((r) => r.outcome),
    ['connected', 'connected'],
  );
  assert.deepEqual(
    ['GET /', 'HEAD /', 'HEA', 'G', 'GET', 'x', 'GETS'].map((s) => classify(Buffer.from(s))),
    ['http', 'http', 'undecided', 'undecided', 'undecided', 'echo', 'echo'],
  );
});

test('other paths are 404, a bad request line 400, an oversize head 431 and closed', async (t) => {
  const { port, control } = await server(t);
  const notFound = parse((await exchange('127.0.0.1', port, [get('/dial')])).text);
  assert.equal(notFound.status, 'HTTP/1.1 404 Not Found');
  assert.equal(notFound.body, '404 page not found\n');
  const bad = parse((await exchange('127.0.0.1', port, ['GET /hostname HTTP/9\r\n\r\n'])).text);
  assert.equal(bad.status, 'HTTP/1.1 400 Bad Request');

  // 9 KiB of headers, sent in pieces, and more after: answered 431 once the head passes 8 KiB.
  const header = `X-Big: ${'a'.repeat(1000)}\r\n`;
  const big = await exchange('127.0.0.1', port, [
    'GET /hostname HTTP/1.1\r\n',
    ...Array<string>(9).fill(header),
    '\r\n',
  ]);
  const tooLarge = parse(big.text);
  assert.equal(tooLarge.status, 'HTTP/1.1 431 Request Header Fields Too Large');
  assert.equal(tooLarge.body, '431 Request Header Fields Too Large');
  // A head that never ends is cut at the same bound, without waiting for the blank line.
  const endless = connect({ host: '127.0.0.1', port });
  endless.on('error', () => undefined);
  let answered = '';
  endless.setEncoding('utf8').on('data', (d: string) => (answered += d));
  endless.write(`GET /hostname HTTP/1.1\r\nX-Long: ${'b'.repeat(PORT_LIMITS.maxHeadBytes)}`);
  await once(endless, 'end');
  assert.match(answered, /^HTTP\/1\.1 431 /);
  endless.destroy();
  assert.equal((await podServerHealth(control)).ok, true);
});

test('a port holds at most maxConnections; past it new connections are closed, then accepted again', async (t) => {
  const { port } = await server(t, 8);
  const held: Socket[] = [];
  t.after(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < 8; i++) {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    held.push(s);
    await once(s, 'connect');
  }
  const over = async () => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    s.write('ping');
    const got = await new Promise<string>((resolve) => {
      s.on('data', (d: Buffer) => resolve(String(d)));
      s.on('close', () => resolve(''));
    });
    s.destroy();
    return got;
  };
  assert.equal(await over(), '', 'the connection past the bound is closed unanswered');
  held.splice(0, 1).forEach((s) => s.destroy());
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await over(), 'ping', 'below the bound again, a connection is served');
});
