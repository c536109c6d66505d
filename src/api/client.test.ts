// The agent API's client against real HTTP servers on a temporary unix
// socket and on loopback: answers within and past their bound, silence,
// answers weft does not understand, and the flow stream's framing.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Flow } from '../core/flows/types.js';
import { AgentApiError, AgentClient, type AgentAddress, type ApiFailure } from './client.js';
import { AgentRoutes, flowParams } from './routes.js';
import { follow } from './stream.js';
import { parseFlowQuery } from '../core/flows/filter.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Served {
  readonly agent: AgentAddress;
  /** Requests seen, as `METHOD URL`. */
  readonly seen: string[];
  /** Resolves when the server has seen a request's connection close. */
  readonly closed: () => Promise<void>;
}

/** An HTTP server on a temporary unix socket, or on 127.0.0.1 (`tcp`). */
async function serve(t: TestContext, handler: Handler, tcp = false): Promise<Served> {
  const seen: string[] = [];
  let onClose: () => void = () => undefined;
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.socket.on('close', () => onClose());
    handler(req, res);
  });
  const dir = mkdtempSync(join(tmpdir(), 'weft-api-'));
  const socket = join(dir, 'agent.sock');
  server.listen(tcp ? { port: 0, host: '127.0.0.1' } : socket);
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
    rmSync(dir, { recursive: true, force: true });
  });
  const agent: AgentAddress = tcp
    ? {
        kind: 'http',
        node: 'n1',
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      }
    : { kind: 'unix', node: 'n1', socket };
  return { agent, seen, closed: () => new Promise<void>((resolve) => (onClose = resolve)) };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** Asserts `p` rejects with an AgentApiError of `kind` whose message matches. */
async function failsWith(p: Promise<unknown>, kind: ApiFailure['kind'], message: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AgentApiError, String(e));
    assert.equal(e.failure.kind, kind, e.message);
    assert.match(e.message, message);
    return true;
  });
}

const STATUS = { ready: true, message: 'node n1', node: 'n1', health: 'ok', extra: [1] };

test('an answer over the unix socket and over TCP: checked, typed, passed on whole', async (t) => {
  for (const tcp of [false, true]) {
    const s = await serve(t, (_req, res) => json(res, 200, STATUS), tcp);
    const got = await new AgentClient(s.agent).get(AgentRoutes.status);
    assert.deepEqual(got, STATUS, 'fields the shape does not name are kept');
    assert.deepEqual(s.seen, ['GET /v1/status']);
  }
});

test('an IPv6 agent URL is reached at its address', async (t) => {
  const server = createServer((_req, res) => json(res, 200, STATUS));
  const listening = new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => resolve(true));
  });
  if (!(await listening)) return t.skip('no ::1 here');
  t.after(() => server.close());
  const url = `http://[::1]:${(server.address() as AddressInfo).port}`;
  const got = await new AgentClient({ kind: 'http', node: 'n1', url }).get(AgentRoutes.status);
  assert.equal(got.ready, true);
});

test('an answer past its route bound is an error naming the route and the bound', async (t) => {
  const limit = 1024;
  const route = { ...AgentRoutes.ipam, maxBytes: limit };
  // A valid answer of exactly the bound is read; one byte more is refused.
  const padded = (n: number) =>
    JSON.stringify([{ cidr: 'x'.repeat(n - 40), allocated: 1, capacity: 2 }]);
  assert.equal(padded(limit).length, limit);
  let size = limit;
  const s = await serve(t, (_req, res) => json(res, 200, padded(size)));
  const client = new AgentClient(s.agent);
  assert.equal((await client.get(route))[0]?.allocated, 1);
  size = limit + 1;
  await failsWith(
    client.get(route),
    'too-large',
    /^the weft agent's \/v1\/ipam answer is larger than weft reads \(1\.0 KiB\)$/,
  );
  // An endless answer is cut off at the bound, not read to the end.
  const endless = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (res.write(chunk));
      res.once('drain', pump);
    };
    pump();
  });
  const cut = endless.closed();
  await failsWith(new AgentClient(endless.agent).get(route), 'too-large', /1\.0 KiB/);
  await cut;
});

