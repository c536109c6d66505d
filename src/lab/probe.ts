import { podKey, type Cluster } from '../core/model/types.js';
import type { Matrix } from '../core/policy/matrix-report.js';
import type { Probe } from '../core/policy/matrix.js';
import { ErrorCodes, WeftError } from '../core/errors.js';
import { probeFrom, type ProbeResult, type ProbeTarget } from './probe-client.js';
import type { LabPod, LabState } from './state.js';

export interface LabProbeOptions {
  readonly probes: readonly Probe[];
  readonly from?: string;
  readonly to?: string;
  readonly timeoutMs: number;
}

/**
 * Real connections between pods, all at once: each source pod's server opens
 * them from inside its namespace. A pair counts as allowed when the packets
 * got through — the server answered (connected) or the port was closed
 * (refused) — and as denied when they vanished (timeout): weft drops, never
 * rejects. This is what `weft policy matrix` predicts.
 */
export async function labProbe(
  state: LabState,
  cluster: Cluster,
  o: LabProbeOptions,
): Promise<Matrix> {
  const keys = cluster.pods.map(podKey).filter((k) => state.pods[k]);
  const pick = (sel: string | undefined, flag: string): string[] => {
    if (sel === undefined) return keys;
    if (!state.pods[sel])
      throw WeftError.of({
        code: ErrorCodes.USAGE,
        object: `${flag} ${sel}`,
        field: '',
        message: `no such pod in lab ${state.name}`,
        fix: `name one of: ${keys.join(', ')}`,
      });
    return [sel];
  };
  const from = pick(o.from, '--from');
  const to = pick(o.to, '--to');
  const rows = await Promise.all(
    from.map((src) =>
      probeTwice(
        state.pods[src] as LabPod,
        o.probes.flatMap((p) =>
          to.map((dst) => ({
            ip: (state.pods[dst] as LabPod).ips[0] as string,
            port: p.port,
            protocol: p.protocol as 'TCP' | 'UDP',
            timeoutMs: o.timeoutMs,
          })),
        ),
      ),
    ),
  );
  const at = (k: number, i: number, j: number): ProbeResult =>
    rows[i]?.[k * to.length + j] as ProbeResult;
  return {
    from,
    to,
    probes: o.probes.map((probe, k) => ({
      probe,
      allowed: (i, j) => {
        const r = at(k, i, j);
        return r.outcome === 'connected' || r.outcome === 'refused';
      },
      mark: (i, j) => {
        const r = at(k, i, j);
        if (r.outcome === 'refused') return 'c';
        if (r.outcome === 'error') return '?';
        return undefined;
      },
    })),
  };
}

/**
 * Runs `targets` from inside `pod`; a target that timed out is tried once
 * more (a first packet can be lost while a neighbour is resolved).
 */
export async function probeTwice(
  pod: LabPod,
  targets: readonly ProbeTarget[],
): Promise<ProbeResult[]> {
  const first = await probeFrom(pod.control, targets);
  const again = first.flatMap((r, k) => (r.outcome === 'timeout' ? [k] : []));
  if (again.length === 0) return first;
  const second = await probeFrom(
    pod.control,
    again.map((k) => targets[k] as ProbeTarget),
  );
  again.forEach((k, n) => (first[k] = second[n] as ProbeResult));
  return first;
}
