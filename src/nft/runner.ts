/**
 * Runs nft: a whole transaction as one `nft -f -` (script on stdin, so one
 * atomic kernel transaction), and the listing of weft's table.
 */
import { spawn } from 'node:child_process';
import { TABLE_FAMILY, TABLE_NAME } from './model.js';

export interface NftRunner {
  /** Applies a script as one transaction: all of it, or (throwing NftError) none of it. */
  apply(script: string): Promise<void>;
  /** `nft list table inet weft`; '' when the table does not exist. */
  list(): Promise<string>;
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
}

/** The real nft binary. */
export class RealNft implements NftRunner {
  constructor(private readonly options: RealNftOptions = {}) {}

  async apply(script: string): Promise<void> {
    await this.run(['-f', '-'], script);
  }

  async list(): Promise<string> {
    try {
      return await this.run(['list', 'table', TABLE_FAMILY, TABLE_NAME], '');
    } catch (e) {
      if (e instanceof NftError && /No such file or directory/.test(e.stderr)) return '';
      throw e;
    }
  }

  private run(args: readonly string[], input: string): Promise<string> {
    const nft = this.options.nft ?? 'nft';
    const [cmd, argv] =
      this.options.netns === undefined
        ? [nft, args]
        : ['ip', ['netns', 'exec', this.options.netns, nft, ...args]];
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
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
