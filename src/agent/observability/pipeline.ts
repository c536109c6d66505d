import type { FlowLoss, FlowReader, FlowStats } from '../../api/types.js';
import type { Flow } from '../../core/flows/types.js';
import { Ring } from '../../core/flows/ring.js';
import type { Cluster } from '../../core/model/types.js';
import type { PolicyIr } from '../../core/policy/ir.js';
import type { ServiceModel } from '../../core/services/types.js';
import type { ChildLedger } from '../../host/children.js';
import { ConntrackReader } from '../../kernel-readers/conntrack-reader.js';
import { sweepExpiredConnections } from '../../kernel-readers/conntrack-sweep.js';
import type { ConntrackEvent } from '../../kernel-readers/conntrack.js';
import { NflogReader, type DropEvent } from '../../kernel-readers/nflog-reader.js';
import { setSysctl } from '../../host/netlink.js';
import { FlowMaker } from './enrich.js';
import { ServiceFrontends } from './frontends.js';
import { AddressBook, ClusterAddresses, type LocalPod } from './resolve.js';

/**
 * The agent's flow pipeline: drops from the nftables log (NFLOG group),
 * connection starts and ends from conntrack events, both in the agent's own
 * network namespace, turned into flow records and kept in a bounded ring.
 * The agent never blocks on them: the readers always read, a burst waits in
 * their bounded queues, and every loss is counted where it happens (see
 * FlowLoss).
 */

/** What flows resolve against; read on every event, so cluster(), ir() and services() must be cheap. */
export interface FlowView {
  readonly cluster: () => Cluster | undefined;
  readonly ir: () => PolicyIr | undefined;
  /**
   * The Service model this node's proxy enforces, when weft's proxy runs:
   * translated connections are looked up among its frontends. Without it
   * (another proxy translates), among those of the model the cluster's
   * Services give.
   */
  readonly services?: () => ServiceModel | undefined;
  /** This node's pods with their addresses; read only when the view changed. */
  readonly local: () => readonly LocalPod[];
}

export interface FlowPipelineOptions {
  readonly node: string;
  /** Flows kept for `GET /v1/flows` (the ring's size). */
  readonly capacity: number;
  /** The NFLOG group the drop log rules write to. */
  readonly group: number;
  /**
   * Seconds a closed TCP connection stays in conntrack (TIME_WAIT) in the
   * agent's namespace, so its end (with counters) comes soon after the close;
   * 0 leaves the kernel's setting (120 s).
   */
  readonly endTimeoutSeconds: number;
  /**
   * Every this many ms the agent walks its conntrack table so expired entries
   * end now (see conntrack-sweep.ts); 0: only the kernel's collector, which
   * can be a minute late.
   */
  readonly sweepMs: number;
  readonly view: FlowView;
  readonly log: (line: string) => void;
  /** Called for every flow recorded (metrics). */
  readonly onFlow?: (f: Flow) => void;
  /** Where the readers' helpers (tcpdump, conntrack) are recorded while they run. */
  readonly ledger?: ChildLedger;
}

type Listener = (f: Flow, seq: number) => void;

type Which = FlowReader;

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;
/** The longest stretch of event work before the pipeline lets other work in. */
const SLICE_MS = 2;
/** A hold that was never released ends by itself after this long. */
const HOLD_MAX_MS = 1000;
const TCPDUMP_STATS_MS = 5000;
/** The conntrack event socket buffer: a burst waits here while the pipeline catches up. */
const CONNTRACK_BUFFER = 32 << 20;
/**
 * Connection events held while the pipeline is behind (a burst, a policy
 * sync): each start and end of 32k connections; past it they are counted as
 * lost, one by one.
 */
const CONNTRACK_QUEUE = 65_536;

