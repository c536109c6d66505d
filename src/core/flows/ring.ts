export interface RingEntry<T> {
  /** 1, 2, 3, … in push order, never reused. */
  readonly seq: number;
  readonly item: T;
}

export interface RingSlice<T> {
  /** Oldest first. */
  readonly entries: readonly RingEntry<T>[];
  /** Entries after the asked sequence that were overwritten before being read. */
  readonly missed: number;
  /** The sequence to ask for next (the last one returned, or the one asked if none). */
  readonly next: number;
}

/**
 * A bounded buffer of the most recent items. Each push gets the next
 * sequence number; once full, a push overwrites the oldest item and counts it
 * in `overwritten`. Readers poll with the last sequence they saw and learn
 * how many they missed.
 */
export class Ring<T> {
  private readonly slots: (RingEntry<T> | undefined)[];
  private lastSeq = 0;
  private dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<RingEntry<T> | undefined>(capacity).fill(undefined);
  }

  push(item: T): number {
    const seq = ++this.lastSeq;
    const i = seq % this.capacity;
    if (this.slots[i] !== undefined) this.dropped++;
    this.slots[i] = { seq, item };
    return seq;
  }

  /** How many items it holds. */
  get size(): number {
    return Math.min(this.lastSeq, this.capacity);
  }

  /** The newest sequence number; 0 before the first push. */
  get newest(): number {
    return this.lastSeq;
  }

  /** The oldest sequence number still held; newest + 1 when empty. */
  get oldest(): number {
    return this.lastSeq - this.size + 1;
  }

  /** Items overwritten because the ring was full. */
  get overwritten(): number {
    return this.dropped;
  }

  /** Entries with a sequence greater than `after`, oldest first, at most `limit`. */
  since(after: number, limit = Infinity): RingSlice<T> {
    const from = Math.max(after + 1, this.oldest);
    const missed = Math.max(0, this.oldest - (after + 1));
    const to = Math.min(this.lastSeq, from + Math.max(0, limit) - 1);
    const entries: RingEntry<T>[] = [];
    for (let s = from; s <= to; s++) entries.push(this.slots[s % this.capacity] as RingEntry<T>);
    return { entries, missed, next: entries.length ? to : Math.max(after, from - 1) };
  }

  /** The newest `n` entries, oldest first. */
  last(n: number): RingEntry<T>[] {
    return [...this.since(this.lastSeq - Math.max(0, Math.min(n, this.size))).entries];
  }

  /** Every entry held, oldest first. */
  all(): RingEntry<T>[] {
    return this.last(this.size);
  }
}
