/**
 * A kernel counter read now and then, summed over its lives: a counter starts
 * again from 0 when its table is replaced (weft's full sync replaces the
 * whole table), so a reading below the last one is a new counter, and all of
 * that reading is new.
 */
export interface CounterTotal {
  /** Counted since the first reading's counter began. */
  readonly total: number;
  /** The last reading. */
  readonly last: number;
}

export const NO_COUNT: CounterTotal = { total: 0, last: 0 };

export function advanceCounter(prev: CounterTotal, reading: number): CounterTotal {
  const added = reading >= prev.last ? reading - prev.last : reading;
  return { total: prev.total + added, last: reading };
}
