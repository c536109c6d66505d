import { ErrorCodes, type Issue } from '../errors.js';
import { usableRange } from '../ipam/pool.js';
import { formatCidr } from '../net/cidr.js';
import { formatIp, ipKey } from '../net/ip.js';
import type { Cidr, IpAddr } from '../net/types.js';
import type { IpFamilyName, Service, ServicePort } from '../model/service-types.js';
import { describeObject, type Cluster } from '../model/types.js';
import { claimNodePorts, NodePortPool } from './node-ports.js';
import { DEFAULT_SERVICE_RANGES, familyName, familyOf, type ServiceRanges } from './ranges.js';

/**
 * What the API server's allocators would give the Services of a Cluster
 * built from manifests, deterministically, as pod addresses are given
 * today (core/model/addresses.ts):
 *
 * - every value written in a Service is kept, and is an issue when it is
 *   out of its range or taken by another Service (the issue names both);
 * - a Service without ClusterIPs (not headless, not ExternalName) gets the
 *   next free address of the service CIDR of each of its IP families,
 *   Services taken in namespace/name order; the network address (and the
 *   IPv4 broadcast address) is never used, and the first address after it
 *   (10.96.0.1) is kept for the `kubernetes` Service of `default`, as
 *   kube-apiserver keeps it;
 * - IP families follow spec.ipFamilies, else the families of written
 *   clusterIPs, else the cluster's primary family; PreferDualStack and
 *   RequireDualStack add the other family when the ranges have it
 *   (RequireDualStack without it is an issue);
 * - a NodePort Service, and a LoadBalancer unless
 *   allocateLoadBalancerNodePorts is false, gets a node port for every port
 *   without one (ports of the same number, as TCP and UDP, share one), the
 *   lowest free in the range; a LoadBalancer with externalTrafficPolicy
 *   Local gets a healthCheckNodePort the same way.
 *
 * Adding a Service may move the values of the Services after it: write them
 * in the manifests to pin them.
 */

export interface Assigned {
  /** `Service shop/web`. */
  readonly object: string;
  readonly field: string;
  readonly value: string;
}

export interface Allocation {
  /** The Cluster with every Service allocated (Services with issues as written). */
  readonly cluster: Cluster;
  readonly assigned: readonly Assigned[];
  readonly issues: readonly Issue[];
}

export function allocateServices(
  cluster: Cluster,
  ranges: ServiceRanges = DEFAULT_SERVICE_RANGES,
): Allocation {
  const issues: Issue[] = [];
  const assigned: Assigned[] = [];
  const takenIps = new Map<string, Service>();
  const refused = new Set<Service>();
  for (const s of cluster.services) {
    if (!claimClusterIps(s, ranges, takenIps, issues)) refused.add(s);
  }
  const claims = claimNodePorts(cluster.services, ranges.nodePorts);
  issues.push(...claims.issues);
  for (const s of claims.refused) refused.add(s);
  const usedIps = new Set(takenIps.keys());
  const ipPools = new Map(ranges.clusterIps.map((c) => [c.family, new IpPool(c, usedIps)]));
  const nodePorts = new NodePortPool(ranges.nodePorts, claims.taken);
  let changed = false;
  const services = cluster.services.map((s) => {
    if (refused.has(s)) return s;
    const out = allocateOne(s, ranges, { ipPools, nodePorts }, { issues, assigned });
    changed ||= out !== s;
    return out;
  });
  return { cluster: changed ? { ...cluster, services } : cluster, assigned, issues };
}

function issue(s: Service, field: string, message: string, fix: string): Issue {
  return { code: ErrorCodes.ADDRESS, object: describeObject(s), field, message, fix };
}

/** The field a written ClusterIP is reported at. */
function clusterIpField(s: Service, i: number): string {
  return s.clusterIps.kind === 'set' && s.clusterIps.ips.length > 1
    ? `spec.clusterIPs[${i}]`
    : 'spec.clusterIP';
}

