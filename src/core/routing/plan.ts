/**
 * Cross-node pod routing, planned: from the cluster's Nodes, what this node's
 * kernel must hold so that its pods reach every other node's pods. Pure: the
 * backends in src/routing make the kernel equal to the plan.
 *
 * The underlay is IPv4 only: a node's underlay address is its first IPv4
 * address, and a node without one takes no part. (An IPv6 underlay would need
 * an IPv6 VXLAN outer header and IPv6 host-gw next hops: out of scope for now.)
 * Pod CIDRs may be IPv4 and IPv6; over VXLAN both are carried, host-gw routes
 * IPv4 only (its next hop is the peer's IPv4 underlay address).
 */
import { CidrClaims, cidrFirst, compareCidr, formatCidr } from '../net/cidr.js';
import { formatIp, ipEquals } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import type { Node } from '../model/types.js';

export type RoutingMode = 'vxlan' | 'host-gw';
export const ROUTING_MODES: readonly RoutingMode[] = ['vxlan', 'host-gw'];

/** A route to a peer's pod CIDR. */
export interface PeerRoute {
  /** The peer node the route leads to (provenance, for logs). */
  readonly node: string;
  readonly cidr: Cidr;
  /** vxlan: the peer's VTEP address (on-link on the VXLAN device); host-gw: its underlay address. */
  readonly via: IpAddr;
}

/** vxlan: a permanent neighbor entry, the peer's VTEP address → the peer's VTEP MAC. */
export interface PeerNeighbor {
  readonly node: string;
  readonly address: IpAddr;
  readonly mac: string;
}

/** vxlan: a permanent forwarding entry, the peer's VTEP MAC → the peer's underlay address. */
export interface PeerFdb {
  readonly node: string;
  readonly mac: string;
  readonly dst: IpAddr;
}

/** This node's VXLAN tunnel endpoint. */
export interface Vtep {
  /** `vtepMac(node name)`. */
  readonly mac: string;
  /** The first address of each of this node's pod CIDRs, in CIDR order. */
  readonly addresses: readonly IpAddr[];
}

interface PlanBase {
  /** This node's name. */
  readonly node: string;
  /**
   * This node's underlay address (its first IPv4 address), or undefined when
   * the node is not in the list or has no IPv4 address: then nothing can be
   * programmed, and backends refuse to sync rather than tear routes down.
   */
  readonly underlay: IpAddr | undefined;
  /** Why something was left out: overlapping CIDRs, unsupported families, a missing self. */
  readonly warnings: readonly string[];
}

export interface VxlanPlan extends PlanBase {
  readonly mode: 'vxlan';
  readonly vtep: Vtep;
  readonly routes: readonly PeerRoute[];
  readonly neighbors: readonly PeerNeighbor[];
  readonly fdb: readonly PeerFdb[];
}

export interface HostGwPlan extends PlanBase {
  readonly mode: 'host-gw';
  readonly routes: readonly PeerRoute[];
}

export type RoutePlan = VxlanPlan | HostGwPlan;

/** The first IPv4 address of a node: its underlay address. */
export function underlayOf(node: Node): IpAddr | undefined {
  return node.addresses.find((a) => a.family === 4);
}

/**
 * A node's VTEP address for one of its pod CIDRs: the CIDR's first address
 * (10.244.1.0 for 10.244.1.0/24, fd00:10:244:1:: for fd00:10:244:1::/64), as
 * flannel does. IPAM never gives that address to a pod (see core/ipam/pool.ts),
 * so every node can compute every peer's VTEP without asking it.
 */
export function vtepAddress(podCidr: Cidr): IpAddr {
  return cidrFirst(podCidr);
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** The UTF-8 bytes of a string (core cannot use node:buffer). */
function utf8(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000)
      out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else
      out.push(
        0xf0 | (cp >> 18),
        0x80 | ((cp >> 12) & 0x3f),
        0x80 | ((cp >> 6) & 0x3f),
        0x80 | (cp & 0x3f),
      );
  }
  return out;
}

/** 64-bit FNV-1a of the UTF-8 bytes of `s`. */
export function fnv1a64(s: string): bigint {
  let h = FNV64_OFFSET;
  for (const b of utf8(s)) h = ((h ^ BigInt(b)) * FNV64_PRIME) & MASK64;
  return h;
}

/**
 * A node's VTEP MAC, derived from its name alone so every agent computes every
 * peer's MAC without talking to it: the low 48 bits of FNV-1a-64 of the name,
 * with the first octet's locally-administered bit set and multicast bit clear
 * (46 hashed bits: a collision among 10 000 nodes has odds of about 1 in 10^6,
 * and the planner reports one rather than programming it).
 */
export function vtepMac(nodeName: string): string {
  const h = fnv1a64(nodeName);
  const octets: number[] = [];
  for (let i = 5; i >= 0; i--) octets.push(Number((h >> BigInt(8 * i)) & 0xffn));
  octets[0] = ((octets[0] ?? 0) & 0xfc) | 0x02;
  return octets.map((o) => o.toString(16).padStart(2, '0')).join(':');
}

