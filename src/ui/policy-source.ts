import { AgentClient, type AgentAddress } from '../api/client.js';
import { AgentRoutes } from '../api/routes.js';
import { irFromJson } from '../core/policy/ir-json.js';
import { WeftError } from '../core/errors.js';
import type { Cluster } from '../core/model/types.js';
import { withServiceDefaults } from '../core/services/offline.js';
import type { NodeIr } from '../core/policy/node-irs.js';

/** Where the UI reads policy from: the agents' IRs, and (in a lab) the cluster model. */
export interface PolicySource {
  /** The IR each agent enforces now; agents that fail are reported, not fatal. */
  irs(): Promise<{ readonly irs: readonly NodeIr[]; readonly errors: readonly string[] }>;
  /** The cluster's objects, where the UI can read them (a lab's manifests); else undefined. */
  cluster(): Promise<Cluster | undefined>;
}

const CACHE_MS = 1000;

/**
 * Reads `/v1/ir` of every agent (at most once a second); the cluster's objects
 * from `cluster` (an agent's own model, or a lab's manifests).
 */
export function agentPolicySource(
  agents: () => readonly AgentAddress[],
  cluster: () => Promise<Cluster | undefined> = () => Promise.resolve(undefined),
): PolicySource {
  let cached: { at: number; value: Promise<{ irs: NodeIr[]; errors: string[] }> } | undefined;
  const fetchIrs = async () => {
    const answers = await Promise.allSettled(
      agents().map(async (a) => {
        const json = await new AgentClient(a).get(AgentRoutes.ir).catch((e: Error) => {
          throw new Error(`agent ${a.node}: ${e.message}`);
        });
        if (!json) throw new Error(`agent ${a.node} has no policy IR yet (not synced)`);
        return { node: a.node, ir: irFromJson(json) };
      }),
    );
    const irs: NodeIr[] = [];
    const errors: string[] = [];
    for (const r of answers) {
      if (r.status === 'fulfilled') irs.push(r.value);
      else errors.push(String((r.reason as Error).message));
    }
    return { irs, errors };
  };
  return {
    irs() {
      const now = Date.now();
      if (!cached || now - cached.at > CACHE_MS) cached = { at: now, value: fetchIrs() };
      return cached.value;
    },
    cluster,
  };
}

/**
 * A lab's objects, as its manifests say (read at most once a second), with
 * what the lab plays the controllers for: Services without a ClusterIP or
 * node port get the ones weft allocates offline, Services with a selector
 * the EndpointSlices the controller would write (core/services/offline.ts).
 */
export function labCluster(lab: string): () => Promise<Cluster> {
  let cached: { at: number; value: Promise<Cluster> } | undefined;
  return async () => {
    const now = Date.now();
    if (!cached || now - cached.at > CACHE_MS) {
      const { Lab } = await import('../lab/lab.js');
      cached = { at: now, value: new Lab(lab, () => undefined).cluster().then(withControllers) };
    }
    return cached.value;
  };
}

/** The cluster with what offline controllers would add; as it is when they cannot (an allocation conflict). */
export function withControllers(cluster: Cluster): Cluster {
  try {
    return withServiceDefaults(cluster).cluster;
  } catch (e) {
    if (e instanceof WeftError) return cluster;
    throw e;
  }
}
