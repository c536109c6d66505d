import type { ConntrackEvent } from './conntrack.js';

/**
 * Counts, one by one, the connection events the kernel could not deliver
 * when the conntrack event socket overflowed (ENOBUFS says only that some
 * were lost, not how many). After an overflow the reader reads the table
 * (`conntrack -L -o id`), and again while anything is in doubt:
 *
 * - a lost start: a connection in the table that was not there when the
 *   reader started (the baseline) and whose NEW has not come by the next
 *   read; or, without a baseline, a DESTROY of a connection that began after
 *   the reader did and whose NEW never came. From then on its end is tracked
 *   like any other.
 * - a lost end: a connection whose start is known, missing from two reads
 *   at least `graceMs` apart (a dump of a table that changes under it can
 *   skip an entry once), and whose DESTROY has not come. If it shows up in a
 *   later read, or its DESTROY comes after all, the count is taken back.
 */
/** How long an end is remembered, so that a table read listing it is not misread. */
const ENDED_KEPT_MS = 30_000;

export class LostEvents {
  /** Connections whose start is known and whose DESTROY has not come, by conntrack id. */
  private readonly open = new Set<number>();
  /** Missing from a read: since when. */
  private readonly endSuspects = new Map<number, number>();
  /** Counted as lost ends; taken back if they show up again. */
  private readonly presumed = new Set<number>();
  /** In the table when the reader started; undefined until read. */
  private baselineIds: Set<number> | undefined;
  /** In a read, not in the baseline, NEW not come: since when. */
  private readonly startSuspects = new Map<number, number>();
  /** DESTROYs read lately: a read taken while they happened may still list them. */
  private readonly ended = new Map<number, number>();
  private starts = 0;
  private ends = 0;

  constructor(
    /** When the reader subscribed (ms). */
    private readonly since: number,
    private readonly graceMs = 2000,
    /** Connections tracked at most; past it the oldest are forgotten. */
    private readonly capacity = 1 << 20,
  ) {}

  /** Starts and ends lost so far. */
  get lost(): { readonly starts: number; readonly ends: number } {
    return { starts: this.starts, ends: this.ends };
  }

  /** Ends remembered to read tables right: those of the last 30 s, however long the reader runs. */
  get rememberedEnds(): number {
    return this.ended.size;
  }

  /** Whether a read would settle anything in doubt. */
  get pending(): number {
    return this.endSuspects.size + this.startSuspects.size;
  }

  /** Every event read, in order. */
  seen(e: ConntrackEvent): void {
    if (e.id === undefined) return;
    if (e.type === 'new') {
      this.startSuspects.delete(e.id);
      this.track(e.id);
    } else if (e.type === 'destroy') this.destroyed(e.id, e);
  }

  private destroyed(id: number, e: ConntrackEvent): void {
    this.ended.set(id, e.time);
    // Kept for ENDED_KEPT_MS only, trimmed as ends come: no table read is needed for that.
    for (const [old, at] of this.ended) {
      if (at > e.time - ENDED_KEPT_MS) break;
      this.ended.delete(old);
    }
    this.endSuspects.delete(id);
    if (this.open.delete(id)) return;
    if (this.presumed.delete(id)) {
      this.ends--;
      return;
    }
    if (this.startSuspects.delete(id)) {
      // Ended before the next read, its NEW still not come.
      this.starts++;
      return;
    }
    if (this.baselineIds) {
      if (!this.baselineIds.delete(id)) this.starts++;
      return;
    }
    // Began after the reader did (a second of slack for delta-time's rounding): its NEW was lost.
    const began = e.deltaTime === undefined ? undefined : e.time - e.deltaTime * 1000;
    if (began !== undefined && began > this.since + 1000) this.starts++;
  }

  /** The conntrack ids in the table when the reader started. */
  baseline(ids: ReadonlySet<number>): void {
    this.baselineIds = new Set([...ids].filter((id) => !this.open.has(id)));
  }

  /** The conntrack ids in the table now. */
  table(ids: ReadonlySet<number>, now: number): void {
    const due = now - this.graceMs;
    for (const id of this.presumed)
      if (ids.has(id)) {
        this.presumed.delete(id);
        this.ends--;
        this.track(id);
      }
    for (const id of this.open) {
      const since = this.endSuspects.get(id);
      if (ids.has(id)) this.endSuspects.delete(id);
      else if (since === undefined) this.endSuspects.set(id, now);
      else if (since <= due) {
        this.endSuspects.delete(id);
        this.open.delete(id);
        this.presumed.add(id);
        this.ends++;
      }
    }
    for (const [id, since] of this.startSuspects)
      if (since <= due) {
        this.startSuspects.delete(id);
        this.starts++;
        this.track(id);
      }
    if (!this.baselineIds) return;
    for (const id of ids)
      if (
        !this.open.has(id) &&
        !this.ended.has(id) &&
        !this.baselineIds.has(id) &&
        !this.startSuspects.has(id)
      )
        this.startSuspects.set(id, now);
  }

  private track(id: number): void {
    this.open.add(id);
    if (this.open.size > this.capacity) {
      const oldest = this.open.values().next().value as number;
      this.open.delete(oldest);
      this.endSuspects.delete(oldest);
    }
    if (this.presumed.size > this.capacity) {
      const oldest = this.presumed.values().next().value as number;
      this.presumed.delete(oldest);
    }
  }
}

/** The conntrack ids of `conntrack -L -o id` output (the id is the line's last `id=`). */
export function tableIds(text: string): Set<number> {
  const ids = new Set<number>();
  for (const line of text.split('\n')) {
    const m = /\bid=(\d+)\s*$/.exec(line);
    if (m) ids.add(Number(m[1]));
  }
  return ids;
}
