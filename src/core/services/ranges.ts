import { parseCidr } from '../net/cidr.js';
import type { Cidr, IpFamily } from '../net/types.js';
import type { IpFamilyName } from '../model/service-types.js';

/**
 * Where Services get their addresses and node ports when nothing assigned
 * them (offline and in the lab, where weft plays the API server's
 * allocators). In a cluster the API server has assigned them already.
 */
export interface ServiceRanges {
  /**
   * The service CIDRs, at most one per family. The first one's family is
   * the cluster's primary family: a Service that names none gets it.
   */
  readonly clusterIps: readonly Cidr[];
  /** The node port range, both ends included. */
  readonly nodePorts: { readonly first: number; readonly last: number };
}

/** kubeadm's default service CIDR. */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';
/** An IPv6 service CIDR for a dual-stack lab (kind's default); not used unless asked for. */
export const DUAL_STACK_SERVICE_CIDR = 'fd00:10:96::/112';
/** The API server's default --service-node-port-range. */
export const DEFAULT_NODE_PORTS = { first: 30000, last: 32767 } as const;

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad built-in range ${text}`);
  return parsed.cidr;
}

/** IPv4 only: 10.96.0.0/16, node ports 30000-32767. */
export const DEFAULT_SERVICE_RANGES: ServiceRanges = {
  clusterIps: [cidr(DEFAULT_SERVICE_CIDR)],
  nodePorts: DEFAULT_NODE_PORTS,
};

/** 10.96.0.0/16 (primary) and fd00:10:96::/112, node ports 30000-32767. */
export const DUAL_STACK_SERVICE_RANGES: ServiceRanges = {
  clusterIps: [cidr(DEFAULT_SERVICE_CIDR), cidr(DUAL_STACK_SERVICE_CIDR)],
  nodePorts: DEFAULT_NODE_PORTS,
};

export function familyName(f: IpFamily): IpFamilyName {
  return f === 4 ? 'IPv4' : 'IPv6';
}

export function familyOf(name: IpFamilyName): IpFamily {
  return name === 'IPv4' ? 4 : 6;
}
