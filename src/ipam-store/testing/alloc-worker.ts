/**
 * A child process for the multi-process and crash tests of the IPAM store.
 * Allocates owners `<prefix>-0`, `<prefix>-1`, ... (ifname eth0) one after
 * another from the store in --dir, and prints one line per step:
 *
 *   A <containerId> <ip> [<ip>]   after allocate returned
 *   R <containerId>               after release returned (only with --keep)
 *   FULL                          a pool was exhausted (only with --until-full)
 *   DONE                          all --count owners were allocated
 *
 * With --keep K, after allocating owner i it releases owner i-K, so it can run
 * for long in a small pool. stdout is a pipe, and writes to pipes are
 * synchronous on Linux: a printed line was printed before any later step.
 *
 *   node alloc-worker.js --dir D --pool 10.0.0.0/24 [--pool fd00::/120]
 *        --prefix P --count N [--keep K] [--until-full]
 */
import { parseArgs } from 'node:util';
import { ErrorCodes, WeftError } from '../../core/errors.js';
import { parseCidr } from '../../core/net/cidr.js';
import { formatIp } from '../../core/net/ip.js';
import type { Cidr } from '../../core/net/types.js';
import { IpamStore } from '../store.js';
import type { Owner } from '../store.js';

function positiveInt(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be an integer >= 0`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      pool: { type: 'string', multiple: true },
      prefix: { type: 'string' },
      count: { type: 'string' },
      keep: { type: 'string' },
      'until-full': { type: 'boolean', default: false },
    },
  });
  if (values.dir === undefined || values.prefix === undefined) {
    throw new Error('--dir and --prefix are required');
  }
  const pools: Cidr[] = (values.pool ?? []).map((text) => {
    const parsed = parseCidr(text);
    if (parsed === undefined) throw new Error(`bad --pool ${text}`);
    return parsed.cidr;
  });
  const count = positiveInt('count', values.count);
  const keep = values.keep === undefined ? undefined : positiveInt('keep', values.keep);
  const store = new IpamStore(values.dir, pools);
  const owner = (i: number): Owner => ({ containerId: `${values.prefix}-${i}`, ifname: 'eth0' });

  for (let i = 0; i < count; i++) {
    let ips;
    try {
      ips = await store.allocate(owner(i));
    } catch (e) {
      if (values['until-full'] && e instanceof WeftError && e.code === ErrorCodes.ADDRESS) {
        process.stdout.write('FULL\n');
        return;
      }
      throw e;
    }
    process.stdout.write(`A ${owner(i).containerId} ${ips.map(formatIp).join(' ')}\n`);
    if (keep !== undefined && i >= keep) {
      await store.release(owner(i - keep));
      process.stdout.write(`R ${owner(i - keep).containerId}\n`);
    }
  }
  process.stdout.write('DONE\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
