import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ErrorCodes, type CodesOf } from '../core/errors.js';
import type { ChildLedger } from '../host/children.js';
import { BoundedQueue } from './queue.js';

/**
 * A long-running tool (tcpdump, conntrack) whose stdout is a stream of
 * events, run in a network namespace when one is named. It keeps the last
 * lines of stderr for error messages, and tells apart an exit we asked for
 * (close) from one we did not.
 */

export class ReaderError extends Error {
  constructor(
    readonly code: CodesOf<'FLOW_READER_'>,
    message: string,
  ) {
    super(message);
    this.name = 'ReaderError';
  }
}

export interface ToolOptions {
  /** `ip netns exec NAME …` when given. */
  readonly netns?: string;
  /** Where the running tool is recorded, so a later agent can end it if this one dies. */
  readonly ledger?: ChildLedger;
  readonly onStdout: (chunk: Buffer) => void;
  readonly onStderrLine: (line: string) => void;
  /** Called once when the tool exits; `requested` when close() asked for it. */
  readonly onExit: (info: {
    code: number | null;
    signal: string | null;
    requested: boolean;
  }) => void;
}

const STDERR_LINES_KEPT = 20;
const MAX_STDERR_LINE = 4096;

export class Tool {
  readonly child: ChildProcessWithoutNullStreams;
  readonly command: string;
  private readonly stderrTail: string[] = [];
  private stderrPartial = '';
  private closing = false;
  private readonly pausedBy = new Set<string>();
  private exitInfo: { code: number | null; signal: string | null } | undefined;
  private readonly exited: Promise<void>;

  constructor(
    cmd: string,
    args: readonly string[],
    private readonly opts: ToolOptions,
  ) {
    const [file, argv] = opts.netns
      ? ['ip', ['netns', 'exec', opts.netns, cmd, ...args]]
      : [cmd, [...args]];
    this.command = [file, ...argv].join(' ');
    this.child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin.end();
    const pid = this.child.pid;
    if (pid !== undefined) opts.ledger?.add(pid, cmd);
    this.child.stdout.on('data', (d: Buffer) => opts.onStdout(d));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => this.stderr(d));
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: string | null) => {
        if (done) return;
        done = true;
        if (this.stderrPartial) this.line(this.stderrPartial);
        this.stderrPartial = '';
        this.exitInfo = { code, signal };
        if (pid !== undefined) opts.ledger?.remove(pid);
        opts.onExit({ code, signal, requested: this.closing });
        resolve();
      };
      this.child.on('error', (e) => {
        this.keep(`${cmd}: ${e.message}`);
        finish(null, null);
      });
      this.child.on('close', (code, signal) => finish(code, signal));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last lines the tool wrote to stderr. */
  stderrText(): string {
    return this.stderrTail.join('\n');
  }

  describeExit(): string {
    const e = this.exitInfo;
    const how = !e ? 'running' : e.signal ? `killed by ${e.signal}` : `exited ${e.code ?? '?'}`;
    const err = this.stderrText();
    return `${this.command}: ${how}${err ? `: ${err}` : ''}`;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  signal(sig: NodeJS.Signals): boolean {
    return this.running && this.child.kill(sig);
  }

  /**
   * Stops reading the tool's output while any reason holds (the tool then
   * blocks on a full pipe, the kernel buffers its events); reading goes on
   * once every reason is lifted.
   */
  pauseFor(reason: string, paused: boolean): void {
    if (paused) this.pausedBy.add(reason);
    else this.pausedBy.delete(reason);
    if (this.pausedBy.size > 0) this.child.stdout.pause();
    else this.child.stdout.resume();
  }

  /** Stops the tool (SIGTERM, then SIGKILL after `graceMs`); resolves once it has exited. */
  async close(graceMs = 2000): Promise<void> {
    this.closing = true;
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }

  private stderr(d: string): void {
    const text = this.stderrPartial + d;
    const lines = text.split('\n');
    this.stderrPartial = (lines.pop() ?? '').slice(0, MAX_STDERR_LINE);
    for (const l of lines) this.line(l);
  }

  private line(l: string): void {
    this.keep(l);
    this.opts.onStderrLine(l);
  }

  private keep(l: string): void {
    if (!l.trim()) return;
    this.stderrTail.push(l.slice(0, MAX_STDERR_LINE));
    if (this.stderrTail.length > STDERR_LINES_KEPT) this.stderrTail.shift();
  }
}

/**
 * Waits until a reader's tool is subscribed (`ready`), at most `timeoutMs`;
 * on failure or timeout the tool is closed and the error thrown.
 */
export async function awaitStart(
  tool: Tool,
  ready: Promise<unknown>,
  timeoutMs: number,
  notYet: string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ReaderError(
                ErrorCodes.FLOW_READER_START,
                `${tool.command}: ${notYet} after ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } catch (e) {
    await tool.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A reader's event queue. The tool's output is read however full it is: a
 * reader that stopped reading would move the burst into the kernel's socket
 * buffer, and what overflows there is lost uncounted (the kernel says that
 * events were lost, never how many). Read on, an event the queue has no room
 * for is discarded here and counted, one by one.
 */
export function toolQueue<T>(capacity: number): BoundedQueue<T> {
  return new BoundedQueue<T>(capacity);
}
