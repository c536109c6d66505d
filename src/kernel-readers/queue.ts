/**
 * Tells the producer to stop and go on: `full` when the queue holds three
 * quarters of its capacity, `room` when it is down to a quarter again.
 */
export interface QueueFlow {
  readonly full: () => void;
  readonly room: () => void;
}

/**
 * A bounded queue between a producer that must never block (a reader
 * draining a subprocess) and one async consumer. When the consumer falls
 * behind and the queue is full, new items are discarded and counted: memory
 * stays bounded, and the loss is known. With a QueueFlow the producer is
 * asked to stop reading well before that, so a burst waits upstream (in a
 * pipe, in the kernel's socket buffer) instead of being discarded here.
 */
export class BoundedQueue<T> implements AsyncIterable<T> {
  private readonly slots: (T | undefined)[];
  private head = 0;
  private size = 0;
  private ended = false;
  private failure: Error | undefined;
  private waiter:
    { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | undefined;
  private droppedCount = 0;
  private deliveredCount = 0;
  private highWater = 0;
  private stopped = false;

  constructor(
    readonly capacity: number,
    private readonly flow?: QueueFlow,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<T | undefined>(capacity).fill(undefined);
  }

  /** Queues an item; false (and counted as dropped) when full or ended. */
  push(item: T): boolean {
    if (this.ended) return false;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.deliveredCount++;
      w.resolve({ value: item, done: false });
      return true;
    }
    if (this.size === this.capacity) {
      this.droppedCount++;
      return false;
    }
    this.slots[(this.head + this.size) % this.capacity] = item;
    this.size++;
    if (this.size > this.highWater) this.highWater = this.size;
    if (this.flow && !this.stopped && this.size * 4 >= this.capacity * 3) {
      this.stopped = true;
      this.flow.full();
    }
    return true;
  }

  /** No more items: the consumer gets what is queued, then the end (or `error`). */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (this.waiter && this.size === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      if (error) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
  }

  get length(): number {
    return this.size;
  }

  /** Items discarded because the queue was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Items handed to the consumer. */
  get delivered(): number {
    return this.deliveredCount;
  }

  /** The most items ever held at once. */
  get highWaterMark(): number {
    return this.highWater;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.size > 0) {
      const item = this.slots[this.head] as T;
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.size--;
      this.deliveredCount++;
      if (this.stopped && this.size * 4 <= this.capacity) {
        this.stopped = false;
        this.flow?.room();
      }
      return Promise.resolve({ value: item, done: false });
    }
    if (this.ended) {
      return this.failure
        ? Promise.reject(this.failure)
        : Promise.resolve({ value: undefined, done: true });
    }
    if (this.waiter) return Promise.reject(new Error('BoundedQueue has one consumer at a time'));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return { next: () => this.next() };
  }
}
