/**
 * The storage behind the fake API server, with etcd's semantics as the API
 * server exposes them: one resourceVersion counter for every resource (a
 * write anywhere advances it), every version of every object kept until a
 * compaction, consistent snapshots at any resourceVersion not compacted, and
 * an ordered log of events for watches to replay.
 */

export interface FakeResourceDef {
  readonly name: string;
  readonly path: string;
  readonly kind: string;
  readonly listKind: string;
  readonly apiVersion: string;
  readonly namespaced: boolean;
}

export const FAKE_RESOURCES: Readonly<Record<string, FakeResourceDef>> = {
  namespaces: def('namespaces', '/api/v1/namespaces', 'Namespace', 'v1', false),
  pods: def('pods', '/api/v1/pods', 'Pod', 'v1', true),
  nodes: def('nodes', '/api/v1/nodes', 'Node', 'v1', false),
  networkpolicies: def(
    'networkpolicies',
    '/apis/networking.k8s.io/v1/networkpolicies',
    'NetworkPolicy',
    'networking.k8s.io/v1',
    true,
  ),
  clusternetworkpolicies: def(
    'clusternetworkpolicies',
    '/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies',
    'ClusterNetworkPolicy',
    'policy.networking.k8s.io/v1alpha2',
    false,
  ),
  services: def('services', '/api/v1/services', 'Service', 'v1', true),
  endpointslices: def(
    'endpointslices',
    '/apis/discovery.k8s.io/v1/endpointslices',
    'EndpointSlice',
    'discovery.k8s.io/v1',
    true,
  ),
};