/** Claims the written ClusterIPs of `s`; false (with issues) when one is out of range or taken. */
function claimClusterIps(
  s: Service,
  ranges: ServiceRanges,
  taken: Map<string, Service>,
  issues: Issue[],
): boolean {
  if (s.type === 'ExternalName' || s.clusterIps.kind !== 'set') return true;
  let ok = true;
  s.clusterIps.ips.forEach((ip, i) => {
    const field = clusterIpField(s, i);
    const range = ranges.clusterIps.find((c) => c.family === ip.family);
    const usable = range && usableRange(range);
    if (!range || !usable || ip.value < usable.first.value || ip.value > usable.last.value) {
      const where = range ? `the service range ${formatCidr(range)}` : rangesText(ranges);
      issues.push(
        issue(
          s,
          field,
          `${formatIp(ip)} is not an address of ${where}`,
          `write an address of ${where}, or drop ${field} to have one assigned`,
        ),
      );
      ok = false;
      return;
    }
    const other = taken.get(ipKey(ip));
    if (other) {
      issues.push(
        issue(
          s,
          field,
          `${formatIp(ip)} is also the ClusterIP of ${describeObject(other)}`,
          `give every Service its own ClusterIP, or drop ${field} to have one assigned`,
        ),
      );
      ok = false;
      return;
    }
    taken.set(ipKey(ip), s);
  });
  return ok;
}

function rangesText(ranges: ServiceRanges): string {
  const list = ranges.clusterIps.map(formatCidr).join(', ');
  return list === '' ? 'no service range' : `the service ranges (${list})`;
}

/** The IP families of `s`, as the API server defaults them; undefined (with an issue) when unservable. */
function familiesOf(
  s: Service,
  ranges: ServiceRanges,
  issues: Issue[],
): IpFamilyName[] | undefined {
  const available = ranges.clusterIps.map((c) => familyName(c.family));
  if (s.clusterIps.kind === 'none' && s.selector === undefined && s.ipFamilies.length === 0) {
    // A headless Service without a selector may have endpoints of any family.
    return available;
  }
  const written =
    s.ipFamilies.length > 0
      ? [...s.ipFamilies]
      : s.clusterIps.kind === 'set'
        ? s.clusterIps.ips.map((ip) => familyName(ip.family))
        : available.slice(0, 1);
  const policy = s.ipFamilyPolicy ?? (written.length > 1 ? 'RequireDualStack' : 'SingleStack');
  const other = available.find((f) => f !== written[0]);
  if (policy !== 'SingleStack' && written.length === 1 && other) written.push(other);
  const missing = written.find((f) => !available.includes(f));
  const dual = policy === 'RequireDualStack' && written.length < 2;
  if (missing || dual || written.length === 0) {
    const want = missing ?? (written[0] === 'IPv4' ? 'IPv6' : 'IPv4');
    issues.push(
      issue(
        s,
        missing ? 'spec.ipFamilies' : 'spec.ipFamilyPolicy',
        `needs an ${want} ClusterIP, and ${rangesText(ranges)} have none of that family`,
        `give weft an ${want} service range, or ask for the families it has`,
      ),
    );
    return undefined;
  }
  return written;
}

interface Pools {
  readonly ipPools: ReadonlyMap<number, IpPool>;
  readonly nodePorts: NodePortPool;
}

interface Out {
  readonly issues: Issue[];
  readonly assigned: Assigned[];
}

