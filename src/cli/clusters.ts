import { withDefaultAddresses } from '../core/model/addresses.js';
import type { Cluster } from '../core/model/types.js';
import { withServiceDefaults } from '../core/services/offline.js';
import type { LabState } from '../lab/state.js';
import { loadManifests } from '../sources/manifests/load.js';
import { UsageError } from './output.js';

/**
 * The cluster a command reads: manifests (`-f`) or a running lab (`--lab`),
 * completed as a cluster would be: pods and nodes addressed, Services
 * allocated and their EndpointSlices derived (withServiceDefaults), so the
 * CLI sees the ClusterIPs and endpoints the agents compute from the same
 * objects.
 */

export function completed(cluster: Cluster): Cluster {
  return withServiceDefaults(withDefaultAddresses(cluster).cluster).cluster;
}

/** The cluster of the manifests in `files`. */
export async function manifestsCluster(files: readonly string[]): Promise<Cluster> {
  if (files.length === 0)
    throw new UsageError(
      'no manifests given',
      'pass -f FILE or -f DIR (repeatable), or --lab NAME',
    );
  return completed((await loadManifests([...files])).cluster);
}

/** A lab name as `weft lab` takes it; a usage error otherwise. */
export function checkLabName(name: string, flag = '--lab'): string {
  if (/^[a-z0-9][a-z0-9-]{0,15}$/.test(name)) return name;
  throw new UsageError(
    `${flag} ${name}: not a lab name`,
    'use 1-16 lowercase letters, digits and dashes, as in weft lab up --name',
  );
}

/** The state and cluster of the lab `name` (a WeftError naming it when it is not up). */
export async function labCluster(name: string): Promise<{ state: LabState; cluster: Cluster }> {
  const { Lab } = await import('../lab/lab.js');
  const lab = new Lab(checkLabName(name), () => undefined);
  const state = await lab.state();
  return { state, cluster: completed(await lab.cluster()) };
}
