import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient } from './client.js';
import { ErrorCodes } from '../../core/errors.js';
import { isGone, KubeError } from './errors.js';
import {
  backoffDelay,
  decodeEvent,
  identify,
  readListPage,
  readWatchStream,
  type ResourceRef,
  type WatchEvent,
} from './protocol.js';

/**
 * One resource kept in step with the API server, as client-go's reflector:
 * a paginated LIST (limit/continue) fills the store and gives a
 * resourceVersion; a WATCH from that resourceVersion (with bookmarks and a
 * server-side timeout) streams every change after it.
 *
 * - A watch that ends (its timeout) or breaks is resumed from the last
 *   resourceVersion seen (an event's or a bookmark's): nothing is missed, and
 *   the events replayed after a break were not applied yet, because only
 *   complete lines are.
 * - 410 Gone (the HTTP status, or an ERROR event with code 410) means that
 *   resourceVersion is compacted: the resource is listed again. A relist
 *   replaces the store in one step: objects not in the list are deleted,
 *   objects whose resourceVersion did not change keep their converted value.
 * - Other failures (5xx, 429, refused or dropped connections, silence) wait
 *   an exponential backoff with jitter, capped, and retry; a watch that had
 *   delivered events before breaking is resumed at once.
 * - 404 on an optional resource (an API that is not installed) reads as an
 *   empty, synced resource and is retried every `absentRetryMs`.
 */

export type Change<V> =
  | { readonly type: 'set'; readonly key: string; readonly value: V; readonly old?: V }
  | { readonly type: 'delete'; readonly key: string; readonly old: V };

export interface ReflectedResource extends ResourceRef {
  readonly kind: string;
  readonly apiVersion: string;
  readonly optional: boolean;
}

export interface ReflectorOptions<V> {
  readonly client: KubeClient;
  readonly resource: ReflectedResource;
  /** Raw object (apiVersion and kind set) to stored value; once per key and resourceVersion. */
  readonly convert: (raw: Record<string, unknown>, key: string) => V;
  /** After the store changed; one call per relist (with `synced` set) and per chunk of events. */
  readonly onChange: (changes: readonly Change<V>[]) => void;
  readonly onError: (e: KubeError) => void;
  /** Called once when an optional resource turns out to be absent (404). */
  readonly onAbsent?: (e: KubeError) => void;
  readonly pageSize?: number;
  /** The watch's timeoutSeconds; each watch asks for a random value in [t, 2t). */
  readonly watchTimeoutSeconds?: number;
  /** Bound on the wait for response headers and for each LIST page. */
  readonly requestTimeoutMs?: number;
  /** A watch silent this long is taken as dead (default: its timeout plus 30 s). */
  readonly idleTimeoutMs?: number;
  /** Relist this often even when nothing failed (0: never). */
  readonly resyncMs?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly absentRetryMs?: number;
  readonly random?: () => number;
}

export type ReflectorState = 'listing' | 'watching' | 'backoff' | 'absent' | 'stopped';

export interface ReflectorStatus {
  readonly resource: string;
  readonly state: ReflectorState;
  /** Listed completely at least once (or known absent). */
  readonly synced: boolean;
  readonly resourceVersion: string;
  readonly objects: number;
  /** Complete lists after the first (410 Gone, resync, or after an absence). */
  readonly relists: number;
  readonly watches: number;
  readonly bookmarks: number;
  /** Failures other than 410 Gone. */
  readonly errors: number;
  readonly lastError?: string;
  readonly lastErrorAt?: string;
}

interface Entry<V> {
  readonly rv: string;
  readonly value: V;
}

const RESYNC = Symbol('resync');
const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000 } as const;

export class Reflector<V> {
  private store = new Map<string, Entry<V>>();
  private rv = '';
  private state: ReflectorState = 'listing';
  private synced = false;
  private needList = true;
  private lists = 0;
  private watches = 0;
  private bookmarks = 0;
  private errors = 0;
  private lastError?: { message: string; at: Date };
  private failures = 0;
  /** Something succeeded (a list, a watch event) since the last failure. */
  private progress = false;
  /** The current watch delivered an event or a bookmark. */
  private watchProgress = false;
  /** 410s in a row with no watch event between them. */
  private goneStreak = 0;
  private absentReported = false;
  private readonly closer = new AbortController();
  private watchAbort?: AbortController;
  private resyncTimer?: NodeJS.Timeout;
  private readonly random: () => number;

