import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cluster } from '../../core/model/types.js';
import { ManifestCache } from './load.js';

export interface ManifestWatch {
  readonly close: () => void;
}

/** Every directory under `dir`, itself first. */
async function directories(dir: string): Promise<string[]> {
  const out = [dir];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) out.push(...(await directories(join(dir, e.name))));
  }
  return out;
}

/** What the directory holds, cheaply: names, sizes and modification times. */
async function fingerprint(dirs: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const d of dirs) {
    const names = (await readdir(d).catch(() => [])).sort();
    const stats = await Promise.all(names.map((n) => stat(join(d, n)).catch(() => undefined)));
    names.forEach((name, i) => {
      const s = stats[i];
      if (s) parts.push(`${d}/${name}:${s.size}:${s.mtimeMs}`);
    });
  }
  return parts.join('\n');
}

/**
 * Loads a manifests directory and reloads it whenever something under it
 * changes: inotify on every directory (debounced), and a periodic check of
 * names, sizes and times that catches anything an event missed. A load that
 * fails keeps the last good cluster and reports the error; nothing half-read
 * is ever handed on.
 */
export async function watchManifests(
  dir: string,
  onCluster: (c: Cluster) => void,
  onError: (e: unknown) => void,
  opts: { debounceMs?: number; recheckMs?: number } = {},
): Promise<ManifestWatch> {
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  let dirty = false;
  let seen = '';
  let closed = false;
  const cache = new ManifestCache();
  const schedule = () => {
    dirty = true;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(() => (dirty && !closed ? reload() : undefined));
    }, opts.debounceMs ?? 5);
  };
  const rewatch = (dirs: readonly string[]) => {
    for (const d of dirs) {
      if (watchers.has(d)) continue;
      try {
        watchers.set(
          d,
          watch(d, schedule).on('error', () => watchers.delete(d)),
        );
      } catch {
        // Gone already: the next reload sees that.
      }
    }
  };
  const reload = async (): Promise<void> => {
    dirty = false;
    const dirs = await directories(dir);
    rewatch(dirs);
    seen = await fingerprint(dirs);
    try {
      onCluster((await cache.load([dir])).cluster);
    } catch (e) {
      onError(e);
    }
  };
  await reload();
  const recheck = setInterval(() => {
    running = running.then(async () => {
      if (closed) return;
      if ((await fingerprint(await directories(dir))) !== seen) await reload();
    });
  }, opts.recheckMs ?? 2000);
  recheck.unref();
  return {
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      clearInterval(recheck);
      for (const w of watchers.values()) w.close();
    },
  };
}
