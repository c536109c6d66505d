/**
 * The routing backends by name: a new mode is its backend's file and one
 * line here (and its name in core's RoutingMode, which the route planner
 * reads).
 */
import type { RoutingMode } from '../core/routing/plan.js';
import type { RoutingBackend } from './backend.js';
import { HostGwBackend } from './hostgw.js';
import { VxlanBackend } from './vxlan.js';

const BACKENDS: Readonly<Record<RoutingMode, () => RoutingBackend>> = {
  vxlan: () => new VxlanBackend(),
  'host-gw': () => new HostGwBackend(),
};

/** Every mode with a backend, in the order help texts list them. */
export const ROUTING_MODES = Object.keys(BACKENDS) as RoutingMode[];

export function isRoutingMode(name: string): name is RoutingMode {
  return Object.hasOwn(BACKENDS, name);
}

/** A new backend for `mode`. */
export function routingBackend(mode: RoutingMode): RoutingBackend {
  return BACKENDS[mode]();
}
