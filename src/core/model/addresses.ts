import { ErrorCodes, WeftError } from '../errors.js';
import { cidrContains, cidrNth, cidrSize, formatCidr, parseCidr } from '../net/cidr.js';
import { formatIp, ipKey } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import { podKey, type Cluster, type Node, type Pod } from './types.js';

/**
 * Offline analysis needs an address for every pod and node. Manifests rarely
 * carry `status.podIP`, so weft fills the gaps deterministically:
 *
 * - a Node without InternalIP/ExternalIP gets the next free address of
 *   DEFAULT_NODE_RANGE (10.242.0.0/16), nodes taken in name order;
 * - a Pod without `status.podIP` gets the next free address of its node's
 *   `spec.podCIDRs[0]` when it has one, else of DEFAULT_POD_RANGE
 *   (10.244.0.0/16), pods taken in namespace/name order; the first address of
 *   a range (the network address) is never used;
 * - a hostNetwork pod takes its node's first address.
 *
 * Addresses written in the manifests are always kept and never handed out twice.
 */
export const DEFAULT_POD_RANGE = '10.244.0.0/16';
export const DEFAULT_NODE_RANGE = '10.242.0.0/16';

export interface AssignedAddress {
  readonly object: string;
  readonly ip: string;
}

export function withDefaultAddresses(cluster: Cluster): {
  cluster: Cluster;
  assigned: AssignedAddress[];
} {
  const taken = new Set<string>();
  for (const n of cluster.nodes) for (const a of n.addresses) taken.add(ipKey(a));
  for (const p of cluster.pods) for (const a of p.ips) taken.add(ipKey(a));
  const assigned: AssignedAddress[] = [];
  const nodeRange = new Pool(rangeOf(DEFAULT_NODE_RANGE), taken);
  const nodes: Node[] = cluster.nodes.map((n) => {
    if (n.addresses.length > 0) return n;
    const ip = nodeRange.next(`Node ${n.name}`);
    assigned.push({ object: `Node ${n.name}`, ip: formatIp(ip) });
    return { ...n, addresses: [ip] };
  });
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const pools = new Map<string, Pool>();
  const podRange = new Pool(rangeOf(DEFAULT_POD_RANGE), taken);
  const poolFor = (node: Node | undefined): Pool => {
    const cidr = node?.podCidrs.find((c) => c.family === 4);
    if (!node || !cidr) return podRange;
    let pool = pools.get(node.name);
    if (!pool) pools.set(node.name, (pool = new Pool(cidr, taken)));
    return pool;
  };
  const pods: Pod[] = cluster.pods.map((p) => {
    if (p.ips.length > 0) return p;
    const node = p.nodeName !== undefined ? byName.get(p.nodeName) : undefined;
    let ip: IpAddr;
    if (p.hostNetwork) {
      ip = node?.addresses[0] ?? nodeRange.next(`Pod ${podKey(p)}`);
    } else {
      ip = poolFor(node).next(`Pod ${podKey(p)}`);
    }
    assigned.push({ object: `Pod ${podKey(p)}`, ip: formatIp(ip) });
    return { ...p, ips: [ip] };
  });
  return { cluster: { ...cluster, nodes, pods }, assigned };
}

function rangeOf(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad built-in range ${text}`);
  return parsed.cidr;
}

/** Hands out the addresses of one CIDR in order, skipping taken ones. */
class Pool {
  private cursor = 1n;

  constructor(
    private readonly cidr: Cidr,
    private readonly taken: Set<string>,
  ) {}

  next(forWhat: string): IpAddr {
    const size = cidrSize(this.cidr);
    while (this.cursor < size) {
      const ip = cidrNth(this.cidr, this.cursor++);
      if (!ip || !cidrContains(this.cidr, ip)) break;
      const key = ipKey(ip);
      if (this.taken.has(key)) continue;
      this.taken.add(key);
      return ip;
    }
    throw WeftError.of({
      code: ErrorCodes.ADDRESS,
      object: forWhat,
      field: 'status.podIP',
      message: `no free address left in ${formatCidr(this.cidr)}`,
      fix: 'write status.podIP into the manifests, or give the node a larger spec.podCIDRs',
    });
  }
}