test('an agent that does not answer in time: an error naming the time, the request closed', async (t) => {
  const s = await serve(t, () => undefined);
  const closed = s.closed();
  const started = Date.now();
  await failsWith(
    new AgentClient(s.agent, 100).get(AgentRoutes.status),
    'timeout',
    /^no answer within 100 ms$/,
  );
  assert.ok(Date.now() - started < 2000);
  await closed;
  // The timeout covers the whole answer: one that begins and stalls times out too.
  const stall = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
    res.write('{"ready":');
  });
  await failsWith(
    new AgentClient(stall.agent).get(AgentRoutes.status, { timeoutMs: 100 }),
    'timeout',
    /within 100 ms/,
  );
});

test('an answer weft does not understand names the route and the field', async (t) => {
  let body = '';
  const s = await serve(t, (_req, res) => json(res, 200, body));
  const client = new AgentClient(s.agent);
  body = '<html>';
  await failsWith(
    client.get(AgentRoutes.status),
    'invalid',
    /^the weft agent's \/v1\/status answer is invalid: not JSON \(/,
  );
  body = '{"ready":"yes"}';
  await failsWith(
    client.get(AgentRoutes.status),
    'invalid',
    /^the weft agent's \/v1\/status answer is invalid: "ready" must be true or false, got "yes"$/,
  );
  body = '[{"cidr":"10.0.0.0/24","allocated":"three","capacity":256}]';
  await failsWith(
    client.get(AgentRoutes.ipam),
    'invalid',
    /^the weft agent's \/v1\/ipam answer is invalid: "\[0\]\.allocated" must be a number/,
  );
});

test("another HTTP status: the path asked and the agent's error; no agent: the reason", async (t) => {
  const s = await serve(t, (req, res) =>
    json(res, 404, { error: `no route ${req.method} ${req.url?.split('?')[0]}` }),
  );
  const client = new AgentClient(s.agent);
  const query = parseFlowQuery([['verdict', 'dropped']], 0);
  await assert.rejects(client.get(AgentRoutes.flows, { params: flowParams(query) }), (e) => {
    assert.ok(e instanceof AgentApiError);
    const path = AgentRoutes.flows.path;
    assert.equal(e.message, `${path}?verdict=dropped: HTTP 404: no route GET ${path}`);
    assert.deepEqual(e.failure, {
      kind: 'status',
      status: 404,
      body: '{"error":"no route GET /v1/flows"}',
    });
    return true;
  });
  const missing = new AgentClient({ kind: 'unix', node: 'n1', socket: join(tmpdir(), 'no.sock') });
  await assert.rejects(missing.get(AgentRoutes.status), (e) => {
    assert.ok(e instanceof AgentApiError);
    assert.deepEqual(e.failure, { kind: 'unreachable', code: 'ENOENT' });
    assert.match(e.message, /ENOENT/);
    return true;
  });
});

test('a connection closed before the answer is complete', async (t) => {
  const s = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
    res.write('{"ready":true', () => res.destroy());
  });
  await failsWith(
    new AgentClient(s.agent).get(AgentRoutes.status),
    'closed',
    /^the connection closed before the answer was complete$/,
  );
});

test('a CNI call posts the CNI_* variables and stdin as JSON and reads the result', async (t) => {
  let got = '';
  let type = '';
  const s = await serve(t, (req, res) => {
    type = req.headers['content-type'] ?? '';
    req.setEncoding('utf8').on('data', (d: string) => (got += d));
    req.on('end', () => json(res, 200, { exitCode: 0, stdout: '{"cniVersion":"1.1.0"}' }));
  });
  const answer = await new AgentClient(s.agent).cni({
    env: { CNI_COMMAND: 'ADD', PATH: '/bin' },
    stdin: 'café\n',
  });
  assert.deepEqual(answer, { exitCode: 0, stdout: '{"cniVersion":"1.1.0"}' });
  assert.deepEqual(s.seen, ['POST /v1/cni']);
  assert.equal(type, 'application/json');
  assert.deepEqual(JSON.parse(got), { env: { CNI_COMMAND: 'ADD' }, stdin: 'café\n' });
});

// ---- the flow stream ----

function flow(time: number, pod = 'café-☕'): Flow {
  return {
    time,
    node: 'n1',
    direction: 'ingress',
    source: { kind: 'world', ip: '10.0.0.1' },
    destination: { kind: 'pod', ip: '10.0.0.2', port: 80, namespace: 'shop', pod, labels: {} },
    protocol: 'TCP',
    ipProtocol: 6,
    event: 'start',
    verdict: 'forwarded',
    decidedBy: { kind: 'default' },
  };
}

