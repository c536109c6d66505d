import type { Flow, FlowAddress, FlowService } from './types.js';

/**
 * Naming the Service on every node's flows of a connection. Only the node
 * that translated a connection (the client's node for a ClusterIP, the node
 * that received it for a node port or an external address) sees which
 * frontend it addressed; the endpoint's node sees it arrive at the endpoint,
 * from the client or from the address it was masqueraded to. Where the
 * flows of several agents meet (`weft observe` over many agents, the UI), a
 * flow of the same connection (same protocol, same source as the endpoint
 * saw it, same endpoint, within JOIN_MS of a translated one) gets the
 * Service; when the source it shows is the masqueraded address, it also
 * gets the client the translating node saw, and that address as
 * `masqueraded`. So both sides of a connection through a Service name the
 * same client, Service and endpoint.
 */

/** How far apart in time the flows of one connection on two nodes may be (start and end included). */
export const JOIN_MS = 60_000;
/** Translated connections a live join remembers at most (the oldest are forgotten first). */
export const JOIN_REMEMBERED = 65_536;

/**
 * The connection as its endpoint saw it: protocol, the source after
 * masquerade, the destination (ports, or the ICMP type and code).
 */
export function deliveredKey(f: Flow): string {
  const s = f.masqueraded ?? f.source;
  const d = f.destination;
  const icmp = f.icmp ? `${f.icmp.type}.${f.icmp.code}` : '';
  return `${f.protocol}|${s.ip}|${s.port ?? ''}|${d.ip}|${d.port ?? ''}|${icmp}`;
}

interface Translated {
  readonly time: number;
  readonly flow: Flow & { readonly service: FlowService };
}

function isTranslated(f: Flow): f is Flow & { readonly service: FlowService } {
  return f.service !== undefined;
}

/** `f` with the Service (and the client) of the translated flow `t` of its connection. */
function named(f: Flow, t: Flow & { readonly service: FlowService }): Flow {
  const sameSource = f.source.ip === t.source.ip && f.source.port === t.source.port;
  if (sameSource) return { ...f, service: t.service };
  const seen: FlowAddress =
    f.source.port === undefined ? { ip: f.source.ip } : { ip: f.source.ip, port: f.source.port };
  return { ...f, service: t.service, source: t.source, masqueraded: seen };
}

/** The translated flow of `f`'s connection among `candidates` nearest in time, within JOIN_MS. */
function partner(f: Flow, candidates: readonly Translated[] | undefined): Translated | undefined {
  let best: Translated | undefined;
  for (const c of candidates ?? []) {
    const gap = Math.abs(c.time - f.time);
    if (gap <= JOIN_MS && (!best || gap < Math.abs(best.time - f.time))) best = c;
  }
  return best;
}

/** Whether `f` may be named: it names no Service, and no other translation was seen for it. */
function open(f: Flow): boolean {
  return f.service === undefined && f.translatedFrom === undefined;
}

/** Flows of any order, each with the Service of its connection where one of them names it; same order. */
export function joinServices(flows: readonly Flow[]): Flow[] {
  const byKey = new Map<string, Translated[]>();
  for (const f of flows)
    if (isTranslated(f)) {
      const key = deliveredKey(f);
      byKey.set(key, [...(byKey.get(key) ?? []), { time: f.time, flow: f }]);
    }
  if (byKey.size === 0) return [...flows];
  return flows.map((f) => {
    if (!open(f)) return f;
    const t = partner(f, byKey.get(deliveredKey(f)));
    return t ? named(f, t.flow) : f;
  });
}

/**
 * The join over a live, time-ordered stream released in batches: each
 * batch is named from the translated flows of earlier batches, of itself,
 * and of the flows still held back (those that came within the reorder
 * window), so the order in which two agents report one connection does not
 * matter. Remembers the translated flows of the last JOIN_MS, at most
 * JOIN_REMEMBERED connections.
 */
export class ServiceJoin {
  private readonly seen = new Map<string, Translated[]>();
  private newest = -Infinity;

  /** `ready` named (same order); `held` only lends its translated flows. */
  release(ready: readonly Flow[], held: readonly Flow[] = []): Flow[] {
    for (const f of [...ready, ...held]) this.remember(f);
    this.forget();
    if (this.seen.size === 0) return [...ready];
    return ready.map((f) => {
      if (!open(f)) return f;
      const t = partner(f, this.seen.get(deliveredKey(f)));
      return t ? named(f, t.flow) : f;
    });
  }

  /** Connections remembered. */
  get size(): number {
    return this.seen.size;
  }

  private remember(f: Flow): void {
    this.newest = Math.max(this.newest, f.time);
    if (!isTranslated(f)) return;
    const key = deliveredKey(f);
    const list = this.seen.get(key) ?? [];
    if (list.some((t) => t.flow === f)) return;
    // Re-inserted: the Map's order is the order connections were last seen.
    this.seen.delete(key);
    this.seen.set(key, [...list, { time: f.time, flow: f }]);
  }

  private forget(): void {
    const horizon = this.newest - JOIN_MS;
    for (const [key, list] of this.seen) {
      const kept = list.filter((t) => t.time >= horizon);
      if (kept.length === 0) this.seen.delete(key);
      else if (kept.length < list.length) this.seen.set(key, kept);
    }
    for (const key of this.seen.keys()) {
      if (this.seen.size <= JOIN_REMEMBERED) break;
      this.seen.delete(key);
    }
  }
}
