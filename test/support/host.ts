// Host commands for tests: bounded in time, in a private mount namespace,
// and stopped for sure.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A command with a time bound: resolves with its exit and output, never rejects on a non-zero exit. */
export function runFor(
  cmd: string,
  args: readonly string[],
  ms: number,
): Promise<Exit & { stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n(killed after ${ms} ms)`;
    }, ms);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** `cmd args` within `ms`, failing unless it exits 0; resolves with stdout. */
export async function mustRun(cmd: string, args: readonly string[], ms = 10_000): Promise<string> {
  const r = await runFor(cmd, args, ms);
  if (r.code !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr}`);
  return r.stdout;
}

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command line that runs `command` in a fresh private mount namespace
 * where each source is bind-mounted over its target. A target that does not
 * exist is made inside an overlay of its nearest existing ancestor, whose
 * upper layer is a tmpfs in `scratch`: the machine's own dirs are never
 * written, and every mount goes with the namespace's last process.
 */
export function withPrivateMounts(
  binds: readonly { target: string; source: string }[],
  scratch: string,
  command: readonly string[],
): string[] {
  const lines = ['set -e', `mount -t tmpfs weft-test ${quote(scratch)}`];
  const overlaid: string[] = [];
  for (const { target } of binds) {
    let base = target;
    while (!existsSync(base)) base = dirname(base);
    if (base === target || overlaid.some((o) => base === o || base.startsWith(`${o}/`))) continue;
    const up = join(scratch, String(overlaid.length), 'up');
    const work = join(scratch, String(overlaid.length), 'work');
    overlaid.push(base);
    lines.push(`mkdir -p ${quote(up)} ${quote(work)}`);
    lines.push(
      `mount -t overlay overlay -o ${quote(`lowerdir=${base},upperdir=${up},workdir=${work}`)} ${quote(base)}`,
    );
  }
  for (const { target, source } of binds) {
    lines.push(`mkdir -p ${quote(target)}`, `mount --bind ${quote(source)} ${quote(target)}`);
  }
  lines.push('exec "$@"');
  return [
    'unshare',
    '-m',
    '--propagation',
    'private',
    'sh',
    '-c',
    lines.join('\n'),
    'sh',
    ...command,
  ];
}

export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL after `ms`; resolves once it exited. */
export async function stopChild(child: ChildProcess | undefined, ms: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const giveUp = new Promise<void>((resolve) => setTimeout(resolve, ms + 5_000).unref());
  await Promise.race([closed, giveUp]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null)
    throw new Error(`pid ${child.pid} did not exit after SIGKILL`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
