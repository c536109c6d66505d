import type { ModelObject } from '../../core/model/types.js';
import { compareText } from '../../core/model/cluster.js';

/**
 * The objects of one kind, kept in buildCluster's order (namespace, then
 * name; by code unit, whatever the locale) as changes arrive. An update of
 * an object in place costs a binary search; an insertion or a removal moves
 * the array's tail, so many of them at once (a relist, a busy chunk of
 * events) are done by one filter and one sort of a mostly sorted array.
 */

export type Ordered = ModelObject & { readonly name: string; readonly namespace?: string };

/** One key's object before and after a batch of changes. */
export interface Replacement {
  readonly before?: Ordered;
  readonly after?: Ordered;
}

export function order(a: Ordered, b: Ordered): number {
  return compareText(a.namespace ?? '', b.namespace ?? '') || compareText(a.name, b.name);
}

/** Insertions and removals beyond which one sort beats moving the tail each time. */
const BULK = 32;

export class SortedObjects {
  private list: Ordered[] = [];

  get items(): readonly Ordered[] {
    return this.list;
  }

  /** Applies one Replacement per key (`before` is the object held now, if any). */
  update(changes: readonly Replacement[]): void {
    const moves = changes.filter((c) => !c.before || !c.after);
    if (moves.length > BULK) return this.bulk(changes);
    for (const { before, after } of changes) {
      const held = before ? this.find(before) : undefined;
      if (held?.found) {
        if (after) this.list[held.index] = after;
        else this.list.splice(held.index, 1);
        continue;
      }
      if (!after) continue;
      const at = this.find(after);
      if (at.found) this.list[at.index] = after;
      else this.list.splice(at.index, 0, after);
    }
  }

  private bulk(changes: readonly Replacement[]): void {
    const gone = new Set<Ordered>();
    for (const c of changes) if (c.before) gone.add(c.before);
    const kept = gone.size > 0 ? this.list.filter((o) => !gone.has(o)) : this.list;
    for (const c of changes) if (c.after) kept.push(c.after);
    this.list = kept.sort(order);
  }

  private find(o: Ordered): { index: number; found: boolean } {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = order(this.list[mid] as Ordered, o);
      if (c === 0) return { index: mid, found: true };
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return { index: lo, found: false };
  }
}
