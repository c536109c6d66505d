import { MetricsRegistry, type Counter, type Gauge } from '../core/flows/prometheus.js';

/** Why a request was refused before it was served. */
export const REFUSALS = ['client', 'host', 'streams', 'client_streams'] as const;
export type Refusal = (typeof REFUSALS)[number];

/**
 * What the listeners refused and dropped, by listener: counted where it
 * happens, every series present from the start at 0 (a listener registers
 * its name when it starts).
 */
export class ListenerMetrics {
  private readonly refused: Counter;
  private readonly streams: Gauge;
  private readonly dropped: Counter;
  private readonly skipped: Counter;

  constructor(readonly registry: MetricsRegistry = new MetricsRegistry()) {
    const r = registry;
    this.refused = r.counter(
      'weft_listener_refused_total',
      'Requests refused before routing: client = the access rule, host = not a name of this UI, streams = the listener has its maximum of streams, client_streams = the client has its maximum.',
      ['listener', 'reason'],
    );
    this.streams = r.gauge('weft_listener_streams', 'Streaming responses open.', ['listener']);
    this.dropped = r.counter(
      'weft_listener_streams_dropped_total',
      'Streams closed by the agent: stalled = the client did not read for the stall time.',
      ['listener', 'reason'],
    );
    this.skipped = r.counter(
      'weft_listener_stream_items_skipped_total',
      'Flows not sent to a stream because its client was behind (its queue was full).',
      ['listener'],
    );
  }

  /** A listener's series, all at 0. */
  register(listener: string): void {
    for (const reason of REFUSALS) this.refused.inc({ listener, reason }, 0);
    this.streams.inc({ listener }, 0);
    this.dropped.inc({ listener, reason: 'stalled' }, 0);
    this.skipped.inc({ listener }, 0);
  }

  onRefused(listener: string, reason: Refusal): void {
    this.refused.inc({ listener, reason });
  }

  onStream(listener: string, delta: 1 | -1): void {
    this.streams.inc({ listener }, delta);
  }

  onDropped(listener: string): void {
    this.dropped.inc({ listener, reason: 'stalled' });
  }

  onSkipped(listener: string, n: number): void {
    this.skipped.inc({ listener }, n);
  }
}
