/**
 * Runs nft: a whole transaction as one atomic kernel transaction, and the
 * listing of weft's table. Transactions go to one long-lived nft (see
 * NftSession) unless told otherwise; a refused one is run again as
 * `nft -f -` (script on stdin) so its error is that command's.
 */
import { spawn } from 'node:child_process';
import { DEFAULT_TIMEOUT_MS, NftSession, NftSessionBroken, type SessionAnswer } from './session.js';
import type { NftTableId, NftTransaction } from './model.js';

/** What applies transactions: the real nft (RealNft) or the strict in-memory fake (FakeNft). */
export interface NftRunner {
  /**
   * Applies one transaction: all of it, or (throwing NftError) none of it.
   * `script` is `transactionText(tx)`, rendered once by the caller: nft
   * reads the script, the fake the typed value.
   */
  apply(tx: NftTransaction, script: string): Promise<void>;
  /** `nft list table FAMILY NAME`; '' when the table does not exist. */
  list(table: NftTableId): Promise<string>;
}

/** Where nft says a script went wrong: `/dev/stdin:LINE:COL-COL: Error: …`. */
export interface NftErrorLocation {
  readonly line: number;
  readonly column: number;
  /** That line of the script. */
  readonly text: string;
  /** nft's message, e.g. `Could not process rule: No such file or directory`. */
  readonly message: string;
}

/** Finds nft's first error in its stderr and the script line it points at. */
export function locateNftError(stderr: string, script: string): NftErrorLocation | undefined {
  const m = /^[^\n:]*:(\d+):(\d+)(?:-\d+)?: Error: (.*)$/m.exec(stderr);
  if (!m) return undefined;
  const line = Number(m[1]);
  return {
    line,
    column: Number(m[2]),
    text: script.split('\n')[line - 1] ?? '',
    message: m[3] ?? '',
  };
}

/** nft refused a command or script; carries its stderr and, for a script, the offending line. */
export class NftError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly location?: NftErrorLocation,
  ) {
    const where = location
      ? `${location.message} at line ${location.line}: ${location.text}`
      : stderr.trim() || '(no output)';
    super(`nft ${args.join(' ')} failed (exit ${exitCode ?? 'signal'}): ${where}`);
    this.name = 'NftError';
  }
}

export interface RealNftOptions {
  /** Runs nft as `ip netns exec NETNS nft …`; for tests, which must never touch the root namespace. */
  readonly netns?: string;
  /** The nft binary; default `nft` from PATH. */
  readonly nft?: string;
  /**
   * Each transaction in a new `nft -f -` process instead of one long-lived
   * `nft -i` (default false: the long-lived one saves starting nft, tens of
   * milliseconds, per transaction).
   */
  readonly processPerTransaction?: boolean;
  /**
   * The long-lived nft is replaced after this many transactions (default
   * 1000): nft's interactive mode keeps every line it read, so its memory
   * grows by a little with each one.
   */
  readonly sessionTransactions?: number;
  /** The longest one transaction may take before nft is ended (default 120 s). */
  readonly transactionTimeoutMs?: number;
}

/** The real nft binary. */
export class RealNft implements NftRunner {
  private session: NftSession | undefined;
  /** This nft has no usable interactive mode: one process per transaction. */
  private noSession = false;

  constructor(private readonly options: RealNftOptions = {}) {}

  /**
   * One transaction. In the long-lived nft, a script it takes is applied and
   * done; one it refuses was not applied (nft sends a whole script as one
   * batch, which the kernel takes or refuses whole) and is run once more as
   * `nft -f -`, whose error (or, if it goes through then, success) is the
   * answer. When that nft breaks mid-transaction, whether the script was
   * applied is unknown: the NftError says so, and the caller's next sync
   * must be a full one (TableSync makes it so after any error).
   */
  apply(_tx: NftTransaction, script: string): Promise<void> {
    return this.applyScript(script);
  }

  /** One transaction as an nft script (see apply). */
  async applyScript(script: string): Promise<void> {
    if (this.options.processPerTransaction || this.noSession) {
      await this.run(['-f', '-'], script);
      return;
    }
    let answer: SessionAnswer;
    try {
      this.session ??= new NftSession(this.command(['-i']), this.timeoutMs);
      answer = await this.session.apply(script);
    } catch (e) {
      this.close();
      // Not handed to nft: run as before. Handed over, then broken: unknown.
      if (!(e instanceof NftSessionBroken) || !e.sent) {
        if (e instanceof NftSessionBroken && e.neverAnswered) this.noSession = true;
        await this.run(['-f', '-'], script);
        return;
      }
      throw new NftError(['-i'], null, `${e.message}; the script may or may not be applied`);
    }
    if (this.session && this.session.transactions >= (this.options.sessionTransactions ?? 1000))
      this.close();
    if (answer.kind === 'refused') await this.run(['-f', '-'], script);
  }

  private get timeoutMs(): number {
    return this.options.transactionTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The long-lived nft's process, while there is one. */
  get sessionPid(): number | undefined {
    return this.session?.pid;
  }

  /** Ends the long-lived nft, if any (the next apply starts another). */
  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  async list(table: NftTableId): Promise<string> {
    try {
      return await this.run(['list', 'table', table.family, table.name], '');
    } catch (e) {
      if (e instanceof NftError && /No such file or directory/.test(e.stderr)) return '';
      throw e;
    }
  }

  /** Packets of each named counter in a table (`nft -j list counters`); {} without the table. */
  async counterPackets(table: NftTableId): Promise<Record<string, number>> {
    let text: string;
    try {
      text = await this.run(['-j', 'list', 'counters', 'table', table.family, table.name], '');
    } catch (e) {
      if (e instanceof NftError && /No such file or directory/.test(e.stderr)) return {};
      throw e;
    }
    const out: Record<string, number> = {};
    const items = (
      JSON.parse(text) as { nftables?: { counter?: { name?: unknown; packets?: unknown } }[] }
    ).nftables;
    for (const item of items ?? []) {
      const c = item.counter;
      if (c && typeof c.name === 'string' && typeof c.packets === 'number') out[c.name] = c.packets;
    }
    return out;
  }

  /** The command line that runs nft with `args` (in the namespace, if any). */
  private command(args: readonly string[]): readonly [string, readonly string[]] {
    const nft = this.options.nft ?? 'nft';
    return this.options.netns === undefined
      ? [nft, args]
      : ['ip', ['netns', 'exec', this.options.netns, nft, ...args]];
  }

  private run(args: readonly string[], input: string): Promise<string> {
    const [cmd, argv] = this.command(args);
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
      child.on('close', () => clearTimeout(timer));
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (e) => reject(new NftError(args, null, e.message)));
      child.on('close', (code) => {
        if (code === 0) resolve(stdout);
        else reject(new NftError(args, code, stderr, locateNftError(stderr, input)));
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    });
  }
}
