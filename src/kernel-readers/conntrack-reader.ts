import { execFile } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { ErrorCodes } from '../core/errors.js';
import { LostEvents, tableIds } from './lost-events.js';
import { parseConntrackLine, type ConntrackEvent } from './conntrack.js';
import type { ChildLedger } from '../host/children.js';
import type { BoundedQueue } from './queue.js';
import { awaitStart, ReaderError, Tool, toolQueue } from './subprocess.js';

/**
 * Connection events from the kernel's connection tracker, read with
 * `conntrack -E -o extended,timestamp,id` in a network namespace.
 *
 * Counters in DESTROY events need `net.netfilter.nf_conntrack_acct=1` in that
 * namespace (a per-namespace sysctl), `delta-time` needs
 * `nf_conntrack_timestamp=1`. The tracker only runs in a namespace whose
 * ruleset uses it (e.g. a `ct state` match). An entry that times out is
 * destroyed — and its DESTROY sent — when the kernel's garbage collector
 * finds it, which can be tens of seconds later.
 */

export type ConntrackEventName = 'NEW' | 'UPDATE' | 'DESTROY';

export interface ConntrackReaderOptions {
  readonly netns?: string;
  /** Events to subscribe to (default NEW and DESTROY). */
  readonly events?: readonly ConntrackEventName[];
  /**
   * Events held for a slow consumer (default 8192); past it new ones are
   * discarded and counted (queueDropped). The tool's output is always read.
   */
  readonly queueCapacity?: number;
  /** Netlink socket buffer, bytes (`-b`, default 8 MiB). */
  readonly bufferBytes?: number;
  /** The conntrack binary (default `conntrack`). */
  readonly conntrack?: string;
  /** Where conntrack's PID is recorded (see ChildRecord). */
  readonly ledger?: ChildLedger;
  /** How long start() waits for conntrack to subscribe (default 5000 ms). */
  readonly startTimeoutMs?: number;
}

export interface ConntrackStats {
  /** Event lines read. */
  readonly lines: number;
  readonly delivered: number;
  /** Events discarded because the consumer was behind and the queue full. */
  readonly queueDropped: number;
  readonly queued: number;
  /** Lines that did not parse (counted, skipped); the last reason is kept. */
  readonly malformed: number;
  readonly lastMalformed?: string;
  /**
   * Times the kernel could not deliver events because the socket buffer was
   * full (conntrack's ENOBUFS warning): each means one or more lost events.
   */
  readonly kernelOverflows: number;
  /** Of those lost events, starts and ends, counted one by one (see LostEvents). */
  readonly lostStarts: number;
  readonly lostEnds: number;
}

/** A line longer than this is cut off and counted as malformed. */
const MAX_LINE = 16 * 1024;
const READY = /^NOTICE: Netlink socket buffer size has been set to/;
const OVERFLOW = /We have hit ENOBUFS/;

export class ConntrackReader implements AsyncIterable<ConntrackEvent> {
  private readonly queue: BoundedQueue<ConntrackEvent>;
  private readonly tool: Tool;
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private overlong = false;
  private lines = 0;
  private malformed = 0;
  private lastMalformed: string | undefined;
  private overflows = 0;
  private lost: LostEvents | undefined;
  private tableTimer: NodeJS.Timeout | undefined;
  private tableReads = 0;
  private closed = false;
  private readonly opts: ConntrackReaderOptions;
  private readyResolve!: () => void;
  private readyReject!: (e: Error) => void;
  private readonly ready: Promise<void>;

  private constructor(opts: ConntrackReaderOptions) {
    this.opts = opts;
    this.queue = toolQueue(opts.queueCapacity ?? 8192);
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    const events = opts.events ?? ['NEW', 'DESTROY'];
    const args = [
      '-E',
      '-e',
      events.join(','),
      '-o',
      'extended,timestamp,id',
      '-b',
      String(opts.bufferBytes ?? 8 * 1024 * 1024),
    ];
    this.tool = new Tool(opts.conntrack ?? 'conntrack', args, {
      netns: opts.netns,
      ledger: opts.ledger,
      onStdout: (chunk) => this.onChunk(this.decoder.write(chunk)),
      onStderrLine: (line) => this.onStderr(line),
      onExit: ({ requested }) => this.onExit(requested),
    });
  }

  /** Starts conntrack; resolves once it is subscribed, rejects with its error. */
  static async start(opts: ConntrackReaderOptions = {}): Promise<ConntrackReader> {
    const events = opts.events ?? ['NEW', 'DESTROY'];
    if (events.length === 0 || events.some((e) => !['NEW', 'UPDATE', 'DESTROY'].includes(e)))
      throw new RangeError(`conntrack events ${JSON.stringify(events)}: use NEW, UPDATE, DESTROY`);
    const r = new ConntrackReader(opts);
    await awaitStart(r.tool, r.ready, opts.startTimeoutMs ?? 5000, 'not subscribed');
    return r;
  }

