import { spawn } from 'node:child_process';
import { ErrorCodes } from '../core/errors.js';

/** A command that exited non-zero: what was run, and what it said. */
export class ExecError extends Error {
  readonly code = ErrorCodes.EXEC_FAILED;

  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || '(no output)'}`);
    this.name = 'ExecError';
  }
}

/** Runs a command with optional stdin; resolves with stdout, rejects with ExecError. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => reject(new ExecError(`${cmd} ${args.join(' ')}`, null, e.message)));
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new ExecError(`${cmd} ${args.join(' ')}`, code, stderr));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}
