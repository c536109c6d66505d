import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * A record, on disk, of the long-running helpers an agent started (tcpdump,
 * conntrack), so that the next agent can end the ones a crashed agent left
 * behind. A helper that outlives its agent keeps what it holds: tcpdump keeps
 * the NFLOG group bound, and no new reader can bind it. The kernel's parent
 * death signal cannot be relied on here: tcpdump changes its user after it
 * starts, and that clears the signal.
 *
 * One file per helper, `<pid>.json`, written when it starts and removed when
 * it exits. A PID alone is not an identity (PIDs are reused), so each file
 * also holds the process's start time (field 22 of /proc/PID/stat, clock
 * ticks since boot: two processes that share a PID never share it) and its
 * command's name; only a process matching both is killed.
 */

export interface ChildLedger {
  /** A helper started: `command` is the program (its base name is what /proc shows). */
  add(pid: number, command: string): void;
  /** A helper exited. */
  remove(pid: number): void;
}

interface Entry {
  readonly pid: number;
  readonly start: string;
  readonly name: string;
}

/**
 * Field 22 of /proc/PID/stat (after the parenthesised name, which may hold
 * spaces); undefined when the process is gone or a zombie (it holds nothing).
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields from 3 (state) on: the start time, field 22, is the 20th of them.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** The base name of the program a process runs (argv[0]); undefined when gone. */
function processName(pid: number): string | undefined {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return argv0 ? basename(argv0) : undefined;
  } catch {
    return undefined;
  }
}

export class ChildRecord implements ChildLedger {
  constructor(readonly dir: string) {}

  add(pid: number, command: string): void {
    const start = processStartTime(pid);
    if (start === undefined) return; // already gone
    const entry: Entry = { pid, start, name: basename(command) };
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileSync(join(this.dir, `${pid}.json`), JSON.stringify(entry), { mode: 0o600 });
    } catch {
      // Without the record a crash may leave this helper behind; it still runs.
    }
  }

  remove(pid: number): void {
    rmSync(join(this.dir, `${pid}.json`), { force: true });
  }

  /**
   * Ends (SIGKILL) every recorded helper that still runs — same PID, same
   * start time, same program — and forgets every record. Returns what was
   * ended, `name pid` each. Call before starting helpers of one's own.
   */
  async reap(waitMs = 5000): Promise<string[]> {
    const ended: Entry[] = [];
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const file of readdirSync(this.dir)) {
      if (!/^\d+\.json$/.test(file)) continue;
      const path = join(this.dir, file);
      const e = readEntry(path);
      rmSync(path, { force: true });
      if (!e || processStartTime(e.pid) !== e.start || processName(e.pid) !== e.name) continue;
      try {
        process.kill(e.pid, 'SIGKILL');
        ended.push(e);
      } catch {
        // Gone since.
      }
    }
    // Bounded: a killed process is gone once its parent (init, for an orphan) reaps it.
    const deadline = Date.now() + waitMs;
    while (ended.some((e) => processStartTime(e.pid) === e.start) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    return ended.map((e) => `${e.name} ${e.pid}`);
  }
}

function readEntry(path: string): Entry | undefined {
  try {
    const e = JSON.parse(readFileSync(path, 'utf8')) as Partial<Entry>;
    if (typeof e.pid !== 'number' || typeof e.start !== 'string' || typeof e.name !== 'string')
      return undefined;
    return { pid: e.pid, start: e.start, name: e.name };
  } catch {
    return undefined;
  }
}
