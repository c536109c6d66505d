import type { Flow } from '../core/flows/types.js';

/** Live flows from the agents, as an async iterable that ends or throws when the stream breaks. */
export type FlowStream = (signal: AbortSignal) => AsyncIterable<Flow>;

/** A flow as the UI keeps it: numbered in order of arrival. */
export interface Entry {
  readonly id: number;
  readonly flow: Flow;
}

export interface FeedStatus {
  readonly connected: boolean;
  readonly received: number;
  readonly buffered: number;
  /** The last error of the stream, if it broke; the feed reconnects after RETRY_MS. */
  readonly error?: string;
}

export const RETRY_MS = 1000;

/**
 * The UI server's copy of the agents' flows: one follow stream, a bounded
 * buffer (oldest dropped first) and listeners for the pages' live streams.
 * When the stream breaks it reconnects, skipping flows at or before the last
 * one it had (the agents send their buffer again on reconnect).
 */
export class FlowFeed {
  private readonly buffer: Entry[] = [];
  private readonly listeners = new Set<(e: Entry) => void>();
  private nextId = 1;
  private connected = false;
  private error: string | undefined;
  private readonly abort = new AbortController();
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly stream: FlowStream,
    private readonly capacity = 20_000,
  ) {}

  start(): void {
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let after: number | undefined;
    while (!signal.aborted) {
      try {
        this.connected = true;
        for await (const flow of this.stream(signal)) {
          this.error = undefined;
          if (after !== undefined && flow.time <= after) continue;
          this.push(flow);
        }
        if (!signal.aborted) this.error = 'the flow stream ended';
      } catch (e) {
        if (!signal.aborted) this.error = e instanceof Error ? e.message : String(e);
      }
      this.connected = false;
      after = this.buffer.at(-1)?.flow.time ?? after;
      if (signal.aborted) break;
      await new Promise<void>((r) => {
        const t = setTimeout(r, RETRY_MS);
        signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
      });
    }
  }

  private push(flow: Flow): void {
    const e = { id: this.nextId++, flow };
    this.buffer.push(e);
    if (this.buffer.length > this.capacity)
      this.buffer.splice(0, this.buffer.length - this.capacity);
    for (const l of this.listeners) l(e);
  }

  entries(): readonly Entry[] {
    return this.buffer;
  }

  /** Calls `fn` for every flow that arrives from now on; returns the unsubscribe. */
  subscribe(fn: (e: Entry) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  status(): FeedStatus {
    return {
      connected: this.connected,
      received: this.nextId - 1,
      buffered: this.buffer.length,
      ...(this.error ? { error: this.error } : {}),
    };
  }
}