  get pid(): number | undefined {
    return this.tool.pid;
  }

  stats(): ConntrackStats {
    return {
      lines: this.lines,
      delivered: this.queue.delivered,
      queueDropped: this.queue.dropped,
      queued: this.queue.length,
      malformed: this.malformed,
      ...(this.lastMalformed !== undefined ? { lastMalformed: this.lastMalformed } : {}),
      kernelOverflows: this.overflows,
      lostStarts: this.lost?.lost.starts ?? 0,
      lostEnds: this.lost?.lost.ends ?? 0,
    };
  }

  /** Reads nothing more until resume(); events wait in the pipe and the kernel's socket buffer. */
  pause(): void {
    this.tool.pauseFor('caller', true);
  }

  resume(): void {
    this.tool.pauseFor('caller', false);
  }

  async close(): Promise<ConntrackStats> {
    this.closed = true;
    clearTimeout(this.tableTimer);
    await this.tool.close();
    return this.stats();
  }

  [Symbol.asyncIterator](): AsyncIterator<ConntrackEvent> {
    return this.queue[Symbol.asyncIterator]();
  }

  private onChunk(text: string): void {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const piece = text.slice(start, nl);
      start = nl + 1;
      if (this.overlong) {
        // The end of a line already counted as malformed.
        this.overlong = false;
        this.partial = '';
        continue;
      }
      const line = this.partial + piece;
      this.partial = '';
      this.onLine(line);
    }
    if (this.overlong) return;
    this.partial += text.slice(start);
    if (this.partial.length > MAX_LINE) {
      this.malformed++;
      this.lastMalformed = `line longer than ${MAX_LINE} characters`;
      this.partial = '';
      this.overlong = true;
    }
  }

  private onLine(line: string): void {
    if (!line.trim()) return;
    this.lines++;
    const r = parseConntrackLine(line);
    if (!r.ok) {
      this.malformed++;
      this.lastMalformed = `${r.reason}: ${line.slice(0, 200)}`;
      return;
    }
    this.lost?.seen(r.event);
    this.queue.push(r.event);
  }

  private onStderr(line: string): void {
    if (READY.test(line)) {
      if (!this.lost) {
        const lost = new LostEvents(Date.now());
        this.lost = lost;
        void this.readTable().then((ids) => ids && lost.baseline(ids));
      }
      this.readyResolve();
    } else if (OVERFLOW.test(line)) {
      this.overflows++;
      this.readTableSoon();
    }
  }

  /**
   * A second after an overflow (once, however many come), the table is read
   * to find the connections whose start or end was lost, and read again
   * every 2.5 s while anything is in doubt (at most 20 reads after the last
   * overflow). A failed read costs only those counts; the overflows are
   * counted anyway.
   */
  private readTableSoon(followUp = false): void {
    if (this.tableTimer) return;
    this.tableReads = followUp ? this.tableReads + 1 : 0;
    if (this.tableReads >= 20) return;
    this.tableTimer = setTimeout(
      () => {
        void this.readTable().then((ids) => {
          this.tableTimer = undefined;
          if (!ids || !this.lost || this.closed) return;
          this.lost.table(ids, Date.now());
          if (this.lost.pending > 0) this.readTableSoon(true);
        });
      },
      followUp ? 2500 : 1000,
    );
    this.tableTimer.unref();
  }

  /** The conntrack ids in the table now; undefined when it cannot be read. */
  private readTable(): Promise<Set<number> | undefined> {
    const cmd = this.opts.conntrack ?? 'conntrack';
    const args = ['-L', '-o', 'id'];
    const [file, argv] = this.opts.netns
      ? ['ip', ['netns', 'exec', this.opts.netns, cmd, ...args]]
      : [cmd, args];
    return new Promise((resolve) =>
      execFile(file, argv, { timeout: 10_000, maxBuffer: 1 << 28 }, (err, stdout) =>
        resolve(err ? undefined : tableIds(stdout)),
      ),
    );
  }

  private onExit(requested: boolean): void {
    // A last line without its newline is complete once the stream has ended.
    if (this.partial && !this.overlong) this.onLine(this.partial);
    this.partial = '';
    const what = this.tool.describeExit();
    this.readyReject(
      new ReaderError(ErrorCodes.FLOW_READER_START, `cannot read conntrack events: ${what}`),
    );
    this.queue.end(
      requested
        ? undefined
        : new ReaderError(ErrorCodes.FLOW_READER_EXIT, `conntrack reader stopped: ${what}`),
    );
  }
}
