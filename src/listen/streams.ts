import type { ServerResponse } from 'node:http';
import { clientAddress } from '../core/listen/access.js';
import { formatIp } from '../core/net/ip.js';
import type { ListenerMetrics } from './metrics.js';

/**
 * Bounds of the streaming responses of one listener (the UI's
 * `/api/stream`, the agent's `/v1/flows?follow=1`).
 */
export interface StreamLimits {
  /** Streams open at once on the listener; more are answered 503. */
  readonly maxStreams: number;
  /** Streams open at once from one client address; more are answered 429. */
  readonly maxPerClient: number;
  /** Items (references to flows already held) a stream queues while its client is behind; more are skipped and counted. */
  readonly maxQueued: number;
  /** A client that reads nothing for this long, while its stream has something to send, is dropped and counted. */
  readonly stallMs: number;
}

export const STREAM_LIMITS: StreamLimits = {
  maxStreams: 64,
  maxPerClient: 8,
  maxQueued: 20_000,
  stallMs: 10_000,
};

export type Admission =
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly status: 429 | 503; readonly message: string };

/** Who may open a stream on one listener, by count: in total and per client address. */
export class StreamGate {
  private total = 0;
  private readonly perClient = new Map<string, number>();

  constructor(
    readonly listener: string,
    readonly limits: StreamLimits,
    readonly metrics: ListenerMetrics,
  ) {}

  admit(remote: string | undefined): Admission {
    const ip = clientAddress(remote ?? '');
    const key = ip ? formatIp(ip) : 'local';
    const mine = this.perClient.get(key) ?? 0;
    const { maxStreams, maxPerClient } = this.limits;
    if (this.total >= maxStreams) {
      this.metrics.onRefused(this.listener, 'streams');
      return {
        ok: false,
        status: 503,
        message: `the ${this.listener} listener has its maximum of ${maxStreams} streams open (retry later, or close a page or a weft observe --follow)`,
      };
    }
    if (mine >= maxPerClient) {
      this.metrics.onRefused(this.listener, 'client_streams');
      return {
        ok: false,
        status: 429,
        message: `${key} has its maximum of ${maxPerClient} streams open on the ${this.listener} listener (close one first)`,
      };
    }
    this.total++;
    this.perClient.set(key, mine + 1);
    this.metrics.onStream(this.listener, 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.perClient.get(key) ?? 1) - 1;
        if (left > 0) this.perClient.set(key, left);
        else this.perClient.delete(key);
        this.metrics.onStream(this.listener, -1);
      },
    };
  }

  get open(): number {
    return this.total;
  }
}

/**
 * One streaming response that honours backpressure: items wait in a bounded
 * queue (references, not text) and are serialized one at a time while the
 * socket takes them; when `write()` returns false (Node's high-water mark,
 * 16 KiB above the kernel's socket buffer) the pump waits for 'drain', so a
 * stream holds at most that and one item in text. Items beyond the queue's bound are skipped and counted; a client
 * that does not drain within the stall time is dropped and counted.
 */
export class StreamPump<T> {
  private readonly queue: T[] = [];
  private head = 0;
  private waiting = false;
  private stall: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly serialize: (item: T) => string,
    private readonly gate: StreamGate,
  ) {
    res.on('drain', () => this.onDrain());
    res.on('close', () => this.close());
  }

  push(item: T): void {
    if (this.closed) return;
    if (this.queue.length - this.head >= this.gate.limits.maxQueued) {
      this.gate.metrics.onSkipped(this.gate.listener, 1);
      return;
    }
    this.queue.push(item);
    this.pump();
  }

  /** A comment or keep-alive line: sent only when the client is keeping up. */
  raw(text: string): void {
    if (this.closed || this.waiting || this.queue.length > this.head) return;
    if (!this.res.write(text)) this.wait();
  }

  private pump(): void {
    while (!this.closed && !this.waiting && this.head < this.queue.length) {
      const item = this.queue[this.head++] as T;
      if (!this.res.write(this.serialize(item))) this.wait();
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private wait(): void {
    this.waiting = true;
    this.stall = setTimeout(() => {
      this.gate.metrics.onDropped(this.gate.listener);
      this.res.destroy();
      this.close();
    }, this.gate.limits.stallMs);
    this.stall.unref();
  }

  private onDrain(): void {
    clearTimeout(this.stall);
    this.waiting = false;
    this.pump();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.stall);
    this.queue.length = 0;
    this.head = 0;
  }
}
