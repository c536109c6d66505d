/**
 * The host-gw backend: when all nodes share one L2 segment, a peer's pod CIDR
 * is simply routed via the peer's underlay address, out of the interface that
 * holds ours. No encapsulation, no device of our own. Routes carry proto 77,
 * so the ones the plan no longer wants are found and deleted, and nobody
 * else's are.
 */
import type { RoutePlan } from '../core/routing/plan.js';
import {
  batch,
  diffEntries,
  findUnderlay,
  ownedRoutes,
  requireUnderlay,
  wantedRoute,
  type RoutingBackend,
  type SyncReport,
} from './backend.js';

export class HostGwBackend implements RoutingBackend {
  readonly name = 'host-gw';

  async sync(plan: RoutePlan): Promise<SyncReport> {
    if (plan.mode !== 'host-gw')
      throw new Error(`the host-gw backend cannot apply a ${plan.mode} plan`);
    const underlay = await findUnderlay(requireUnderlay(plan));
    const wanted = plan.routes.map((r) => wantedRoute(r, underlay.ifname, false));
    const diff = diffEntries(wanted, await ownedRoutes());
    await batch('ip', [...diff.deletes, ...diff.writes]);
    return { backend: this.name, changed: diff.changed, removed: diff.removed };
  }
}
