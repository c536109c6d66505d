import { ErrorCodes } from '../core/errors.js';
import { AF_INET, AF_INET6, decodeNflog } from './nflog.js';
import { decodeIpPacket, type DecodedPacket } from './packet.js';
import { LINKTYPE_NFLOG, PcapFormatError, PcapStreamParser, type PcapRecord } from './pcap.js';
import type { ChildLedger } from '../host/children.js';
import type { BoundedQueue } from './queue.js';
import { awaitStart, ReaderError, Tool, toolQueue } from './subprocess.js';

/**
 * Packets logged by nftables `log group G prefix "…"` statements, read with
 * `tcpdump -i nflog:G -U -w -` (libpcap binds the nflog group on its own
 * netlink socket) and decoded from the pcap stream it writes.
 *
 * One reader per group and network namespace: the kernel lets one socket
 * bind a group. For sub-second delivery the log statement needs
 * `queue-threshold 1` (otherwise the kernel batches up to its flush timeout,
 * one second).
 */

export interface NflogReaderOptions {
  /** The nflog group, 0-65535. */
  readonly group: number;
  /** Network namespace name (`ip netns exec`); the current one when absent. */
  readonly netns?: string;
  /** Bytes of each logged packet to capture, headers included (default 256). */
  readonly snaplen?: number;
  /**
   * Events held for a slow consumer (default 8192); past it new ones are
   * discarded and counted (queueDropped). The tool's output is always read.
   */
  readonly queueCapacity?: number;
  /** tcpdump `-B`: the socket buffer in KiB (default 4096; the kernel caps it at net.core.rmem_max). */
  readonly bufferKiB?: number;
  /** The tcpdump binary (default `tcpdump`). */
  readonly tcpdump?: string;
  /** Where tcpdump's PID is recorded (see ChildRecord). */
  readonly ledger?: ChildLedger;
  /** How long start() waits for tcpdump to listen (default 5000 ms). */
  readonly startTimeoutMs?: number;
}

/** One logged (dropped) packet. */
export interface DropEvent {
  /** Unix ms: the kernel's packet timestamp when it sent one, else when tcpdump read it. */
  readonly time: number;
  readonly group: number;
  /** The log prefix ('' when the rule has none). */
  readonly prefix: string;
  /** Netfilter hook (1 input, 2 forward, 3 output, …). */
  readonly hook?: number;
  readonly mark?: number;
  readonly inIfindex?: number;
  readonly outIfindex?: number;
  /** Decoded headers; absent when the payload is not IP (see `undecodable`). */
  readonly packet?: DecodedPacket;
  readonly undecodable?: string;
}

/** What tcpdump itself reports (on SIGUSR1 and at exit). */
export interface TcpdumpStats {
  readonly captured: number;
  readonly receivedByFilter: number;
  /**
   * libpcap's "dropped by kernel" for nflog: times the netlink socket
   * overflowed (ENOBUFS), not a packet count. Non-zero means packets were lost.
   */
  readonly droppedByKernel: number;
}

export interface NflogStats {
  /** Records read from tcpdump. */
  readonly captured: number;
  /** Events handed to the consumer. */
  readonly delivered: number;
  /** Events discarded because the consumer was behind and the queue full. */
  readonly queueDropped: number;
  /** Events waiting in the queue. */
  readonly queued: number;
  /** Records that were not valid NFLOG (counted, skipped). */
  readonly malformed: number;
  /** The last counts tcpdump printed, if any. */
  readonly tcpdump?: TcpdumpStats;
}

const STATS_LINE =
  /(\d+) packets? captured.*?(\d+) packets? received by filter.*?(\d+) packets? dropped by kernel/s;

export class NflogReader implements AsyncIterable<DropEvent> {
  private readonly queue: BoundedQueue<DropEvent>;
  private readonly parser = new PcapStreamParser();
  private readonly tool: Tool;
  private malformed = 0;
  private lastTcpdump: TcpdumpStats | undefined;
  private statsText = '';
  private statsWaiters: ((s: TcpdumpStats) => void)[] = [];
  private readyResolve!: () => void;
  private readyReject!: (e: Error) => void;
  private readonly ready: Promise<void>;

  private constructor(private readonly opts: NflogReaderOptions) {
    this.queue = toolQueue(opts.queueCapacity ?? 8192);
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    const args = [
      '-i',
      `nflog:${opts.group}`,
      '-U',
      '-w',
      '-',
      '-s',
      String(opts.snaplen ?? 256),
      '-B',
      String(opts.bufferKiB ?? 4096),
    ];
    this.tool = new Tool(opts.tcpdump ?? 'tcpdump', args, {
      netns: opts.netns,
      ledger: opts.ledger,
      onStdout: (chunk) => this.onChunk(chunk),
      onStderrLine: (line) => this.onStderr(line),
      onExit: ({ requested }) => this.onExit(requested),
    });
  }

