/**
 * One long-lived `nft -i`, fed one transaction at a time. Each script is
 * written to a file and given as `include "FILE"`: nft reads a whole input
 * line, includes and all, as one batch, so each script stays one atomic
 * kernel transaction. After it comes a line nft cannot parse, `weftdoneN`;
 * nft answers that on stderr with an error that echoes the line, so what
 * stderr holds before that answer is the script's own output. nft says
 * nothing on stderr for a script it takes, and `Error:` for one it refuses.
 * Before the first script, a lone marker checks that this nft has an
 * interactive mode at all (a build without its CLI exits instead).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ErrorCodes } from '../core/errors.js';

/** How long nft may take with one script before the session is ended. */
export const DEFAULT_TIMEOUT_MS = 120_000;

export type SessionAnswer =
  | { readonly kind: 'applied'; readonly output: string }
  | { readonly kind: 'refused'; readonly output: string };

/**
 * The session broke. `sent`: after the script was handed to nft, so whether
 * it was applied is unknown. `neverAnswered`: nft never answered at all (no
 * interactive mode, or not startable); another session would fare no better.
 */
export class NftSessionBroken extends Error {
  readonly code = ErrorCodes.NFT_SESSION_BROKEN;
  constructor(
    message: string,
    readonly sent: boolean,
    readonly neverAnswered: boolean,
  ) {
    super(message);
    this.name = 'NftSessionBroken';
  }
}

interface Waiting {
  readonly marker: RegExp;
  readonly resolve: (output: string) => void;
  readonly reject: (e: NftSessionBroken) => void;
}

export class NftSession {
  private readonly child: ChildProcessByStdio<Writable, null, Readable>;
  /** Where the scripts are written, one new file (removed after) per transaction. */
  private readonly dir = tmpdir();
  private stderr = '';
  private waiting: Waiting | undefined;
  /** Why the session broke, if it did. */
  private broken: string | undefined;
  private answered = 0;
  private count = 0;
  /** Exchanges run one after another; the first is the lone marker. */
  private queue: Promise<unknown>;

  /**
   * Starts `cmd argv…`, which must be nft in interactive mode (`nft -i`, maybe
   * via `ip netns exec`). An exchange nft has not answered in `timeoutMs` ends
   * the session (nft is killed; the kernel applies a transaction whole or not
   * at all), so one huge script cannot hold the node's nft for good.
   */
  constructor(
    [cmd, argv]: readonly [string, readonly string[]],
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {
    if (/["\n]/.test(this.dir)) throw new Error(`cannot include scripts from ${this.dir}`);
    // HOME=/dev/null: nft's interactive mode keeps no history file (~/.nft.history).
    this.child = spawn(cmd, argv, {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...process.env, HOME: '/dev/null' },
    });
    this.child.on('error', (e) => this.fail(`nft -i could not run: ${e.message}`));
    this.child.on('exit', (code, signal) =>
      this.fail(`nft -i ended (${signal ?? `exit ${code ?? '?'}`}): ${this.stderr.trim()}`),
    );
    this.child.stdin.on('error', (e) => this.fail(`nft -i stdin: ${e.message}`));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.answer();
    });
    this.queue = this.exchange('').catch(() => undefined);
  }

  /** Scripts handed to nft so far. */
  get transactions(): number {
    return this.count - 1;
  }

  /** The nft process, while it runs. */
  get pid(): number | undefined {
    return this.broken === undefined ? this.child.pid : undefined;
  }

  /** Runs one script; rejects with NftSessionBroken when the session breaks before nft answers. */
  apply(script: string): Promise<SessionAnswer> {
    const result = this.queue.then(() => this.applyNow(script));
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.fail('nft -i closed');
    this.child.stdin.end();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }

  private async applyNow(script: string): Promise<SessionAnswer> {
    if (this.broken) throw this.brokenError(false);
    // A name nobody can guess, created here and nowhere else (`wx`: never through a link).
    const file = join(this.dir, `weft-nft-${randomBytes(12).toString('hex')}.nft`);
    await writeFile(file, script, { mode: 0o600, flag: 'wx' });
    try {
      const output = await this.exchange(`include "${file}"\n`);
      // nft prints `[FILE:LINE:COL: ]Error: …` for what it refuses, and nothing (or a warning) otherwise.
      return /Error: /.test(output) ? { kind: 'refused', output } : { kind: 'applied', output };
    } finally {
      await unlink(file).catch(() => undefined);
    }
  }

  /** Writes `line` and a marker; resolves to what stderr says before nft's answer to the marker. */
  private exchange(line: string): Promise<string> {
    if (this.broken) return Promise.reject(this.brokenError(false));
    const n = ++this.count;
    this.hold(true);
    let timer: NodeJS.Timeout | undefined;
    return new Promise<string>((resolve, reject) => {
      // nft's answer to the marker: its error line, the marker, a caret line.
      const marker = new RegExp(`(?:^|\\n)Error: [^\\n]*\\nweftdone${n}\\n[ \\t]*\\^+[ \\t]*\\n`);
      this.waiting = { marker, resolve, reject };
      timer = setTimeout(() => {
        this.fail(`nft did not answer within ${this.timeoutMs / 1000} s and was ended`);
        this.child.kill('SIGKILL');
      }, this.timeoutMs);
      this.child.stdin.write(`${line}weftdone${n}\n`);
      this.answer();
    }).finally(() => {
      clearTimeout(timer);
      this.hold(false);
    });
  }

  private answer(): void {
    const w = this.waiting;
    if (!w) return;
    const m = w.marker.exec(this.stderr);
    if (!m) return;
    const output = this.stderr.slice(0, m.index + (m[0].startsWith('\n') ? 1 : 0));
    this.stderr = this.stderr.slice(m.index + m[0].length);
    this.waiting = undefined;
    this.answered++;
    w.resolve(output);
  }

  /** While nft works on a script, its pipes keep our process alive; an idle session does not. */
  private hold(on: boolean): void {
    const method = on ? 'ref' : 'unref';
    this.child[method]();
    for (const s of [this.child.stdin, this.child.stderr])
      (s as unknown as Partial<Record<'ref' | 'unref', () => void>>)[method]?.();
  }

  private brokenError(sent: boolean): NftSessionBroken {
    return new NftSessionBroken(this.broken ?? 'nft -i broke', sent, this.answered === 0);
  }

  private fail(why: string): void {
    this.broken ??= why;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(this.brokenError(true));
  }
}
