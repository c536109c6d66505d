import { ErrorCodes, formatIssue, type Issue } from '../../core/errors.js';
import { buildCluster, validatePodAddresses } from '../../core/model/cluster.js';
import { parseObject } from '../../core/model/parse.js';
import type { Cluster, ModelObject } from '../../core/model/types.js';
import type { Change } from './reflector.js';
import type { ResourceSpec, WatchedKind } from './resources.js';

/**
 * From stored objects to a Cluster, incrementally. Each object is projected
 * and parsed once, when a new resourceVersion of it arrives (the reflector
 * keeps the result, and a relist reuses it when the resourceVersion is
 * unchanged). Parsed objects are kept sorted as buildCluster sorts them, so
 * that assembling a Cluster after one event is a linear pass that parses
 * nothing and sorts nothing out of order.
 */

/** What the store keeps per object: the model object, or why there is none. */
export interface Parsed {
  readonly object?: ModelObject;
  readonly issues: readonly Issue[];
}

/** Projects a raw API object to the fields weft reads, then parses it strictly. */
export function parseApiObject(spec: ResourceSpec, raw: Record<string, unknown>): Parsed {
  const result = parseObject(spec.project(raw));
  if (result.object) return { object: result.object, issues: [] };
  if (result.issues.length > 0) return { issues: result.issues };
  // parseObject skips only kinds it does not read; a watched kind is always read.
  return {
    issues: [
      {
        code: ErrorCodes.UNKNOWN_KIND,
        object: `${spec.kind} ${String(raw['kind'])}`,
        field: 'kind',
        message: `was not read: ${result.skipped ?? 'unknown'}`,
      },
    ],
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type Ordered = ModelObject & { readonly name: string; readonly namespace?: string };

/** buildCluster's order: namespace then name (namespaced kinds), name (the others). */
function order(a: Ordered, b: Ordered): number {
  return compare(a.namespace ?? '', b.namespace ?? '') || compare(a.name, b.name);
}

/** Objects of one kind in order, updated by binary search. */
class Sorted {
  readonly items: Ordered[] = [];

  private find(o: Ordered): { index: number; found: boolean } {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = order(this.items[mid] as Ordered, o);
      if (c === 0) return { index: mid, found: true };
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return { index: lo, found: false };
  }

  remove(o: Ordered): void {
    const at = this.find(o);
    if (at.found) this.items.splice(at.index, 1);
  }

  put(o: Ordered): void {
    const at = this.find(o);
    if (at.found) this.items[at.index] = o;
    else this.items.splice(at.index, 0, o);
  }
}

const KIND_ORDER: readonly WatchedKind[] = [
  'Namespace',
  'Pod',
  'Node',
  'NetworkPolicy',
  'ClusterNetworkPolicy',
];

export class ClusterAssembler {
  private readonly kinds = new Map<WatchedKind, Sorted>(KIND_ORDER.map((k) => [k, new Sorted()]));
  private invalid = 0;
  private lastAddressProblems = '';

  /** Applies a reflector's changes. */
  apply(kind: WatchedKind, changes: readonly Change<Parsed>[]): void {
    const sorted = this.kinds.get(kind) as Sorted;
    for (const c of changes) {
      if (c.old && c.old.issues.length > 0) this.invalid--;
      const next = c.type === 'set' ? c.value : undefined;
      if (next && next.issues.length > 0) this.invalid++;
      // Same key, same place: an update replaces the old object where it stands.
      if (next?.object) sorted.put(next.object as Ordered);
      else if (c.old?.object) sorted.remove(c.old.object as Ordered);
    }
  }

  /** Objects skipped because they are invalid, now. */
  get invalidObjects(): number {
    return this.invalid;
  }

  /**
   * The Cluster of every valid object, and pod address conflicts when they
   * differ from the ones last returned (so each is reported once).
   */
  build(): { cluster: Cluster; newIssues: Issue[] } {
    const objects: ModelObject[] = [];
    for (const k of KIND_ORDER)
      for (const o of (this.kinds.get(k) as Sorted).items) objects.push(o);
    const { cluster, issues } = buildCluster(objects);
    const all = [...issues, ...validatePodAddresses(cluster)];
    const text = all.map(formatIssue).join('\n');
    const changed = text !== this.lastAddressProblems;
    this.lastAddressProblems = text;
    return { cluster, newIssues: changed ? all : [] };
  }
}
