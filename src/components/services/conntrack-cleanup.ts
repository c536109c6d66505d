import { spawn } from 'node:child_process';
import { formatIp } from '../../core/net/ip.js';
import type { ConntrackFilter } from '../../core/services/conntrack-plan.js';

/**
 * Deletes the conntrack entries a Service change leaves stale
 * (core/services/conntrack-plan.ts), one `conntrack -D` with exact filters
 * each. It never throws into the sync that calls it: every failure comes
 * back with the filter it concerns, and the whole run is bounded in time.
 */

export interface CleanupOptions {
  /** `ip netns exec NAME …` when given (tests); the agent cleans its own namespace. */
  readonly netns?: string;
  /** The conntrack binary (default `conntrack`). */
  readonly conntrack?: string;
  /** One command is killed after this long (default 2000 ms). */
  readonly timeoutMs?: number;
  /** Filters not started this long after the run began are not run, and reported (default 5000 ms). */
  readonly deadlineMs?: number;
  /** Commands at once (default 4). */
  readonly concurrency?: number;
}

export interface CleanupFailure {
  readonly filter: ConntrackFilter;
  /** The command and what it said. */
  readonly message: string;
}

export interface CleanupResult {
  /** Filters run without error (whether they matched entries or not). */
  readonly done: number;
  /** Entries deleted, as conntrack counted them. */
  readonly deleted: number;
  readonly failures: readonly CleanupFailure[];
  readonly ms: number;
}

const FAMILY = { 4: 'ipv4', 6: 'ipv6' } as const;

/** `conntrack` arguments deleting what one filter names, e.g. `-D -f ipv4 -p udp --orig-dst 10.96.0.10 --orig-port-dst 53 --reply-src 10.244.1.5 --reply-port-src 5353`. */
export function conntrackDeleteArgs(f: ConntrackFilter): string[] {
  const args = ['-D', '-f', FAMILY[f.family], '-p', f.protocol.toLowerCase()];
  if (f.dst) args.push('--orig-dst', formatIp(f.dst));
  args.push('--orig-port-dst', String(f.dstPort));
  if (f.endpoint)
    args.push('--reply-src', formatIp(f.endpoint.ip), '--reply-port-src', String(f.endpoint.port));
  return args;
}

/** conntrack says how many entries it deleted, on stderr, and exits 1 when that is 0. */
const DELETED = /(\d+) flow entries have been deleted/;

type Outcome = { readonly deleted: number } | { readonly error: string };

/** The command line of one filter: `[file, ...argv]`. */
function commandOf(f: ConntrackFilter, opts: CleanupOptions): string[] {
  const cmd = opts.conntrack ?? 'conntrack';
  const args = conntrackDeleteArgs(f);
  return opts.netns ? ['ip', 'netns', 'exec', opts.netns, cmd, ...args] : [cmd, ...args];
}

/** The last bytes of stderr kept: conntrack's count, or its complaint. */
const STDERR_KEPT = 4096;

/**
 * One `conntrack -D`. Its stdout (every entry deleted, one a line) is not
 * read: a deletion of many entries must not fill a buffer.
 */
function runOne(f: ConntrackFilter, opts: CleanupOptions, timeoutMs: number): Promise<Outcome> {
  const [file, ...argv] = commandOf(f, opts) as [string, ...string[]];
  const command = [file, ...argv].join(' ');
  return new Promise((resolve) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-STDERR_KEPT);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ error: `${command}: ${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const counted = DELETED.exec(stderr);
      if (counted && (code === 0 || code === 1)) return resolve({ deleted: Number(counted[1]) });
      const why = timedOut
        ? `no answer within ${timeoutMs} ms`
        : stderr.trim().split('\n').pop() ||
          `exit ${code ?? 'by a signal'}, no count of deleted entries`;
      resolve({ error: `${command}: ${why}` });
    });
  });
}

/** Runs the filters; resolves, never rejects, with what was deleted and what failed. */
export async function deleteStaleEntries(
  filters: readonly ConntrackFilter[],
  opts: CleanupOptions = {},
): Promise<CleanupResult> {
  const { timeoutMs = 2000, deadlineMs = 5000, concurrency = 4 } = opts;
  const start = Date.now();
  const deadline = start + deadlineMs;
  const failures: (CleanupFailure & { readonly at: number })[] = [];
  let done = 0;
  let deleted = 0;
  let next = 0;
  const worker = async () => {
    while (next < filters.length) {
      const at = next++;
      const filter = filters[at] as ConntrackFilter;
      if (Date.now() > deadline) {
        const message = `${commandOf(filter, opts).join(' ')}: not run, the cleanup's ${deadlineMs} ms had passed`;
        failures.push({ filter, message, at });
        continue;
      }
      const out = await runOne(filter, opts, timeoutMs);
      if ('error' in out) failures.push({ filter, message: out.error, at });
      else {
        done++;
        deleted += out.deleted;
      }
    }
  };
  const n = Math.max(1, Math.min(concurrency, filters.length));
  await Promise.all(Array.from({ length: n }, worker));
  failures.sort((a, b) => a.at - b.at);
  return {
    done,
    deleted,
    failures: failures.map(({ filter, message }) => ({ filter, message })),
    ms: Date.now() - start,
  };
}
