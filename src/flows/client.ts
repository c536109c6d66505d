import { request } from 'node:http';
import type { FlowQuery } from '../core/flows/filter.js';
import { mergeFlows } from '../core/flows/merge.js';
import type { Flow } from '../core/flows/types.js';

/**
 * Reading flows from agents: the buffered ones of every agent merged by
 * time, or their live streams merged with a short reorder window. Talks the
 * agent API (`GET /v1/flows`) over its unix socket or HTTP.
 */

export type AgentAddress =
  | { readonly kind: 'unix'; readonly node: string; readonly socket: string }
  | { readonly kind: 'http'; readonly node: string; readonly url: string };

/** Live flows are held this long after they arrive, so those of other agents can slot in before them. */
export const REORDER_WINDOW_MS = 250;

/** `/v1/flows?flag=value&…` for a query (plus `follow=1`). */
export function flowsPath(query: FlowQuery, follow = false): string {
  const params = new URLSearchParams();
  for (const [flag, value] of query.flags) params.append(flag, value);
  if (follow) params.append('follow', '1');
  const qs = params.toString();
  return `/v1/flows${qs ? `?${qs}` : ''}`;
}

interface Opened {
  readonly status: number;
  readonly body: NodeJS.ReadableStream & { destroy(): void };
}

function open(agent: AgentAddress, path: string, signal?: AbortSignal): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const options =
      agent.kind === 'unix'
        ? { socketPath: agent.socket, path }
        : (() => {
            const u = new URL(path, agent.url);
            return { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}` };
          })();
    const req = request({ ...options, method: 'GET', signal }, (res) =>
      resolve({ status: res.statusCode ?? 0, body: res }),
    );
    req.on('error', reject);
    req.end();
  });
}

async function readAll(body: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  body.setEncoding('utf8');
  for await (const chunk of body) text += chunk as string;
  return text;
}

/** GET a JSON document from an agent; throws with the agent's error message. */
export async function agentJson<T>(
  agent: AgentAddress,
  path: string,
  timeoutMs = 5000,
): Promise<T> {
  const signal = AbortSignal.timeout(timeoutMs);
  const r = await open(agent, path, signal);
  const text = await readAll(r.body);
  if (r.status !== 200) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: the text as it came
    }
    throw new Error(`${path}: HTTP ${r.status}: ${message}`);
  }
  return JSON.parse(text) as T;
}

function where(a: AgentAddress): string {
  return a.kind === 'unix' ? a.socket : a.url;
}

function describe(a: AgentAddress, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `${a.node} (${where(a)}): ${msg}`;
}

/** Buffered flows of every agent, merged by time; agents that fail are reported, not fatal. */
export async function listFlows(
  agents: readonly AgentAddress[],
  query: FlowQuery,
): Promise<{ flows: Flow[]; lost: number; errors: string[] }> {
  const errors: string[] = [];
  let lost = 0;
  const lists = await Promise.all(
    agents.map(async (a) => {
      try {
        const r = await agentJson<{ flows: Flow[]; lost: number }>(a, flowsPath(query));
        lost += r.lost;
        return r.flows;
      } catch (e) {
        errors.push(describe(a, e));
        return [];
      }
    }),
  );
  const merged = mergeFlows(lists);
  const flows =
    query.last !== undefined && merged.length > query.last
      ? merged.slice(merged.length - query.last)
      : merged;
  return { flows, lost, errors };
}

/**
 * Flows pushed by any number of readers, let out in time order once each has
 * waited out the reorder window (so a slower agent's flows slot in before).
 */
export class ReorderWindow {
  private readonly held: { flow: Flow; arrived: number }[] = [];
  private wake: (() => void) | undefined;

  push(flow: Flow): void {
    this.held.push({ flow, arrived: Date.now() });
    this.poke();
  }

  /** Wakes the drain to look again (a reader ended, or the caller aborted). */
  poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /**
   * The flows in order, until `signal` aborts, or `ended()` holds (no reader
   * left): then what is still held comes out at once and the iteration ends.
   */
  async *drain(signal: AbortSignal, ended: () => boolean): AsyncIterable<Flow> {
    const held = this.held;
    const onAbort = () => this.poke();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const now = Date.now();
        const done = ended();
        const ripe = done
          ? held.length
          : held.filter((h) => h.arrived <= now - REORDER_WINDOW_MS).length;
        if (ripe > 0) {
          held.sort((x, y) => x.flow.time - y.flow.time);
          // Everything that arrived within the window is ordered with the ripe ones.
          const cut = done ? held.length : releasable(held, now);
          for (const h of held.splice(0, cut)) yield h.flow;
          continue;
        }
        if (done) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, held.length ? REORDER_WINDOW_MS / 5 : 1000).unref();
        });
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * Live flows of every agent, merged by time (small reorder window), until
 * signal aborts. An agent whose stream fails is reported to `onError` and
 * the others go on; the iteration ends when every stream has ended.
 */
export function followFlows(
  agents: readonly AgentAddress[],
  query: FlowQuery,
  signal: AbortSignal,
  onError: (message: string) => void = () => undefined,
): AsyncIterable<Flow> {
  const window = new ReorderWindow();
  let open_ = agents.length;
  for (const a of agents)
    void readStream(a, query, signal, (flow) => window.push(flow))
      .catch((e: unknown) => {
        if (!signal.aborted) onError(describe(a, e));
      })
      .finally(() => {
        open_--;
        window.poke();
      });
  return window.drain(signal, () => open_ === 0);
}

/** In a time-sorted list: the prefix up to the last flow that has waited out the window. */
function releasable(held: readonly { flow: Flow; arrived: number }[], now: number): number {
  let cut = 0;
  held.forEach((h, i) => {
    if (h.arrived <= now - REORDER_WINDOW_MS) cut = i + 1;
  });
  return cut;
}

/** Follows one agent's live flows (its buffer first) until the stream ends or signal aborts. */
export async function readStream(
  a: AgentAddress,
  query: FlowQuery,
  signal: AbortSignal,
  onFlow: (f: Flow) => void,
  onOpen: () => void = () => undefined,
): Promise<void> {
  const r = await open(a, flowsPath(query, true), signal);
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await readAll(r.body)}`);
  onOpen();
  let partial = '';
  r.body.setEncoding('utf8');
  try {
    for await (const chunk of r.body) {
      const lines = (partial + (chunk as string)).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onFlow(JSON.parse(line) as Flow);
    }
  } catch (e) {
    if (signal.aborted) return;
    throw e;
  }
}