function allocateOne(s: Service, ranges: ServiceRanges, pools: Pools, out: Out): Service {
  if (s.type === 'ExternalName') return s;
  const families = familiesOf(s, ranges, out.issues);
  if (!families) return s;
  const object = describeObject({ kind: s.kind, namespace: s.namespace, name: s.name });
  const note = (field: string, value: string) => out.assigned.push({ object, field, value });
  let next: Service = s;
  if (families.join() !== s.ipFamilies.join()) {
    next = { ...next, ipFamilies: families };
    note('spec.ipFamilies', families.join(','));
  }
  if (s.clusterIps.kind !== 'none') {
    const have = s.clusterIps.kind === 'set' ? s.clusterIps.ips : [];
    const ips: IpAddr[] = [];
    for (const f of families) {
      const own = have.find((ip) => ip.family === familyOf(f));
      const ip = own ?? pools.ipPools.get(familyOf(f))?.next(isKubernetesService(s));
      if (!ip) {
        const cidr = ranges.clusterIps.find((c) => c.family === familyOf(f)) as Cidr;
        out.issues.push(
          issue(
            s,
            'spec.clusterIP',
            `no free address left in the service range ${formatCidr(cidr)}`,
            'give weft a larger service range, or write spec.clusterIP',
          ),
        );
        return s;
      }
      ips.push(ip);
    }
    if (ips.length !== have.length) {
      next = { ...next, clusterIps: { kind: 'set', ips } };
      note('spec.clusterIPs', ips.map(formatIp).join(','));
    }
  }
  return allocateNodePorts(next, pools.nodePorts, out, note);
}

function allocateNodePorts(
  s: Service,
  pool: NodePortPool,
  out: Out,
  note: (field: string, value: string) => void,
): Service {
  const wanted =
    s.type === 'NodePort' || (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts);
  const byNumber = new Map<number, number>();
  for (const p of s.ports)
    if (p.nodePort !== undefined && !byNumber.has(p.port)) byNumber.set(p.port, p.nodePort);
  let changed = false;
  const ports: ServicePort[] = [];
  for (const [i, p] of s.ports.entries()) {
    if (p.nodePort !== undefined || !wanted) {
      ports.push(p);
      continue;
    }
    const nodePort = byNumber.get(p.port) ?? pool.next();
    if (nodePort === undefined) return exhausted(s, `spec.ports[${i}].nodePort`, pool, out);
    byNumber.set(p.port, nodePort);
    ports.push({ ...p, nodePort });
    note(`spec.ports[${i}].nodePort`, String(nodePort));
    changed = true;
  }
  let next = changed ? { ...s, ports } : s;
  const needsHealthCheck = s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
  if (needsHealthCheck && s.healthCheckNodePort === undefined) {
    const healthCheckNodePort = pool.next();
    if (healthCheckNodePort === undefined)
      return exhausted(s, 'spec.healthCheckNodePort', pool, out);
    next = { ...next, healthCheckNodePort };
    note('spec.healthCheckNodePort', String(healthCheckNodePort));
  }
  return next;
}

function exhausted(s: Service, field: string, pool: NodePortPool, out: Out): Service {
  out.issues.push(
    issue(
      s,
      field,
      `no free node port left in ${pool.rangeText}`,
      'give weft a larger node port range, or use fewer NodePort Services',
    ),
  );
  return s;
}

/** `default/kubernetes`: the API server's own Service, which takes the first address. */
function isKubernetesService(s: Service): boolean {
  return s.namespace === 'default' && s.name === 'kubernetes';
}

/**
 * The usable addresses of one service CIDR in order, skipping taken ones;
 * the first usable one is handed only to the `kubernetes` Service. Lazy: an
 * IPv6 range is never materialised.
 */
class IpPool {
  private cursor: bigint;
  private readonly last: bigint;
  private readonly reserved: bigint;

  constructor(
    private readonly cidr: Cidr,
    private readonly taken: Set<string>,
  ) {
    const usable = usableRange(cidr);
    this.reserved = usable ? usable.first.value : 0n;
    this.cursor = usable ? usable.first.value + 1n : 1n;
    this.last = usable ? usable.last.value : 0n;
  }

  next(kubernetes: boolean): IpAddr | undefined {
    const first: IpAddr = { family: this.cidr.family, value: this.reserved };
    if (kubernetes && this.reserved <= this.last && !this.taken.has(ipKey(first))) {
      this.taken.add(ipKey(first));
      return first;
    }
    while (this.cursor <= this.last) {
      const ip: IpAddr = { family: this.cidr.family, value: this.cursor++ };
      if (this.taken.has(ipKey(ip))) continue;
      this.taken.add(ipKey(ip));
      return ip;
    }
    return undefined;
  }
}
