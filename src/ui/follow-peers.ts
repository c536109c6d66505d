import type { FlowQuery } from '../core/flows/filter.js';
import type { Flow } from '../core/flows/types.js';
import { addressText, type AgentAddress } from '../api/client.js';
import { ReorderWindow, readStream } from '../api/flows.js';
import type { SourceStatus } from './feed.js';
import type { PeerProblem } from './peers.js';

export const PEER_RETRY_MS = 1000;
/** How often the agent list is read again (Nodes come and go). */
export const PEER_RESCAN_MS = 1000;

interface Reader {
  readonly agent: AgentAddress;
  readonly abort: AbortController;
  connected: boolean;
  flows: number;
  error: string | undefined;
}

/**
 * Live flows of a changing set of agents (an agent's UI: itself and the peers
 * its Nodes name), merged by time. Unlike `followFlows`, it does not end when
 * an agent's stream does: each agent is read again after PEER_RETRY_MS
 * (skipping what it sent before), agents that appear are added and those that
 * go are dropped, until the signal aborts.
 */
export class PeerFollower {
  private readonly readers = new Map<string, Reader>();
  private problems: readonly PeerProblem[] = [];

  constructor(
    private readonly agents: () => {
      agents: readonly AgentAddress[];
      problems: readonly PeerProblem[];
    },
    private readonly query: FlowQuery,
  ) {}

  /** The merged stream; one at a time (a FlowFeed's). */
  follow(signal: AbortSignal): AsyncIterable<Flow> {
    const window = new ReorderWindow();
    const rescan = () => this.rescan(signal, window);
    rescan();
    const timer = setInterval(rescan, PEER_RESCAN_MS);
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(timer);
        for (const r of this.readers.values()) r.abort.abort();
        this.readers.clear();
      },
      { once: true },
    );
    return window.drain(signal, () => false);
  }

  status(): SourceStatus[] {
    return [
      ...[...this.readers.values()].map((r) => ({
        node: r.agent.node,
        address: addressText(r.agent),
        connected: r.connected,
        flows: r.flows,
        ...(r.error !== undefined ? { error: r.error } : {}),
      })),
      ...this.problems.map((p) => ({
        node: p.node,
        address: '',
        connected: false,
        flows: 0,
        error: p.message,
      })),
    ];
  }

  private rescan(signal: AbortSignal, window: ReorderWindow): void {
    if (signal.aborted) return;
    const { agents, problems } = this.agents();
    this.problems = problems;
    const wanted = new Map(agents.map((a) => [`${a.node} ${addressText(a)}`, a]));
    for (const [key, r] of this.readers)
      if (!wanted.has(key)) {
        r.abort.abort();
        this.readers.delete(key);
      }
    for (const [key, agent] of wanted) {
      if (this.readers.has(key)) continue;
      const r: Reader = {
        agent,
        abort: new AbortController(),
        connected: false,
        flows: 0,
        error: undefined,
      };
      this.readers.set(key, r);
      void this.read(r, window);
    }
  }

  /** One agent, read again after every break until it is dropped. */
  private async read(r: Reader, window: ReorderWindow): Promise<void> {
    const signal = r.abort.signal;
    // The agent sends its buffer again on every connect: skip what came before.
    let seen = -Infinity;
    while (!signal.aborted) {
      const before = seen;
      try {
        const onFlow = (flow: Flow) => {
          if (flow.time <= before) return;
          seen = Math.max(seen, flow.time);
          r.flows++;
          window.push(flow);
        };
        await readStream(r.agent, this.query, signal, onFlow, () => {
          r.connected = true;
          r.error = undefined;
        });
        r.error = 'its flow stream ended';
      } catch (e) {
        r.error = e instanceof Error ? e.message : String(e);
      }
      r.connected = false;
      if (signal.aborted) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, PEER_RETRY_MS);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }
}
