import { watch, type FSWatcher } from 'node:fs';
import type { Cluster } from '../../core/model/types.js';
import { loadManifests } from './load.js';

export interface ManifestWatch {
  readonly close: () => void;
}

/**
 * Loads a manifests directory and reloads it whenever a file under it
 * changes (debounced). A load that fails keeps the last good cluster and
 * reports the error; nothing half-read is ever handed on.
 */
export async function watchManifests(
  dir: string,
  onCluster: (c: Cluster) => void,
  onError: (e: unknown) => void,
  debounceMs = 30,
): Promise<ManifestWatch> {
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  let dirty = false;
  const reload = async (): Promise<void> => {
    dirty = false;
    try {
      onCluster((await loadManifests([dir])).cluster);
    } catch (e) {
      onError(e);
    }
  };
  await reload();
  const watcher: FSWatcher = watch(dir, { recursive: true }, () => {
    dirty = true;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(() => (dirty ? reload() : undefined));
    }, debounceMs);
  });
  return {
    close: () => {
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}