function def(
  name: string,
  path: string,
  kind: string,
  apiVersion: string,
  namespaced: boolean,
): FakeResourceDef {
  return { name, path, kind, listKind: `${kind}List`, apiVersion, namespaced };
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change, as a watch sends it; `json` is the object without apiVersion and kind. */
export interface LogEvent {
  readonly rv: number;
  readonly resource: string;
  readonly type: EventType;
  readonly key: string;
  readonly json: string;
}

interface Version {
  readonly rv: number;
  /** The object's JSON (no apiVersion/kind), or null for a deletion. */
  readonly json: string | null;
}

type Raw = Record<string, unknown>;

export class FakeStore {
  /** The latest resourceVersion handed out. */
  rv = 1;
  /** Nothing at or below this resourceVersion can be listed or watched from. */
  compactedRv = 0;
  private readonly keys = new Map<string, string[]>();
  private readonly versions = new Map<string, Map<string, Version[]>>();
  private log: LogEvent[] = [];
  private readonly listeners = new Set<(e: LogEvent) => void>();
  private readonly unsorted = new Set<string>();

  constructor() {
    for (const name of Object.keys(FAKE_RESOURCES)) {
      this.keys.set(name, []);
      this.versions.set(name, new Map());
    }
  }

  keyOf(resource: string, obj: Raw): string {
    const meta = (obj['metadata'] ?? {}) as Raw;
    const name = meta['name'];
    const ns = meta['namespace'];
    if (typeof name !== 'string' || name === '')
      throw new Error(`${resource}: metadata.name is required`);
    if (!FAKE_RESOURCES[resource]?.namespaced) return name;
    if (typeof ns !== 'string' || ns === '')
      throw new Error(`${resource}: metadata.namespace is required`);
    return `${ns}/${name}`;
  }

  /** The live object at `key` now (JSON), or undefined. */
  current(resource: string, key: string): string | undefined {
    const vs = this.versions.get(resource)?.get(key);
    return vs?.[vs.length - 1]?.json ?? undefined;
  }

  /** Creates, replaces or deletes (`obj` null) one object; returns its new resourceVersion. */
  write(resource: string, key: string, obj: Raw | null): number {
    const vs = this.versions.get(resource);
    if (!vs) throw new Error(`unknown resource ${resource}`);
    const before = this.current(resource, key);
    if (obj === null && before === undefined) throw new Error(`${resource} ${key}: not found`);
    const rv = ++this.rv;
    let json: string;
    if (obj === null) {
      const last = JSON.parse(before as string) as Raw;
      (last['metadata'] as Raw)['resourceVersion'] = String(rv);
      json = JSON.stringify(last);
    } else {
      const rest = { ...obj };
      delete rest['apiVersion'];
      delete rest['kind'];
      const metadata = { ...((rest['metadata'] ?? {}) as Raw), resourceVersion: String(rv) };
      json = JSON.stringify({ ...rest, metadata });
    }
    let list = vs.get(key);
    if (!list) {
      list = [];
      vs.set(key, list);
      // Kept sorted lazily: a bulk load appends, the next read sorts once.
      (this.keys.get(resource) as string[]).push(key);
      this.unsorted.add(resource);
    }
    list.push({ rv, json: obj === null ? null : json });
    const type: EventType = obj === null ? 'DELETED' : before === undefined ? 'ADDED' : 'MODIFIED';
    const event = { rv, resource, type, key, json };
    this.log.push(event);
    for (const l of this.listeners) l(event);
    return rv;
  }

  /** Advances the resourceVersion as a write to some other resource would. */
  bump(): number {
    return ++this.rv;
  }

  /** Forgets every version older than `rv` that a newer one hides, and the log up to `rv`. */
  compact(rv = this.rv): void {
    for (const r of this.keys.keys()) this.sortedKeys(r);
    this.compactedRv = Math.max(this.compactedRv, rv);
    for (const [resource, vs] of this.versions) {
      for (const [key, list] of vs) {
        let keep = 0;
        for (let i = 0; i < list.length; i++) if ((list[i] as Version).rv <= rv) keep = i;
        const rest = list.slice(keep);
        if (rest[0] && rest[0].rv <= rv && rest[0].json === null) rest.shift();
        if (rest.length > 0) vs.set(key, rest);
        else {
          vs.delete(key);
          const keys = this.keys.get(resource) as string[];
          keys.splice(lowerBound(keys, key), 1);
        }
      }
    }
    this.log = this.log.slice(lowerBoundRv(this.log, rv + 1));
  }

  /**
   * Up to `limit` objects of the snapshot at `rv` whose keys come after
   * `after`, and whether more follow.
   */
  page(
    resource: string,
    rv: number,
    after: string,
    limit: number,
  ): { items: { key: string; json: string }[]; more: boolean } {
    const keys = this.sortedKeys(resource);
    const vs = this.versions.get(resource) as Map<string, Version[]>;
    const items: { key: string; json: string }[] = [];
    let i = after === '' ? 0 : upperBound(keys, after);
    for (; i < keys.length; i++) {
      const key = keys[i] as string;
      const json = visibleAt(vs.get(key) ?? [], rv);
      if (json === null) continue;
      if (items.length === limit) return { items, more: true };
      items.push({ key, json });
    }
    return { items, more: false };
  }

  private sortedKeys(resource: string): string[] {
    const keys = this.keys.get(resource) as string[];
    if (this.unsorted.delete(resource)) keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return keys;
  }

  /** Events of `resource` after `rv`, in order. */
  eventsAfter(resource: string, rv: number): LogEvent[] {
    return this.log.slice(lowerBoundRv(this.log, rv + 1)).filter((e) => e.resource === resource);
  }

  subscribe(l: (e: LogEvent) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Every live object of `resource` now, as parsed JSON without apiVersion/kind. */
  objects(resource: string): Raw[] {
    return this.page(resource, this.rv, '', Infinity).items.map((i) => JSON.parse(i.json) as Raw);
  }
}

function visibleAt(list: readonly Version[], rv: number): string | null {
  for (let i = list.length - 1; i >= 0; i--) {
    const v = list[i] as Version;
    if (v.rv <= rv) return v.json;
  }
  return null;
}

function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lowerBoundRv(log: readonly LogEvent[], rv: number): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((log[mid] as LogEvent).rv < rv) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
