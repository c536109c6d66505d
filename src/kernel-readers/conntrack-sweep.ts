import { execFile } from 'node:child_process';

/**
 * Ends expired connections now instead of when the kernel's garbage collector
 * gets to them.
 *
 * A conntrack entry whose timeout ran out (a closed TCP connection after
 * TIME_WAIT, an idle UDP flow) stays in the table — and its DESTROY event
 * unsent — until something finds it. The collector's period follows the
 * table's average remaining timeout, clamped to 1–60 s, so on a node with
 * long-lived connections an end can come a minute late. A netlink dump of the
 * table destroys every expired entry it walks past, so the flow pipeline runs
 * one every few seconds.
 *
 * The dump asks the kernel for entries whose mark, masked with 0, equals 1:
 * none can match, so the kernel walks the table (and evicts) but sends
 * nothing back.
 */

export interface SweepOptions {
  /** `ip netns exec NAME …` when given (tests); the agent sweeps its own namespace. */
  readonly netns?: string;
  /** The conntrack binary (default `conntrack`). */
  readonly conntrack?: string;
  /** Kill the dump after this long (default 5000 ms). */
  readonly timeoutMs?: number;
}

const SWEEP_ARGS: readonly string[] = ['-L', '--mark', '1/0'];

/** One sweep of the namespace's conntrack table; rejects with conntrack's own words. */
export function sweepExpiredConnections(opts: SweepOptions = {}): Promise<void> {
  const cmd = opts.conntrack ?? 'conntrack';
  const [file, argv] = opts.netns
    ? ['ip', ['netns', 'exec', opts.netns, cmd, ...SWEEP_ARGS]]
    : [cmd, [...SWEEP_ARGS]];
  return new Promise((resolve, reject) => {
    execFile(
      file,
      argv,
      { timeout: opts.timeoutMs ?? 5000, maxBuffer: 1 << 20 },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        const why = stderr.trim().split('\n').pop() || err.message;
        reject(new Error(`${[file, ...argv].join(' ')}: ${why}`));
      },
    );
  });
}
