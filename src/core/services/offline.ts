import { WeftError, type Issue } from '../errors.js';
import type { Cluster } from '../model/types.js';
import { allocateServices, type Assigned } from './allocate.js';
import { deriveEndpointSlices } from './derive.js';
import { DEFAULT_SERVICE_RANGES, type ServiceRanges } from './ranges.js';

/**
 * Offline (manifests, the lab), nothing runs the API server's allocators or
 * the EndpointSlice controller, so weft plays them: Services get their
 * ClusterIPs and node ports (allocateServices), then Services with a
 * selector get the EndpointSlices the controller would write
 * (deriveEndpointSlices). Run it after withDefaultAddresses, which gives
 * pods their addresses. Throws one WeftError with every allocation issue
 * (a ClusterIP or node port out of range or taken twice); the notes say
 * which pods were left out of endpoints, and why. From the API server, use
 * the Cluster as it comes instead.
 */
export function withServiceDefaults(
  cluster: Cluster,
  ranges: ServiceRanges = DEFAULT_SERVICE_RANGES,
): { cluster: Cluster; assigned: readonly Assigned[]; notes: readonly Issue[] } {
  const allocation = allocateServices(cluster, ranges);
  if (allocation.issues.length > 0) throw new WeftError(allocation.issues);
  const derived = deriveEndpointSlices(allocation.cluster);
  return { cluster: derived.cluster, assigned: allocation.assigned, notes: derived.notes };
}