  constructor(private readonly o: ReflectorOptions<V>) {
    this.random = o.random ?? Math.random;
  }

  /** Starts the list/watch loop; it runs until close(). */
  start(): void {
    void this.run();
  }

  close(): void {
    this.state = 'stopped';
    this.closer.abort();
    clearTimeout(this.resyncTimer);
  }

  get isSynced(): boolean {
    return this.synced;
  }

  status(): ReflectorStatus {
    return {
      resource: this.o.resource.name,
      state: this.state,
      synced: this.synced,
      resourceVersion: this.rv,
      objects: this.store.size,
      relists: Math.max(0, this.lists - 1),
      watches: this.watches,
      bookmarks: this.bookmarks,
      errors: this.errors,
      ...(this.lastError
        ? { lastError: this.lastError.message, lastErrorAt: this.lastError.at.toISOString() }
        : {}),
    };
  }

  private get closed(): boolean {
    return this.closer.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        if (this.needList) await this.list();
        await this.watch();
      } catch (e) {
        if (this.closed) return;
        if (e === RESYNC) continue;
        await this.failed(e);
      }
    }
  }

  /** Decides what a failure means and waits as long as it calls for. */
  private async failed(e: unknown): Promise<void> {
    const err = e instanceof KubeError ? e : new KubeError(ErrorCodes.KUBE_CONNECTION, String(e));
    const what = this.needList ? 'list' : `watch from resourceVersion ${this.rv}`;
    if (this.o.resource.optional && err.status === 404) return this.absent(err);
    const backoff = this.o.backoff ?? DEFAULT_BACKOFF;
    const quick = this.watchProgress && !this.needList;
    this.watchProgress = false;
    if (isGone(err)) {
      // Compacted: list again at once. Only 410s that follow one another with
      // no event between them (a server that cannot keep a watch) are paced.
      this.needList = true;
      this.goneStreak++;
      const delay =
        this.goneStreak === 1 ? 0 : backoffDelay(this.goneStreak - 1, backoff, this.random);
      return this.pause(delay);
    }
    // The server is behind the resourceVersion we hold (restored from a backup):
    // only a new list can catch up, as client-go does.
    if (!this.needList && err.status === 504 && /too large resource version/i.test(err.message)) {
      this.needList = true;
    }
    if (this.progress) this.failures = 0;
    this.progress = false;
    this.failures++;
    const delay = quick ? 0 : backoffDelay(this.failures, backoff, this.random);
    this.errors++;
    this.lastError = { message: err.message, at: new Date() };
    const retry = delay === 0 ? 'retrying now' : `retrying in ${(delay / 1000).toFixed(1)} s`;
    const message = `${this.o.resource.name}: ${what}: ${err.message}; ${retry}`;
    this.o.onError(new KubeError(err.code, message, err.status, err.reason));
    await this.pause(delay);
  }

  private async absent(err: KubeError): Promise<void> {
    this.replace(new Map(), '');
    this.state = 'absent';
    this.needList = true;
    if (!this.absentReported) {
      this.absentReported = true;
      this.o.onAbsent?.(err);
    }
    await this.pause(this.o.absentRetryMs ?? 60_000);
  }

  private async pause(ms: number): Promise<void> {
    if (ms <= 0) return;
    if (this.state !== 'absent') this.state = 'backoff';
    await sleep(ms, undefined, { signal: this.closer.signal }).catch(() => undefined);
  }

  /** The whole collection, page by page, then one atomic replace of the store. */
  private async list(): Promise<void> {
    this.state = 'listing';
    const { client, resource } = this.o;
    const timeout = this.o.requestTimeoutMs ?? 60_000;
    let next = new Map<string, Entry<V>>();
    let cont: string | undefined;
    let rv = '';
    let restarts = 0;
    for (;;) {
      const query: Record<string, string> = { limit: String(this.o.pageSize ?? 500) };
      if (cont) query['continue'] = cont;
      let page: unknown;
      try {
        page = await client.getJson(resource.path, query, this.closer.signal, timeout);
      } catch (e) {
        // The continue token expired mid-list: start over, a few times at most.
        if (!cont || !isGone(e) || ++restarts > 3) throw e;
        next = new Map();
        cont = undefined;
        continue;
      }
      const parsed = readListPage(resource, page);
      for (const item of parsed.items) this.addListed(next, item);
      rv = parsed.resourceVersion;
      cont = parsed.continue;
      if (!cont) break;
    }
    this.lists++;
    this.progress = true;
    this.needList = false;
    this.replace(next, rv);
    this.scheduleResync();
  }

  private addListed(next: Map<string, Entry<V>>, item: unknown): void {
    const { key, rv, raw } = identify(this.o.resource, item);
    const old = this.store.get(key);
    next.set(key, old && old.rv === rv ? old : { rv, value: this.convert(raw, key) });
  }

  /** Swaps in a new store and hands on the difference with the old one. */
  private replace(next: Map<string, Entry<V>>, rv: string): void {
    const changes: Change<V>[] = [];
    for (const [key, old] of this.store) {
      if (!next.has(key)) changes.push({ type: 'delete', key, old: old.value });
    }
    for (const [key, entry] of next) {
      const old = this.store.get(key);
      if (old === entry) continue;
      changes.push(
        old
          ? { type: 'set', key, value: entry.value, old: old.value }
          : { type: 'set', key, value: entry.value },
      );
    }
    this.store = next;
    this.rv = rv;
    this.synced = true;
    this.o.onChange(changes);
  }

  private scheduleResync(): void {
    const every = this.o.resyncMs ?? 0;
    if (every <= 0) return;
    clearTimeout(this.resyncTimer);
    this.resyncTimer = setTimeout(() => {
      this.needList = true;
      this.watchAbort?.abort(RESYNC);
    }, every);
    this.resyncTimer.unref();
  }

  private async watch(): Promise<void> {
    const { client, resource } = this.o;
    const t = this.o.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(t + this.random() * t);
    const query = {
      watch: 'true',
      resourceVersion: this.rv,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
    };
    const abort = new AbortController();
    this.watchAbort = abort;
    const signal = AbortSignal.any([this.closer.signal, abort.signal]);
    this.watchProgress = false;
    try {
      const res = await client.get(resource.path, query, signal, this.o.requestTimeoutMs ?? 60_000);
      this.state = 'watching';
      this.watches++;
      const idleMs = this.o.idleTimeoutMs ?? timeoutSeconds * 1000 + 30_000;
      await readWatchStream(res, idleMs, (lines) => this.applyLines(lines));
    } catch (e) {
      if (abort.signal.aborted && abort.signal.reason === RESYNC) throw RESYNC;
      throw e;
    } finally {
      this.watchAbort = undefined;
    }
  }

  /** Applies a chunk's watch events to the store and hands on the changes they made. */
  private applyLines(lines: readonly string[]): void {
    const changes: Change<V>[] = [];
    try {
      for (const line of lines) {
        const c = this.apply(decodeEvent(this.o.resource, line));
        if (c) changes.push(c);
      }
    } finally {
      // Events applied before a bad one stay applied: hand them on.
      if (changes.length > 0) this.o.onChange(changes);
    }
  }

  private apply(e: WatchEvent): Change<V> | undefined {
    this.rv = e.rv;
    this.watchProgress = this.progress = true;
    this.goneStreak = 0;
    if (e.type === 'BOOKMARK') {
      this.bookmarks++;
      return undefined;
    }
    const old = this.store.get(e.key);
    if (e.type === 'DELETED') {
      if (!old) return undefined;
      this.store.delete(e.key);
      return { type: 'delete', key: e.key, old: old.value };
    }
    if (old && old.rv === e.rv) return undefined;
    const value = this.convert(e.raw, e.key);
    this.store.set(e.key, { rv: e.rv, value });
    return old
      ? { type: 'set', key: e.key, value, old: old.value }
      : { type: 'set', key: e.key, value };
  }

  /** List items come without apiVersion and kind: every object gets the resource's. */
  private convert(raw: Record<string, unknown>, key: string): V {
    const { apiVersion, kind } = this.o.resource;
    return this.o.convert({ ...raw, apiVersion, kind }, key);
  }
}
