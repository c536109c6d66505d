import test from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseFlowQuery } from '../core/flows/filter.js';
import type { Flow } from '../core/flows/types.js';
import type { AgentAddress } from '../api/client.js';
import { AgentRoutes } from '../api/routes.js';
import { PeerFollower } from './follow-peers.js';
import type { PeerProblem } from './peers.js';

function flow(node: string, time: number): Flow {
  const ep = { kind: 'world' as const, ip: '10.0.0.1' };
  return {
    time,
    node,
    direction: 'ingress',
    source: ep,
    destination: { ...ep, port: 80 },
    protocol: 'TCP',
    ipProtocol: 6,
    event: 'start',
    verdict: 'forwarded',
    decidedBy: { kind: 'default' },
  };
}

/** An agent's flow stream: its buffer as NDJSON on every connect, then what `send` adds. */
class FakeAgent {
  readonly buffer: Flow[] = [];
  readonly open = new Set<ServerResponse>();
  connects = 0;
  readonly server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '', 'http://agent');
    assert.equal(url.pathname, AgentRoutes.flows.path);
    assert.equal(url.searchParams.get(AgentRoutes.flows.stream.param), '1');
    this.connects++;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (const f of this.buffer) res.write(`${JSON.stringify(f)}\n`);
    this.open.add(res);
    res.on('close', () => this.open.delete(res));
  });
  constructor(readonly node: string) {}
  async start(): Promise<AgentAddress> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as AddressInfo;
    return { kind: 'http', node: this.node, url: `http://127.0.0.1:${port}` };
  }
  send(f: Flow): void {
    this.buffer.push(f);
    for (const res of this.open) res.write(`${JSON.stringify(f)}\n`);
  }
  /** Breaks every open stream, as an agent restart does. */
  cut(): void {
    for (const res of this.open) res.destroy();
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

async function until<T>(what: string, f: () => T, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = f();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`${what}: ${JSON.stringify(f())}`);
}

test('PeerFollower: merges a changing set of agents, reads a broken one again without repeats, names bad peers', async (t) => {
  const a = new FakeAgent('a');
  const b = new FakeAgent('b');
  t.after(() => Promise.all([a.close(), b.close()]));
  const t0 = Date.now();
  a.send(flow('a', t0 + 1));
  b.send(flow('b', t0 + 2));
  const list: { agents: AgentAddress[]; problems: PeerProblem[] } = {
    agents: [await a.start()],
    problems: [{ node: 'c', message: 'Node c: annotation weft.dev/observe-url "x" is not a URL' }],
  };
  const follower = new PeerFollower(() => list, parseFlowQuery([], t0));
  const abort = new AbortController();
  const got: Flow[] = [];
  const reading = (async () => {
    for await (const f of follower.follow(abort.signal)) got.push(f);
  })();

  await until(
    'a buffered flow',
    () => got.length,
    (n) => n === 1,
  );
  assert.deepEqual(
    follower.status().map((s) => [s.node, s.connected, s.flows, s.error]),
    [
      ['a', true, 1, undefined],
      ['c', false, 0, 'Node c: annotation weft.dev/observe-url "x" is not a URL'],
    ],
  );

  // A Node appears: its agent is followed from the next rescan, its buffer included.
  list.agents = [...list.agents, await b.start()];
  await until(
    'b joined',
    () => got.map((f) => f.node).join(),
    (s) => s === 'a,b',
  );
  a.send(flow('a', t0 + 3));
  await until(
    'a live flow',
    () => got.length,
    (n) => n === 3,
  );

  // a's stream breaks: a is read again, and only its new flow comes through.
  a.cut();
  await until(
    'a broken',
    () => follower.status()[0]?.connected,
    (c) => c === false,
  );
  a.send(flow('a', t0 + 4));
  await until(
    'a read again',
    () => got.length,
    (n) => n === 4,
  );
  assert.equal(a.connects, 2);
  assert.deepEqual(
    got.map((f) => `${f.node}${f.time - t0}`),
    ['a1', 'b2', 'a3', 'a4'],
  );

  // The Node goes: its stream is closed and it leaves the status.
  list.agents = list.agents.filter((x) => x.node !== 'b');
  await until(
    'b dropped',
    () => b.open.size,
    (n) => n === 0,
  );
  assert.deepEqual(
    follower.status().map((s) => s.node),
    ['a', 'c'],
  );
  abort.abort();
  await reading;
  await until(
    'a closed',
    () => a.open.size,
    (n) => n === 0,
  );
});
