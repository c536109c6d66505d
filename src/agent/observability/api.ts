import type { IncomingMessage, ServerResponse } from 'node:http';
import { AgentRoutes } from '../../api/routes.js';
import type { FlowsAnswer } from '../../api/types.js';
import { WeftError, formatIssue } from '../../core/errors.js';
import {
  applyFlowQuery,
  matchesFlow,
  parseFlowQuery,
  type FlowQuery,
} from '../../core/flows/filter.js';
import type { Flow } from '../../core/flows/types.js';
import { StreamPump, type StreamGate } from '../../listen/streams.js';
import type { FlowPipeline } from './pipeline.js';

/**
 * `GET /v1/flows?<filters>`: the buffered flows that match, oldest first, as
 * `{flows, node, lost}`. With `follow=1`: NDJSON, one flow a line — first the
 * buffered ones that match, then live ones — until the client goes away.
 * Filters are the `weft observe` flags without dashes, repeatable.
 */

export function queryOf(url: URL, now: number): { query: FlowQuery; follow: boolean } {
  const flags: [string, string][] = [];
  let follow = false;
  for (const [k, v] of url.searchParams) {
    if (k === AgentRoutes.flows.stream.param) follow = v === '' || v === '1' || v === 'true';
    else flags.push([k, v]);
  }
  return { query: parseFlowQuery(flags, now), follow };
}

/** The buffered flows that match, in time order. */
export function listFlows(p: FlowPipeline, q: FlowQuery): Flow[] {
  const all = p.ring.all().map((e) => e.item);
  // Two readers stamp their own times: order by time (stable) for merging.
  all.sort((a, b) => a.time - b.time);
  return applyFlowQuery(q, all);
}

export function flowsHandler(p: FlowPipeline, node: string) {
  return (req: IncomingMessage, res: ServerResponse, streams: StreamGate): void => {
    const url = new URL(req.url ?? '/', 'http://agent');
    let parsed: ReturnType<typeof queryOf>;
    try {
      parsed = queryOf(url, Date.now());
    } catch (e) {
      if (!(e instanceof WeftError)) throw e;
      const text = JSON.stringify({ error: e.issues.map(formatIssue).join('; ') });
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(text);
      return;
    }
    const { query, follow } = parsed;
    if (!follow) {
      const answer: FlowsAnswer = { flows: listFlows(p, query), node, lost: p.stats().lost };
      const text = JSON.stringify(answer);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    const admitted = streams.admit(req.socket.remoteAddress);
    if (!admitted.ok) {
      res.writeHead(admitted.status, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ error: admitted.message }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    // A client that is behind gets its flows as the socket takes them (see StreamPump).
    const pump = new StreamPump<Flow>(res, (f) => `${JSON.stringify(f)}\n`, streams);
    // The buffer first, then live flows newer than it, in one queue.
    const newest = p.ring.newest;
    for (const f of listFlows(p, query)) pump.push(f);
    const unsubscribe = p.subscribe((f, seq) => {
      if (seq > newest && matchesFlow(query, f)) pump.push(f);
    });
    const offStop = p.onStop(() => res.end());
    const done = () => {
      admitted.release();
      unsubscribe();
      offStop();
    };
    req.on('close', done);
    res.on('close', done);
  };
}
