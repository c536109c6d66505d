import type { Flow } from '../core/flows/types.js';

/** Live flows from the agents, as an async iterable that ends or throws when the stream breaks. */
export type FlowStream = (signal: AbortSignal) => AsyncIterable<Flow>;

export type { Entry, FeedStatus, SourceStatus } from '../ui-shared/feed-types.js';
import type { Entry, FeedStatus, SourceStatus } from '../ui-shared/feed-types.js';

export const RETRY_MS = 1000;

export interface FeedOptions {
  /** Flows kept (oldest dropped first). */
  readonly capacity?: number;
  /**
   * Follow only while used: the stream is opened at the first `touch()` and
   * closed once nothing touched the feed, and no page streamed from it, for
   * this long. Without it the feed follows from `start()` on.
   */
  readonly idleMs?: number;
  /** Per-agent status for `status()`. */
  readonly sources?: () => readonly SourceStatus[];
}

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
  private readonly capacity: number;
  private started = false;
  /** Set while the stream is followed; aborting it idles the feed. */
  private pass: AbortController | undefined;
  private lastUse = 0;
  private idleTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly stream: FlowStream,
    private readonly options: FeedOptions = {},
  ) {
    this.capacity = options.capacity ?? 20_000;
  }

  start(): void {
    this.started = true;
    const { idleMs } = this.options;
    if (idleMs === undefined) return this.follow();
    this.idleTimer = setInterval(
      () => {
        if (this.pass && this.listeners.size === 0 && Date.now() - this.lastUse > idleMs)
          this.pass.abort();
      },
      Math.max(10, idleMs / 4),
    );
    (this.idleTimer as { unref?: () => void }).unref?.();
  }

  /** A page used the feed: follow the stream if it idles. */
  touch(): void {
    this.lastUse = Date.now();
    if (this.started && !this.pass && !this.abort.signal.aborted) this.follow();
  }

  async stop(): Promise<void> {
    clearInterval(this.idleTimer);
    this.abort.abort();
    this.pass?.abort();
    await this.done;
  }

  private follow(): void {
    const pass = new AbortController();
    this.pass = pass;
    const previous = this.done;
    this.done = previous
      .then(() => this.run(pass.signal))
      .finally(() => {
        if (this.pass === pass) this.pass = undefined;
      });
  }

  private async run(signal: AbortSignal): Promise<void> {
    let after = this.buffer.at(-1)?.flow.time;
    while (!signal.aborted && !this.abort.signal.aborted) {
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
    const sources = this.options.sources?.();
    return {
      connected: this.connected,
      ...(this.options.idleMs !== undefined && !this.pass ? { idle: true } : {}),
      received: this.nextId - 1,
      buffered: this.buffer.length,
      ...(this.error ? { error: this.error } : {}),
      ...(sources ? { sources } : {}),
    };
  }
}