export class FlowPipeline {
  readonly ring: Ring<Flow>;
  private readonly listeners = new Set<Listener>();
  private readonly stopListeners = new Set<() => void>();
  private maker: FlowMaker | undefined;
  private makerFrom:
    | {
        cluster: unknown;
        ir: unknown;
        pods: unknown;
        nodes: unknown;
        services: unknown;
        model: unknown;
      }
    | undefined;
  private dirty = true;
  private seen = 0;
  private stopped = false;
  private nflog: NflogReader | undefined;
  private conntrack: ConntrackReader | undefined;
  /** Loss counts of readers that ended (a restarted reader counts from zero). */
  private readonly past = {
    nflogQueue: 0,
    nflogKernel: 0,
    conntrackQueue: 0,
    conntrackKernel: 0,
    conntrackOverflows: 0,
    malformed: 0,
  };
  private readonly state = { nflog: 'starting', conntrack: 'starting' };
  /** Failed starts in a row, and when the next try is due, per reader. */
  private readonly retries: Record<
    Which,
    { failures: number; nextAttemptAt?: number; startedAt?: number }
  > = {
    nflog: { failures: 0 },
    conntrack: { failures: 0 },
  };
  /** Wake the retry waits when the pipeline stops. */
  private readonly stopWaiters = new Set<() => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  private sweeping = false;
  private sliceStart = 0;
  private holds = 0;
  /** Settles when the last hold is released (what the consumers wait for). */
  private released: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private sweepFailures = 0;
  private readonly loops: Promise<void>[] = [];
  /** Drops the log's rate limit refused, as the agent last read the nft counters. */
  dropLogLimited = 0;

  private constructor(private readonly o: FlowPipelineOptions) {
    this.ring = new Ring(o.capacity);
  }

  /**
   * Starts both readers in the background: a reader that cannot start (its
   * NFLOG group still bound by a helper of a crashed agent, a missing tool)
   * is tried again with backoff, its reason in its state, while the other
   * one runs.
   */
  static start(o: FlowPipelineOptions): FlowPipeline {
    const p = new FlowPipeline(o);
    p.loops.push(p.consume('nflog'), p.consume('conntrack'));
    p.every(TCPDUMP_STATS_MS, () => void p.nflog?.tcpdumpStats().catch(() => undefined));
    if (o.sweepMs > 0) p.every(o.sweepMs, () => void p.sweep());
    return p;
  }

