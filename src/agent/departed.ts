/**
 * Releases endpoints whose network namespace went away without a CNI DEL
 * (EndpointManager.releaseDeparted), every DEPARTED_SWEEP_MS: an address and
 * a veth come back within that bound, not at the agent's next start.
 */
import type { EndpointRecord } from '../api/types.js';

/** How often the agent looks; the bound docs/install.md promises. */
export const DEPARTED_SWEEP_MS = 2000;

export interface DepartedSweep {
  stop(): Promise<void>;
}

export function sweepDeparted(
  release: () => Promise<EndpointRecord[]>,
  log: (line: string) => void,
  intervalMs = DEPARTED_SWEEP_MS,
): DepartedSweep {
  let running: Promise<void> | undefined;
  let stopped = false;
  const once = async () => {
    try {
      for (const r of await release()) {
        const pod = r.pod ? `pod ${r.pod.namespace}/${r.pod.name}` : 'an endpoint';
        log(
          `released ${pod} (container ${r.containerId}, ${r.ifname}, ${r.addresses.join(', ')}): its network namespace is gone and no DEL came`,
        );
      }
    } catch (e) {
      log(`looking for endpoints without a namespace failed: ${(e as Error).message}`);
    }
  };
  // One look at a time: a slow one delays the next instead of queueing more.
  const timer = setInterval(() => {
    if (stopped || running) return;
    running = once().finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