  /** Starts tcpdump; resolves once it is listening on the group, rejects with its error. */
  static async start(opts: NflogReaderOptions): Promise<NflogReader> {
    if (!Number.isInteger(opts.group) || opts.group < 0 || opts.group > 65535)
      throw new RangeError(`nflog group ${opts.group}: must be an integer 0-65535`);
    const r = new NflogReader(opts);
    await awaitStart(r.tool, r.ready, opts.startTimeoutMs ?? 5000, 'not listening');
    return r;
  }

  get pid(): number | undefined {
    return this.tool.pid;
  }

  stats(): NflogStats {
    return {
      captured: this.parser.count,
      delivered: this.queue.delivered,
      queueDropped: this.queue.dropped,
      queued: this.queue.length,
      malformed: this.malformed,
      ...(this.lastTcpdump ? { tcpdump: this.lastTcpdump } : {}),
    };
  }

  /** Asks tcpdump for its counts (SIGUSR1); undefined if it does not answer in time. */
  async tcpdumpStats(timeoutMs = 1000): Promise<TcpdumpStats | undefined> {
    if (!this.tool.running) return this.lastTcpdump;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      this.statsWaiters.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
      this.tool.signal('SIGUSR1');
    });
  }

  /** Reads nothing more until resume(); events wait in the pipe and the kernel's socket buffer. */
  pause(): void {
    this.tool.pauseFor('caller', true);
  }

  resume(): void {
    this.tool.pauseFor('caller', false);
  }

  /** Stops tcpdump (it writes out what it holds first); the iteration then ends. */
  async close(): Promise<NflogStats> {
    await this.tool.close();
    return this.stats();
  }

  [Symbol.asyncIterator](): AsyncIterator<DropEvent> {
    return this.queue[Symbol.asyncIterator]();
  }

  private onChunk(chunk: Buffer): void {
    try {
      this.parser.push(chunk, (rec, h) => {
        if (h.linktype !== LINKTYPE_NFLOG)
          throw new PcapFormatError(`link type ${h.linktype}, expected NFLOG (${LINKTYPE_NFLOG})`);
        this.onRecord(rec, h.littleEndian);
      });
      if (this.parser.header) this.readyResolve();
    } catch (e) {
      // The stream cannot be resynchronised: stop and report.
      const err = new ReaderError(
        ErrorCodes.FLOW_READER_STREAM,
        `${this.tool.command}: ${e instanceof Error ? e.message : String(e)}`,
      );
      this.readyReject(err);
      this.queue.end(err);
      void this.tool.close();
    }
  }

  private onRecord(rec: PcapRecord, littleEndian: boolean): void {
    let event: DropEvent;
    try {
      const n = decodeNflog(rec.data, littleEndian);
      const ip = n.family === AF_INET || n.family === AF_INET6;
      const decoded = ip && n.payload ? decodeIpPacket(n.payload) : undefined;
      event = {
        time: n.timestamp && n.timestamp > 0 ? n.timestamp : rec.time,
        group: n.group,
        prefix: n.prefix ?? '',
        hook: n.hook,
        mark: n.mark,
        inIfindex: n.inIfindex,
        outIfindex: n.outIfindex,
        ...(decoded?.ok ? { packet: decoded.packet } : {}),
        ...(decoded && !decoded.ok ? { undecodable: decoded.reason } : {}),
        ...(!ip ? { undecodable: `address family ${n.family}` } : {}),
        ...(ip && !n.payload ? { undecodable: 'no payload' } : {}),
      };
    } catch (e) {
      if (!(e instanceof PcapFormatError)) throw e;
      this.malformed++;
      return;
    }
    this.queue.push(event);
  }

  private onStderr(line: string): void {
    // tcpdump prints its counts on one line (SIGUSR1) or three (at exit).
    this.statsText = `${this.statsText}\n${line}`.slice(-400);
    const m = STATS_LINE.exec(this.statsText);
    if (!m) return;
    this.statsText = '';
    const s: TcpdumpStats = {
      captured: Number(m[1]),
      receivedByFilter: Number(m[2]),
      droppedByKernel: Number(m[3]),
    };
    this.lastTcpdump = s;
    const waiters = this.statsWaiters;
    this.statsWaiters = [];
    for (const w of waiters) w(s);
  }

  private onExit(requested: boolean): void {
    const err = requested
      ? undefined
      : new ReaderError(
          ErrorCodes.FLOW_READER_EXIT,
          `nflog reader stopped: ${this.tool.describeExit()}`,
        );
    const startErr = new ReaderError(
      ErrorCodes.FLOW_READER_START,
      `cannot read nflog group ${this.opts.group}: ${this.tool.describeExit()}${hint(this.tool.stderrText(), this.opts.group)}`,
    );
    this.readyReject(startErr);
    this.queue.end(err);
  }
}

function hint(stderr: string, group: number): string {
  if (/Operation not permitted/.test(stderr))
    return ` (another process already reads nflog group ${group} in this namespace, or this one lacks CAP_NET_ADMIN)`;
  if (/exec of "[^"]+" failed|ENOENT|not found/.test(stderr))
    return ' (install tcpdump: apt-get install tcpdump)';
  return '';
}