  /**
   * Holds event work back while the caller does something that must not
   * wait (a policy sync): the readers go on reading into their queues (what
   * does not fit is counted as lost), flows are made once it ends. Returns
   * the release; a hold ends by itself after HOLD_MAX_MS.
   */
  hold(): () => void {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      if (--this.holds > 0) return;
      const wake = this.wake;
      this.released = undefined;
      this.wake = undefined;
      wake?.();
    };
    const timer = setTimeout(release, HOLD_MAX_MS);
    timer.unref();
    this.holds++;
    return release;
  }

  /** The cluster, IR or local endpoints changed: resolve against the new ones. */
  invalidate(): void {
    this.dirty = true;
  }

  /** Calls `fn` for every flow recorded from now on; returns the unsubscribe. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Calls `fn` once when the pipeline stops (followers end their streams). */
  onStop(fn: () => void): () => void {
    this.stopListeners.add(fn);
    return () => this.stopListeners.delete(fn);
  }

  stats(): FlowStats {
    const n = this.nflog?.stats();
    const c = this.conntrack?.stats();
    const losses: FlowLoss = {
      nflogQueue: this.past.nflogQueue + (n?.queueDropped ?? 0),
      nflogKernel: this.past.nflogKernel + (n?.tcpdump?.droppedByKernel ?? 0),
      conntrackQueue: this.past.conntrackQueue + (c?.queueDropped ?? 0),
      conntrackKernel: this.past.conntrackKernel + (c ? c.lostStarts + c.lostEnds : 0),
      malformed: this.past.malformed + (n?.malformed ?? 0) + (c?.malformed ?? 0),
      dropLogLimit: this.dropLogLimited,
    };
    const lost = Object.values(losses).reduce((a, b) => a + b, 0);
    return {
      enabled: true,
      seen: this.seen,
      buffered: this.ring.size,
      capacity: this.ring.capacity,
      overwritten: this.ring.overwritten,
      lost,
      losses,
      readers: { ...this.state },
      retries: this.retryStats(),
      sweepFailures: this.sweepFailures,
      conntrackOverflows: this.past.conntrackOverflows + (c?.kernelOverflows ?? 0),
    };
  }

  private retryStats(): FlowStats['retries'] {
    const out: Record<string, { failures: number; nextAttemptInMs: number }> = {};
    for (const which of ['nflog', 'conntrack'] as const) {
      const r = this.retries[which];
      if (this.state[which] !== 'running' && r.nextAttemptAt !== undefined)
        out[which] = {
          failures: r.failures,
          nextAttemptInMs: Math.max(0, r.nextAttemptAt - Date.now()),
        };
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const w of this.stopWaiters) w();
    this.stopWaiters.clear();
    this.holds = 0;
    this.wake?.();
    for (const fn of this.stopListeners) fn();
    this.stopListeners.clear();
    await Promise.all([this.nflog?.close(), this.conntrack?.close()]);
    await Promise.all(this.loops);
  }

  /**
   * Queued events come out of the readers as resolved promises, so a burst
   * (a sweep ends thousands of connections at once) would be worked off
   * without ever returning to the event loop, and a policy sync waiting for
   * its turn would wait for all of it. Every SLICE_MS of work, the loop
   * yields once.
   */
  private async slice(): Promise<void> {
    if (this.holds > 0) {
      this.released ??= new Promise<void>((r) => (this.wake = r));
      await this.released;
    } else if (performance.now() - this.sliceStart >= SLICE_MS)
      await new Promise((r) => setImmediate(r));
    else return;
    this.sliceStart = performance.now();
  }

  /** Records a flow: into the ring, to the listeners. */
  record(f: Flow): void {
    const seq = this.ring.push(f);
    this.seen++;
    this.o.onFlow?.(f);
    for (const l of this.listeners) l(f, seq);
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** One sweep at a time; the first failure and every 100th are logged. */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      await sweepExpiredConnections();
    } catch (e) {
      if (this.sweepFailures++ % 100 === 0)
        this.o.log(
          `flows: connection ends may come late (up to a minute): ${e instanceof Error ? e.message : String(e)}`,
        );
    } finally {
      this.sweeping = false;
    }
  }

  private currentMaker(): FlowMaker {
    const v = this.o.view;
    const cluster = v.cluster();
    const ir = v.ir();
    const model = v.services?.();
    const from = this.makerFrom;
    const changed = from?.cluster !== cluster || from?.ir !== ir || from?.model !== model;
    if (this.dirty || !this.maker || changed) {
      // The patched Cluster keeps its pod and node lists while none of them
      // changes: a policy change, or a pod's ADD, then keeps the cluster's addresses.
      const known = this.maker?.book.cluster;
      const addresses =
        known && from?.pods === cluster?.pods && from?.nodes === cluster?.nodes
          ? known
          : new ClusterAddresses(cluster);
      // Likewise the proxy's model, or the cluster's Services and Nodes.
      const same = model
        ? from?.model === model
        : from?.model === undefined &&
          from?.services === cluster?.services &&
          from?.nodes === cluster?.nodes;
      const frontends =
        this.maker?.frontends && same
          ? this.maker.frontends
          : model
            ? ServiceFrontends.of(model)
            : ServiceFrontends.fromCluster(cluster, this.o.node);
      const book = new AddressBook(addresses, v.local());
      this.maker = new FlowMaker(this.o.node, book, ir, frontends);
      this.makerFrom = {
        cluster,
        ir,
        pods: cluster?.pods,
        nodes: cluster?.nodes,
        services: cluster?.services,
        model,
      };
      this.dirty = false;
    }
    return this.maker;
  }

  private onDrop(ev: DropEvent): void {
    const f = this.currentMaker().fromDrop(ev);
    if (f) this.record(f);
  }

  private onConnection(ev: ConntrackEvent): void {
    for (const f of this.currentMaker().fromConntrack(ev)) this.record(f);
  }

  /** Reads one source until stopped; a reader that dies is counted, logged and started again. */
  private async consume(which: Which): Promise<void> {
    while (!this.stopped) {
      if (!(await this.open(which))) return;
      try {
        this.state[which] = 'running';
        if (which === 'nflog')
          for await (const ev of this.nflog as NflogReader) {
            this.onDrop(ev);
            await this.slice();
          }
        else
          for await (const ev of this.conntrack as ConntrackReader) {
            this.onConnection(ev);
            await this.slice();
          }
        if (this.stopped) return;
        throw new Error('the reader ended');
      } catch (e) {
        if (this.stopped) return;
        const msg = e instanceof Error ? e.message : String(e);
        this.state[which] = `restarting: ${msg}`;
        this.o.log(`flows: ${which} reader stopped (${msg}); starting it again`);
        this.retire(which);
        // One that keeps dying soon after it starts backs off as one that cannot start.
        const r = this.retries[which];
        r.failures = Date.now() - (r.startedAt ?? 0) < RETRY_MAX_MS ? r.failures + 1 : 1;
      }
    }
  }

  /**
   * Starts a reader, again and again with backoff until it starts (true) or
   * the pipeline stops (false); why it cannot start is logged (once per
   * reason) and kept in its state. A reader that stopped waits the first
   * delay before it is started again.
   */
  private async open(which: Which): Promise<boolean> {
    const r = this.retries[which];
    if (r.failures > 0 && !(await this.pause(retryDelayMs(r.failures), which))) return false;
    for (;;) {
      if (this.stopped) return false;
      try {
        await this.startReader(which);
        if (this.stopped) {
          await (which === 'nflog' ? this.nflog?.close() : this.conntrack?.close());
          return false;
        }
        r.startedAt = Date.now();
        return true;
      } catch (err) {
        const state = `failed: ${err instanceof Error ? err.message : String(err)}`;
        r.failures++;
        const delay = retryDelayMs(r.failures);
        if (this.state[which] !== state)
          this.o.log(
            `flows: ${which} reader could not start (${state}); trying again with backoff`,
          );
        this.state[which] = state;
        if (!(await this.pause(delay, which))) return false;
      }
    }
  }

  /** Waits `ms` (false when the pipeline stopped meanwhile); the next attempt's time is in status. */
  private async pause(ms: number, which: Which): Promise<boolean> {
    const r = this.retries[which];
    r.nextAttemptAt = Date.now() + ms;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(t);
        this.stopWaiters.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.stopWaiters.add(wake);
    });
    r.nextAttemptAt = undefined;
    return !this.stopped;
  }

  private retire(which: Which): void {
    if (which === 'nflog' && this.nflog) {
      const s = this.nflog.stats();
      this.past.nflogQueue += s.queueDropped;
      this.past.nflogKernel += s.tcpdump?.droppedByKernel ?? 0;
      this.past.malformed += s.malformed;
      this.nflog = undefined;
    }
    if (which === 'conntrack' && this.conntrack) {
      const s = this.conntrack.stats();
      this.past.conntrackQueue += s.queueDropped;
      this.past.conntrackKernel += s.lostStarts + s.lostEnds;
      this.past.conntrackOverflows += s.kernelOverflows;
      this.past.malformed += s.malformed;
      this.conntrack = undefined;
    }
  }

  private async startReader(which: Which): Promise<void> {
    const { ledger } = this.o;
    if (which === 'nflog') {
      this.nflog = await NflogReader.start({ group: this.o.group, ledger });
      return;
    }
    // Per-namespace: counters and lifetimes in DESTROY events.
    await setSysctl('net.netfilter.nf_conntrack_acct', '1');
    await setSysctl('net.netfilter.nf_conntrack_timestamp', '1');
    if (this.o.endTimeoutSeconds > 0)
      await setSysctl(
        'net.netfilter.nf_conntrack_tcp_timeout_time_wait',
        String(this.o.endTimeoutSeconds),
      );
    this.conntrack = await ConntrackReader.start({
      bufferBytes: CONNTRACK_BUFFER,
      queueCapacity: CONNTRACK_QUEUE,
      ledger,
    });
  }
}

/** A reader that failed `failures` times in a row waits 0.5 s, 1 s, 2 s … 30 s at most. */
export function retryDelayMs(failures: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(Math.max(failures - 1, 0), 16));
}
