import { agentsQuery, applyAfterJoin, type FlowQuery } from '../core/flows/filter.js';
import { mergeFlows } from '../core/flows/merge.js';
import { joinServices, ServiceJoin } from '../core/flows/service-join.js';
import type { Flow } from '../core/flows/types.js';
import { AgentClient, addressText, type AgentAddress } from './client.js';
import { AgentRoutes, flowParams } from './routes.js';
import { follow } from './stream.js';

/**
 * Reading flows from many agents: the buffered ones of every agent merged by
 * time, or their live streams merged with a short reorder window. Either
 * way the flows of one connection are joined (core/flows/service-join.ts),
 * so the flows of the endpoint's node name the Service the client's node
 * translated the connection through; filters on the Service are applied
 * after the join.
 */

/** Live flows are held this long after they arrive, so those of other agents can slot in before them. */
export const REORDER_WINDOW_MS = 250;

function describe(a: AgentAddress, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `${a.node} (${addressText(a)}): ${msg}`;
}

/** Buffered flows of every agent, merged by time; agents that fail are reported, not fatal. */
export async function listFlows(
  agents: readonly AgentAddress[],
  query: FlowQuery,
): Promise<{ flows: Flow[]; lost: number; errors: string[] }> {
  const errors: string[] = [];
  let lost = 0;
  const asked = flowParams(agentsQuery(query));
  const lists = await Promise.all(
    agents.map(async (a) => {
      try {
        const r = await new AgentClient(a).get(AgentRoutes.flows, { params: asked });
        lost += r.lost;
        return r.flows;
      } catch (e) {
        errors.push(describe(a, e));
        return [];
      }
    }),
  );
  const flows = applyAfterJoin(query, joinServices(mergeFlows(lists)));
  return { flows, lost, errors };
}

/**
 * Flows pushed by any number of readers, let out in time order once each has
 * waited out the reorder window (so a slower agent's flows slot in before).
 */
export class ReorderWindow {
  private readonly held: { flow: Flow; arrived: number }[] = [];
  private wake: (() => void) | undefined;
  private readonly join = new ServiceJoin();

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
          const ready = held.splice(0, cut).map((h) => h.flow);
          for (const f of this.join.release(
            ready,
            held.map((h) => h.flow),
          ))
            yield f;
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
  const asked = agentsQuery(query);
  let open_ = agents.length;
  for (const a of agents)
    void readStream(a, asked, signal, (flow) => window.push(flow))
      .catch((e: unknown) => {
        if (!signal.aborted) onError(describe(a, e));
      })
      .finally(() => {
        open_--;
        window.poke();
      });
  const flows = window.drain(signal, () => open_ === 0);
  return query.afterJoin.length === 0 ? flows : keep(flows, query);
}

/** The flows the filters answered after the join keep. */
async function* keep(flows: AsyncIterable<Flow>, query: FlowQuery): AsyncIterable<Flow> {
  for await (const f of flows) if (query.afterJoin.every((p) => p(f))) yield f;
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
export function readStream(
  a: AgentAddress,
  query: FlowQuery,
  signal: AbortSignal,
  onFlow: (f: Flow) => void,
  onOpen: () => void = () => undefined,
): Promise<void> {
  return follow(a, AgentRoutes.flows, flowParams(query), signal, onFlow, onOpen);
}
