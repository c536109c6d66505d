import { compareIp, ipKey } from '../net/ip.js';
import type { IpAddr, IpFamily } from '../net/types.js';
import type { Backend, ServiceModel, ServicePortModel } from './types.js';

/**
 * Which conntrack entries must go when a node's Service model changes, so a
 * UDP or SCTP client is not blackholed — kube-proxy's cleanup
 * (pkg/proxy/conntrack), as exact filters computed from the previous and
 * the next model.
 *
 * A UDP "connection" has no end: as long as a client keeps sending, its
 * conntrack entry lives, and every packet follows the DNAT the first one
 * got. When the endpoint it was sent to goes away the client is stuck with
 * it; when a frontend had no endpoint, its entries (of packets rejected or
 * dropped, or sent before it was a frontend at all) would keep those
 * packets from being forwarded once it has one. A TCP client learns of a
 * gone endpoint (a reset, a timeout) and opens a new connection; SCTP
 * associations are cleaned like UDP, as kube-proxy cleans them.
 *
 * Frontends are compared as the kernel sees them: an address and port
 * (ClusterIP, external IP, load balancer IP), or a node port (any address
 * of the node), per IP family and protocol. A frontend's endpoints are all
 * those its rules can send to: the port's cluster and local endpoints,
 * compared by address and port.
 */

export type CleanupProtocol = 'UDP' | 'SCTP';

export type CleanupReason =
  /** The entries to this frontend DNATed to an endpoint it no longer sends to. */
  | 'endpoint-removed'
  /** The entries DNATed through a frontend that is no longer one. */
  | 'frontend-removed'
  /** Every entry to a frontend that forwards now and did not before (no endpoints, or not a frontend). */
  | 'frontend-opened';

export interface ConntrackFilter {
  readonly family: IpFamily;
  readonly protocol: CleanupProtocol;
  /** The original destination; absent for a node port, whatever node address it reached. */
  readonly dst?: IpAddr;
  /** The original destination port: the Service port, or the node port. */
  readonly dstPort: number;
  /** The reply's source: the endpoint the entry was DNATed to; absent, every entry to the frontend. */
  readonly endpoint?: { readonly ip: IpAddr; readonly port: number };
  readonly reason: CleanupReason;
  /** The Service port the frontend belongs (or belonged) to, `kube-system/dns:dns/UDP`. */
  readonly service: string;
}

interface FrontendState {
  readonly family: IpFamily;
  readonly protocol: CleanupProtocol;
  readonly dst?: IpAddr;
  readonly dstPort: number;
  readonly service: string;
  /** By `ip:port`. */
  readonly endpoints: Map<string, Backend>;
}

function cleaned(p: ServicePortModel): p is ServicePortModel & { protocol: CleanupProtocol } {
  return p.protocol === 'UDP' || p.protocol === 'SCTP';
}

const endpointKey = (b: { ip: IpAddr; port: number }) => `${ipKey(b.ip)}:${b.port}`;

/** Every UDP and SCTP frontend of a model, with the endpoints its rules send to. */
function frontendsOf(model: ServiceModel): Map<string, FrontendState> {
  const out = new Map<string, FrontendState>();
  for (const p of model.ports) {
    if (!cleaned(p)) continue;
    const endpoints = new Map<string, Backend>();
    for (const b of [...p.clusterEndpoints, ...p.localEndpoints]) endpoints.set(endpointKey(b), b);
    for (const f of p.frontends) {
      const dst = f.kind === 'NodePort' ? undefined : f.ip;
      const key = `${p.family}/${p.protocol}/${dst ? ipKey(dst) : '*'}/${f.port}`;
      const seen = out.get(key);
      if (seen) {
        for (const [k, b] of endpoints) seen.endpoints.set(k, b);
        continue;
      }
      out.set(key, {
        family: p.family,
        protocol: p.protocol,
        ...(dst ? { dst } : {}),
        dstPort: f.port,
        service: p.id,
        endpoints: new Map(endpoints),
      });
    }
  }
  return out;
}

function filter(f: FrontendState, reason: CleanupReason, endpoint?: Backend): ConntrackFilter {
  return {
    family: f.family,
    protocol: f.protocol,
    ...(f.dst ? { dst: f.dst } : {}),
    dstPort: f.dstPort,
    ...(endpoint ? { endpoint: { ip: endpoint.ip, port: endpoint.port } } : {}),
    reason,
    service: f.service,
  };
}

/** Sorted: family, protocol, address frontends before node ports, address, port, endpoint. */
function compareFilters(a: ConntrackFilter, b: ConntrackFilter): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.protocol !== b.protocol) return a.protocol < b.protocol ? -1 : 1;
  if (!a.dst || !b.dst) {
    if (a.dst || b.dst) return a.dst ? -1 : 1;
  } else if (compareIp(a.dst, b.dst) !== 0) return compareIp(a.dst, b.dst);
  if (a.dstPort !== b.dstPort) return a.dstPort - b.dstPort;
  if (!a.endpoint || !b.endpoint) return (a.endpoint ? 1 : 0) - (b.endpoint ? 1 : 0);
  return compareIp(a.endpoint.ip, b.endpoint.ip) || a.endpoint.port - b.endpoint.port;
}

/**
 * The conntrack entries to delete after `next` replaced `prev` in the
 * kernel. With no previous model (the agent just started) there is nothing
 * to compare, and the caller passes none: an unchanged Service keeps its
 * clients.
 */
export function planConntrackCleanup(prev: ServiceModel, next: ServiceModel): ConntrackFilter[] {
  const before = frontendsOf(prev);
  const after = frontendsOf(next);
  const out: ConntrackFilter[] = [];
  for (const [key, was] of before) {
    const now = after.get(key);
    for (const [k, b] of was.endpoints) {
      if (!now) out.push(filter(was, 'frontend-removed', b));
      else if (!now.endpoints.has(k)) out.push(filter(now, 'endpoint-removed', b));
    }
  }
  for (const [key, now] of after) {
    const was = before.get(key);
    if (now.endpoints.size > 0 && !was?.endpoints.size) out.push(filter(now, 'frontend-opened'));
  }
  return out.sort(compareFilters);
}
