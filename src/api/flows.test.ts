// Reading many agents' flows: two agents on temporary unix sockets, each
// with its side of one connection through a Service. Merged, both sides
// name the Service; a --service filter is applied after the join, never
// asked of an agent.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlowQuery } from '../core/flows/filter.js';
import type { Flow } from '../core/flows/types.js';
import { db, dbService, flow, loadgen, web } from '../testing/flows.js';
import type { AgentAddress } from './client.js';
import { followFlows, listFlows } from './flows.js';

/**
 * An agent on a unix socket answering /v1/flows with `flows`: listed, or
 * streamed `delayMs` after the request, the stream ending at 600 ms;
 * `asked` gets each query.
 */
async function agent(
  t: TestContext,
  node: string,
  flows: readonly Flow[],
  asked: string[],
  delayMs = 0,
): Promise<AgentAddress> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://agent');
    asked.push(`${node} ${url.search}`);
    if (url.searchParams.get('follow') === '1') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      setTimeout(() => res.write(flows.map((f) => `${JSON.stringify(f)}\n`).join('')), delayMs);
      setTimeout(() => res.end(), 600);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ flows, node, lost: 0 }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'weft-flows-'));
  const socket = join(dir, 'agent.sock');
  server.listen(socket);
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
    rmSync(dir, { recursive: true, force: true });
  });
  return { kind: 'unix', node, socket };
}

// node-1 translated web's connection to the Service; node-2 saw it arrive at db.
const out = flow(1000, web, db, 'start', { service: dbService });
// node-2's clock is a millisecond behind node-1's.
const into = flow(999, web, db, 'start', { node: 'node-2', direction: 'ingress' });
const direct = flow(1500, loadgen, db, 'start', { node: 'node-2', direction: 'ingress' });

test('listFlows: joined across agents; --service filtered after the join, with --last', async (t) => {
  const asked: string[] = [];
  const agents = [
    await agent(t, 'node-1', [out], asked),
    await agent(t, 'node-2', [into, direct], asked),
  ];
  const all = await listFlows(agents, parseFlowQuery([], 0));
  assert.deepEqual(all.flows, [{ ...into, service: dbService }, out, direct]);
  asked.length = 0;
  const query = parseFlowQuery(
    [
      ['service', 'shop/db-svc'],
      ['to-pod', 'shop/db'],
      ['last', '1'],
    ],
    0,
  );
  const r = await listFlows(agents, query);
  assert.deepEqual(r.flows, [out]);
  assert.deepEqual(asked.sort(), ['node-1 ?to-pod=shop%2Fdb', 'node-2 ?to-pod=shop%2Fdb']);
});

test('followFlows: the side released first is named from the side still held back', async (t) => {
  const asked: string[] = [];
  // node-1's flow comes 100 ms after node-2's: node-2's is ripe (250 ms) while node-1's waits.
  const agents = [
    await agent(t, 'node-1', [out], asked, 100),
    await agent(t, 'node-2', [into], asked),
  ];
  const got: Flow[] = [];
  const abort = new AbortController();
  t.after(() => abort.abort());
  const query = parseFlowQuery([['service', 'shop/db-svc']], 0);
  for await (const f of followFlows(agents, query, abort.signal)) got.push(f);
  assert.deepEqual(got, [{ ...into, service: dbService }, out]);
  assert.deepEqual(asked.sort(), ['node-1 ?follow=1', 'node-2 ?follow=1']);
});
