import { probeTwice } from './probe.js';
import type { ProbeOutcome, ProbeResult } from './probe-client.js';
import type { LabPod, LabState } from './state.js';

/**
 * Real connections to a Service address from pods of the lab: every source
 * opens a connection to every ClusterIP and port of the Service. What
 * answers is whatever the nodes' rules make of the packets; nothing here
 * assumes a proxy.
 */

/** One port of the Service on one of its ClusterIPs. */
export interface ServiceProbeTarget {
  /** The Service port's name; empty for an unnamed port. */
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  readonly clusterIp: string;
}

export interface ServiceProbeResult {
  readonly from: string;
  readonly target: ServiceProbeTarget;
  readonly outcome: ProbeOutcome;
  readonly ms: number;
  readonly error?: string;
}

/** Connections from each pod of `from` (keys of the lab's pods) to each target, in that order. */
export async function labServiceProbe(
  state: LabState,
  from: readonly string[],
  targets: readonly ServiceProbeTarget[],
  timeoutMs: number,
): Promise<ServiceProbeResult[]> {
  const rows = await Promise.all(
    from.map(async (src) => {
      const results = await probeTwice(
        state.pods[src] as LabPod,
        targets.map((t) => ({ ip: t.clusterIp, port: t.port, protocol: t.protocol, timeoutMs })),
      );
      return results.map((r: ProbeResult, k) => ({
        from: src,
        target: targets[k] as ServiceProbeTarget,
        outcome: r.outcome,
        ms: r.ms,
        ...(r.error !== undefined ? { error: r.error } : {}),
      }));
    }),
  );
  return rows.flat();
}
