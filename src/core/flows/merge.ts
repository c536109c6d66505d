import type { Flow } from './types.js';

/**
 * Merging the flow streams of several agents into one, ordered by time.
 * Each stream must already be in time order (an agent's ring is); ties keep
 * the order of the streams as given, so the merge is deterministic.
 */

interface Head<T> {
  readonly stream: number;
  readonly index: number;
  readonly item: T;
  readonly key: number;
}

/** A binary min-heap by (key, stream, index). */
class Heap<T> {
  private readonly a: Head<T>[] = [];

  get length(): number {
    return this.a.length;
  }

  private less(x: Head<T>, y: Head<T>): boolean {
    if (x.key !== y.key) return x.key < y.key;
    if (x.stream !== y.stream) return x.stream < y.stream;
    return x.index < y.index;
  }

  push(h: Head<T>): void {
    const a = this.a;
    a.push(h);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(a[i] as Head<T>, a[parent] as Head<T>)) break;
      [a[i], a[parent]] = [a[parent] as Head<T>, a[i] as Head<T>];
      i = parent;
    }
  }

  peek(): Head<T> | undefined {
    return this.a[0];
  }

  pop(): Head<T> | undefined {
    const a = this.a;
    const top = a[0];
    const end = a.pop();
    if (a.length > 0 && end !== undefined) {
      a[0] = end;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l] as Head<T>, a[m] as Head<T>)) m = l;
        if (r < a.length && this.less(a[r] as Head<T>, a[m] as Head<T>)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as Head<T>, a[i] as Head<T>];
        i = m;
      }
    }
    return top;
  }
}

/** Merges sorted lists by `key` (k-way, O(n log k)). Throws if a list is out of order. */
export function mergeSortedBy<T>(lists: readonly (readonly T[])[], key: (t: T) => number): T[] {
  const heap = new Heap<T>();
  lists.forEach((list, stream) => {
    const first = list[0];
    if (first !== undefined) heap.push({ stream, index: 0, item: first, key: key(first) });
  });
  const out: T[] = [];
  for (let h = heap.pop(); h !== undefined; h = heap.pop()) {
    out.push(h.item);
    const list = lists[h.stream] as readonly T[];
    const next = list[h.index + 1];
    if (next === undefined) continue;
    const k = key(next);
    if (k < h.key)
      throw new RangeError(`stream ${h.stream} is not in time order at index ${h.index + 1}`);
    heap.push({ stream: h.stream, index: h.index + 1, item: next, key: k });
  }
  return out;
}

/** Merges the already time-ordered flow lists of several agents by time. */
export function mergeFlows(lists: readonly (readonly Flow[])[]): Flow[] {
  return mergeSortedBy(lists, (f) => f.time);
}

/**
 * A live merge of followed streams (`observe --follow` over many agents).
 * An item is released once every open stream has shown it cannot send an
 * earlier one: by sending a later item, by `advance` (an agent's "nothing
 * before time T" heartbeat) or by closing. `flush` releases everything held,
 * in order, when waiting longer is not worth it (a stream is silent).
 */
export class LiveMerge<T> {
  private readonly heap = new Heap<T>();
  private readonly watermark = new Map<string, number>();
  private readonly order = new Map<string, number>();
  private counter = 0;

  constructor(
    streams: readonly string[],
    private readonly key: (t: T) => number,
  ) {
    streams.forEach((s, i) => {
      this.watermark.set(s, -Infinity);
      this.order.set(s, i);
    });
  }

  /** Adds items of `stream`, in time order; returns what can be released now. */
  push(stream: string, items: readonly T[]): T[] {
    const order = this.streamIndex(stream);
    let mark = this.watermark.get(stream) as number;
    for (const item of items) {
      const k = this.key(item);
      if (k < mark) throw new RangeError(`stream ${stream} went back in time (${k} < ${mark})`);
      mark = k;
      this.heap.push({ stream: order, index: this.counter++, item, key: k });
    }
    this.watermark.set(stream, mark);
    return this.release();
  }

  /** `stream` promises no item before `time`. */
  advance(stream: string, time: number): T[] {
    this.streamIndex(stream);
    this.watermark.set(stream, Math.max(this.watermark.get(stream) as number, time));
    return this.release();
  }

  /** `stream` has ended: it no longer holds the others back. */
  close(stream: string): T[] {
    this.streamIndex(stream);
    this.watermark.delete(stream);
    return this.release();
  }

  /** Everything held, in order. */
  flush(): T[] {
    const out: T[] = [];
    for (let h = this.heap.pop(); h !== undefined; h = this.heap.pop()) out.push(h.item);
    return out;
  }

  /** Items waiting for a slower stream. */
  get pending(): number {
    return this.heap.length;
  }

  private streamIndex(stream: string): number {
    const i = this.order.get(stream);
    if (i === undefined) throw new RangeError(`unknown stream ${stream}`);
    if (!this.watermark.has(stream)) throw new RangeError(`stream ${stream} is closed`);
    return i;
  }

  private release(): T[] {
    let low = Infinity;
    for (const m of this.watermark.values()) low = Math.min(low, m);
    const out: T[] = [];
    for (let h = this.heap.peek(); h !== undefined && h.key <= low; h = this.heap.peek()) {
      out.push(h.item);
      this.heap.pop();
    }
    return out;
  }
}