/** Reads the stream of `agent` until it ends or fails; the flows, and the failure if any. */
async function readAll(agent: AgentAddress, signal = new AbortController().signal) {
  const flows: Flow[] = [];
  let opened = 0;
  const query = parseFlowQuery([['namespace', 'shop']], 0);
  const error = await follow(
    agent,
    AgentRoutes.flows,
    flowParams(query),
    signal,
    (f) => flows.push(f),
    () => opened++,
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { flows, opened, error };
}

test('the stream: lines split anywhere, several in one write, blank lines between', async (t) => {
  const text = [flow(1), flow(2), flow(3)].map((f) => `${JSON.stringify(f)}\n`).join('\n');
  const bytes = Buffer.from(text);
  const s = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    // One byte at a time across the multi-byte characters, then the rest at once.
    const split = bytes.indexOf('☕') + 1;
    const pieces = [...bytes.subarray(0, split + 2)].map((b) => Buffer.from([b]));
    pieces.push(bytes.subarray(split + 2));
    const next = () => {
      const p = pieces.shift();
      if (!p) return res.end();
      res.write(p);
      setImmediate(next);
    };
    next();
  });
  const r = await readAll(s.agent);
  assert.equal(r.error, undefined);
  assert.equal(r.opened, 1);
  assert.deepEqual(r.flows, [flow(1), flow(2), flow(3)]);
  assert.deepEqual(s.seen, ['GET /v1/flows?namespace=shop&follow=1']);
});

test('the stream: a line past its bound, and a line weft does not understand, end it with the reason', async (t) => {
  const long = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(`${JSON.stringify(flow(1))}\n`);
    res.write(Buffer.alloc(AgentRoutes.flows.stream.maxLineBytes + 1, 0x20));
  });
  const tooLong = await readAll(long.agent);
  assert.deepEqual(tooLong.flows, [flow(1)]);
  assert.ok(tooLong.error instanceof AgentApiError);
  assert.equal(tooLong.error.failure.kind, 'too-large');
  assert.equal(
    tooLong.error.message,
    "a line of the weft agent's /v1/flows stream is larger than weft reads (1.0 MiB)",
  );

  const bad = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(`${JSON.stringify(flow(1))}\n${JSON.stringify({ ...flow(2), time: 'now' })}\n`);
  });
  const invalid = await readAll(bad.agent);
  assert.deepEqual(invalid.flows, [flow(1)]);
  assert.ok(invalid.error instanceof AgentApiError);
  assert.equal(
    invalid.error.message,
    `the weft agent's /v1/flows stream (line 2) is invalid: "time" must be a number, got "now"`,
  );
});

test('the stream: a connection closed mid-stream fails after the flows that came; an end is an end', async (t) => {
  const cut = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(`${JSON.stringify(flow(1))}\n${JSON.stringify(flow(2)).slice(0, 20)}`, () =>
      res.destroy(),
    );
  });
  const broken = await readAll(cut.agent);
  assert.deepEqual(broken.flows, [flow(1)]);
  assert.ok(broken.error instanceof AgentApiError);
  assert.equal(broken.error.failure.kind, 'closed');

  const ended = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.end(`${JSON.stringify(flow(1))}\n`);
  });
  assert.deepEqual(await readAll(ended.agent), { flows: [flow(1)], opened: 1, error: undefined });

  const refused = await serve(t, (_req, res) =>
    json(res, 429, { error: '127.0.0.1 has its maximum of 8 streams open' }),
  );
  const r = await readAll(refused.agent);
  assert.equal(r.opened, 0);
  assert.ok(r.error instanceof AgentApiError);
  assert.equal(
    r.error.message,
    `${AgentRoutes.flows.path}?namespace=shop&follow=1: HTTP 429: 127.0.0.1 has its maximum of 8 streams open`,
  );
});

test('the stream: aborting stops it quietly and closes the connection', async (t) => {
  const s = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(`${JSON.stringify(flow(1))}\n`);
  });
  const closed = s.closed();
  const abort = new AbortController();
  const reading = readAll(s.agent, abort.signal);
  while (s.seen.length === 0) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 50));
  abort.abort();
  assert.deepEqual(await reading, { flows: [flow(1)], opened: 1, error: undefined });
  await closed;
});