/** A peer that takes part: it has an underlay address and pod CIDRs that do not clash. */
interface Peer {
  readonly name: string;
  readonly underlay: IpAddr;
  readonly mac: string;
  readonly cidrs: readonly Cidr[];
}

function byName(a: Node, b: Node): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The peers in name order, each with the pod CIDRs it may be routed: a CIDR
 * overlapping one of ours, or one already claimed by a peer earlier in name
 * order, is skipped with a warning, as is a whole peer whose VTEP MAC or
 * underlay address clashes with one already taken.
 */
function selectPeers(self: Node | undefined, nodes: readonly Node[], warnings: string[]): Peer[] {
  const claimed = new CidrClaims();
  for (const c of self?.podCidrs ?? []) claimed.claim(c);
  const macs = new Map<string, string>();
  if (self) macs.set(vtepMac(self.name), self.name);
  const selfUnderlay = self && underlayOf(self);
  const peers: Peer[] = [];
  for (const node of [...nodes].sort(byName)) {
    if (node.name === self?.name || node.podCidrs.length === 0) continue;
    const underlay = underlayOf(node);
    if (underlay === undefined) {
      if (node.addresses.length > 0)
        warnings.push(`node ${node.name}: no IPv4 address (IPv6 underlay is not supported)`);
      continue;
    }
    if (selfUnderlay && ipEquals(underlay, selfUnderlay)) {
      warnings.push(`node ${node.name}: has this node's address ${formatIp(underlay)}; skipped`);
      continue;
    }
    const mac = vtepMac(node.name);
    const macOwner = macs.get(mac);
    if (macOwner !== undefined) {
      warnings.push(`node ${node.name}: VTEP MAC ${mac} collides with node ${macOwner}; skipped`);
      continue;
    }
    macs.set(mac, node.name);
    const cidrs: Cidr[] = [];
    for (const cidr of [...node.podCidrs].sort(compareCidr)) {
      const clash = claimed.claim(cidr);
      if (clash !== undefined) {
        warnings.push(
          `node ${node.name}: pod CIDR ${formatCidr(cidr)} overlaps ${formatCidr(clash)}; not routed`,
        );
        continue;
      }
      cidrs.push(cidr);
    }
    if (cidrs.length > 0) peers.push({ name: node.name, underlay, mac, cidrs });
  }
  return peers;
}

function planVxlan(self: Node | undefined, selfName: string, peers: readonly Peer[]) {
  const routes: PeerRoute[] = [];
  const neighbors: PeerNeighbor[] = [];
  const fdb: PeerFdb[] = [];
  for (const p of peers) {
    fdb.push({ node: p.name, mac: p.mac, dst: p.underlay });
    for (const cidr of p.cidrs) {
      const vtep = vtepAddress(cidr);
      routes.push({ node: p.name, cidr, via: vtep });
      neighbors.push({ node: p.name, address: vtep, mac: p.mac });
    }
  }
  const own = [...(self?.podCidrs ?? [])].sort(compareCidr).map(vtepAddress);
  const vtep: Vtep = { mac: vtepMac(selfName), addresses: own };
  return { vtep, routes, neighbors, fdb };
}

function planHostGw(peers: readonly Peer[], warnings: string[]): PeerRoute[] {
  const routes: PeerRoute[] = [];
  for (const p of peers) {
    for (const cidr of p.cidrs) {
      if (cidr.family === 4) routes.push({ node: p.name, cidr, via: p.underlay });
      else
        warnings.push(`node ${p.name}: host-gw routes IPv4 only; ${formatCidr(cidr)} not routed`);
    }
  }
  return routes;
}

/**
 * What this node must program to reach every other node's pods. Nodes
 * without an IPv4 address or without pod CIDRs, and this node itself,
 * contribute nothing. The result is the same whatever the order of `nodes`.
 */
export function planRoutes(selfName: string, nodes: readonly Node[], mode: RoutingMode): RoutePlan {
  const warnings: string[] = [];
  const self = nodes.find((n) => n.name === selfName);
  const underlay = self && underlayOf(self);
  if (self === undefined) warnings.push(`node ${selfName}: not in the node list`);
  else if (underlay === undefined)
    warnings.push(`node ${selfName}: no IPv4 address (IPv6 underlay is not supported)`);
  const peers = selectPeers(self, nodes, warnings);
  switch (mode) {
    case 'vxlan':
      return { mode, node: selfName, underlay, warnings, ...planVxlan(self, selfName, peers) };
    case 'host-gw': {
      const routes = planHostGw(peers, warnings);
      return { mode, node: selfName, underlay, warnings, routes };
    }
    default: {
      const never: never = mode;
      throw new Error(`unknown routing mode ${String(never)}`);
    }
  }
}
