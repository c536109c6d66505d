/**
 * What packets wrote into dynamic sets (`update @set { ip saddr }`): the
 * keys, each with the time it expires. The tracer reads and writes it as
 * the kernel's sets would change; the fake keeps one across traces and
 * forgets a set's keys when the set (or its table) is deleted, as the
 * kernel does. Times are the packets' own (Packet.time, in seconds).
 */
import type { Field } from './packet.js';

export interface SetMemory {
  /** Whether `key` was added to the set and has not expired at `time`. */
  has(table: string, set: string, key: readonly Field[], time: number): boolean;
  /** Adds `key`, or renews it, until `expires` (undefined: it never does). */
  update(table: string, set: string, key: readonly Field[], expires: number | undefined): void;
}

const keyText = (key: readonly Field[]) => key.map((f) => `${f}`).join(' . ');

export class DynamicSets implements SetMemory {
  /** `table set` → key text → its expiry. */
  private readonly sets = new Map<string, Map<string, number | undefined>>();

  has(table: string, set: string, key: readonly Field[], time: number): boolean {
    const found = this.sets.get(`${table} ${set}`);
    const text = keyText(key);
    if (!found?.has(text)) return false;
    const expires = found.get(text);
    return expires === undefined || time < expires;
  }

  update(table: string, set: string, key: readonly Field[], expires: number | undefined): void {
    const name = `${table} ${set}`;
    let found = this.sets.get(name);
    if (!found) this.sets.set(name, (found = new Map()));
    found.set(keyText(key), expires);
  }

  /** Forgets the keys of one set, or of every set of a table. */
  forget(table: string, set?: string): void {
    for (const name of [...this.sets.keys()])
      if (set === undefined ? name.startsWith(`${table} `) : name === `${table} ${set}`)
        this.sets.delete(name);
  }

  /** The keys of a set still current at `time`, as text (`10.0.0.1`, numbers as they are read). */
  keys(table: string, set: string, time: number): string[] {
    const found = this.sets.get(`${table} ${set}`) ?? new Map<string, number | undefined>();
    return [...found]
      .filter(([, expires]) => expires === undefined || time < expires)
      .map(([text]) => text);
  }
}
