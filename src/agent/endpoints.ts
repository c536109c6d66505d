import { createHash } from 'node:crypto';
import { CniErrorCodes, type CniErrorCode } from '../core/cni/errors.js';
import { formatIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import {
  deleteLink,
  findLink,
  hostBatch,
  linksWithPrefix,
  netnsBatch,
  setSysctl,
} from '../host/netlink.js';
import { ExecError, run } from '../host/exec.js';
import { netnsPathProblem } from './netns-path.js';
import type { EndpointRecord, Owner, PodRef } from '../api/types.js';
import { ownerKey, type EndpointStore } from './endpoint-store.js';

/** The addresses the pod's default routes point at; the host side answers for them. */
export const GATEWAY4 = '169.254.1.1';
export const GATEWAY6 = 'fe80::1';
/** The pod side's IPv6 link-local address (each veth is its own link). */
const POD_LINK_LOCAL = 'fe80::2';

/** Host-side interfaces are `weft` + 11 hex digits of a hash of (container, ifname). */
const HOST_IF = /^weft[0-9a-f]{11}$/;

export interface AddressAllocator {
  allocate(owner: Owner): Promise<IpAddr[]>;
  release(owner: Owner): Promise<IpAddr[]>;
  list(): Promise<{ ip: IpAddr; owner: Owner }[]>;
}

export interface EndpointManagerOptions {
  readonly store: EndpointStore;
  readonly ipam: AddressAllocator;
  readonly mtu: number;
  /** Awaited before ADD returns: the endpoint's policy must be in the kernel by then. */
  readonly onReady?: (e: EndpointRecord) => Promise<void>;
  readonly onRemoved?: (e: Owner) => Promise<void>;
}

/** A failure with the CNI error code the runtime should see. */
export class EndpointError extends Error {
  constructor(
    readonly code: CniErrorCode,
    message: string,
    readonly details = '',
  ) {
    super(message);
    this.name = 'EndpointError';
  }
}

/** The veth pair: host end in the agent's namespace, pod end created inside the pod's. */
async function createVeth(r: EndpointRecord): Promise<void> {
  const host = ['link', 'add', 'name', r.hostIfname, 'address', r.hostMac, 'mtu', `${r.mtu}`];
  const pod = ['peer', 'name', r.ifname, 'address', r.podMac, 'mtu', `${r.mtu}`, 'netns', r.netns];
  const create = () => run('ip', [...host, 'type', 'veth', ...pod]);
  try {
    await create();
  } catch (e) {
    // A host interface left by an ADD that died half-way: replace it.
    const stale = e instanceof ExecError && /File exists/.test(e.stderr);
    if (!stale || !(await deleteLink(r.hostIfname))) throw e;
    await create();
  }
}

/**
 * Inside the pod: the address(es), and default routes via the link-local
 * gateway. IPv6 gets a fixed link-local address without duplicate address
 * detection, so the pod can talk at once instead of after DAD's second or two.
 */
function podCommands(ifname: string, v4: readonly string[], v6: readonly string[]): string[] {
  const cmds = ['link set lo up'];
  if (v6.length) cmds.push(`link set ${ifname} addrgenmode none`);
  cmds.push(`link set ${ifname} up`);
  for (const ip of v4) cmds.push(`addr add ${ip}/32 dev ${ifname}`);
  if (v6.length) cmds.push(`addr add ${POD_LINK_LOCAL}/64 dev ${ifname} nodad`);
  for (const ip of v6) cmds.push(`addr add ${ip}/128 dev ${ifname} nodad`);
  if (v4.length) {
    cmds.push(`route add ${GATEWAY4} dev ${ifname} scope link`);
    cmds.push(`route add default via ${GATEWAY4} dev ${ifname}`);
  }
  if (v6.length) cmds.push(`route add ::/0 via ${GATEWAY6} dev ${ifname}`);
  return cmds;
}

export function hostIfname(o: Owner): string {
  return `weft${digest(`${o.containerId}/${o.ifname}`).slice(0, 11)}`;
}

/** A locally administered unicast MAC derived from the owner, stable across retries. */
function mac(o: Owner, side: 'host' | 'pod'): string {
  const h = digest(`${side}/${o.containerId}/${o.ifname}`);
  const bytes = [0, 1, 2, 3, 4, 5].map((i) => parseInt(h.slice(i * 2, i * 2 + 2), 16));
  bytes[0] = ((bytes[0] as number) & 0xfc) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function digest(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * Pod interfaces, Calico-style routed veths: the pod gets a /32 (/128), a
 * default route via a link-local gateway that the host side answers with proxy
 * ARP / NDP, and the host gets a host route to the pod. Every packet crosses
 * the node's forward path, where policy is enforced.
 */
export class EndpointManager {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly o: EndpointManagerOptions) {}

  /** One operation at a time per (container, ifname); different pods run in parallel. */
  private serial<T>(owner: Owner, fn: () => Promise<T>): Promise<T> {
    const key = ownerKey(owner);
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return next;
  }

  add(
    owner: Owner,
    netns: string,
    opts: { pod?: PodRef; mtu?: number } = {},
  ): Promise<EndpointRecord> {
    return this.serial(owner, () => this.doAdd(owner, netns, opts.pod, opts.mtu ?? this.o.mtu));
  }

  private async doAdd(
    owner: Owner,
    netns: string,
    pod: PodRef | undefined,
    mtu: number,
  ): Promise<EndpointRecord> {
    const problem = await netnsPathProblem(netns);
    if (problem)
      throw new EndpointError(CniErrorCodes.INVALID_ENVIRONMENT, problem.message, problem.fix);
    const ips = await this.o.ipam.allocate(owner);
    const record: EndpointRecord = {
      ...owner,
      netns,
      hostIfname: hostIfname(owner),
      hostMac: mac(owner, 'host'),
      podMac: mac(owner, 'pod'),
      mtu,
      addresses: ips.map((ip) => `${formatIp(ip)}/${ip.family === 4 ? 32 : 128}`),
      ...(pod ? { pod } : {}),
      created: new Date().toISOString(),
    };
    try {
      await this.plumb(record, ips);
      await this.o.store.put(record);
      await this.o.onReady?.(record);
      return record;
    } catch (e) {
      await this.teardown(owner).catch(() => undefined);
      throw e;
    }
  }

  private async plumb(r: EndpointRecord, ips: readonly IpAddr[]): Promise<void> {
    const v4 = ips.filter((ip) => ip.family === 4).map(formatIp);
    const v6 = ips.filter((ip) => ip.family === 6).map(formatIp);
    await createVeth(r);
    await netnsBatch(r.netns, podCommands(r.ifname, v4, v6));
    const host = r.hostIfname;
    await setSysctl(`net.ipv4.conf.${host}.proxy_arp`, '1');
    await setSysctl(`net.ipv4.neigh.${host}.proxy_delay`, '0');
    if (v6.length) {
      await setSysctl(`net.ipv6.conf.${host}.proxy_ndp`, '1');
      await setSysctl(`net.ipv6.conf.${host}.accept_dad`, '0');
    }
    const cmds = [`link set ${host} up`];
    for (const ip of v4) cmds.push(`route replace ${ip}/32 dev ${host} scope link`);
    if (v6.length) cmds.push(`neigh replace proxy ${GATEWAY6} dev ${host}`);
    for (const ip of v6) cmds.push(`route replace ${ip}/128 dev ${host}`);
    await hostBatch(cmds);
  }

  /** DEL: removes the interface pair, the addresses and the record. Idempotent; the netns may be gone. */
  del(owner: Owner): Promise<void> {
    return this.serial(owner, () => this.teardown(owner));
  }

  private async teardown(owner: Owner): Promise<void> {
    await deleteLink(hostIfname(owner));
    await this.o.ipam.release(owner);
    await this.o.store.remove(owner);
    await this.o.onRemoved?.(owner);
  }

  /** GC: removes every endpoint whose (container, ifname) is not in `valid`. */
  async gc(valid: readonly Owner[]): Promise<Owner[]> {
    const keep = new Set(valid.map(ownerKey));
    const keepIfs = new Set(valid.map(hostIfname));
    const stale = new Map<string, Owner>();
    for (const a of await this.o.ipam.list())
      if (!keep.has(ownerKey(a.owner))) stale.set(ownerKey(a.owner), a.owner);
    for (const r of await this.o.store.list())
      if (!keep.has(ownerKey(r))) stale.set(ownerKey(r), r);
    for (const owner of stale.values()) await this.del(owner);
    for (const l of await linksWithPrefix('weft')) {
      if (HOST_IF.test(l.ifname) && !keepIfs.has(l.ifname)) await deleteLink(l.ifname);
    }
    return [...stale.values()];
  }

  /**
   * At start: an address whose interface does not exist belongs to an ADD
   * that never finished (the agent died); release it, so nothing leaks.
   */
  async reconcile(): Promise<{ released: Owner[] }> {
    const links = new Set((await linksWithPrefix('weft')).map((l) => l.ifname));
    const released: Owner[] = [];
    const records = new Map((await this.o.store.list()).map((r) => [ownerKey(r), r]));
    const allocated = new Set<string>();
    for (const a of await this.o.ipam.list()) {
      allocated.add(ownerKey(a.owner));
      if (links.has(hostIfname(a.owner)) && records.has(ownerKey(a.owner))) continue;
      await this.del(a.owner);
      released.push(a.owner);
    }
    for (const [key, r] of records) {
      if (allocated.has(key)) continue;
      await this.del(r);
      released.push(r);
    }
    return { released };
  }

  /**
   * Endpoints whose network namespace is gone without a DEL (`ctr run -d`
   * and a kill, a kubelet that crashed): a namespace takes its end of the veth
   * with it when it is destroyed, and the kernel then removes the pair, so a
   * record whose host interface is gone has no namespace left. Each is
   * released as DEL would, checked again under its lock so that an ADD of
   * the same attachment in the meantime is left alone.
   */
  async releaseDeparted(): Promise<EndpointRecord[]> {
    const links = new Set((await linksWithPrefix('weft')).map((l) => l.ifname));
    const gone = (await this.o.store.list()).filter((r) => !links.has(r.hostIfname));
    const released: EndpointRecord[] = [];
    for (const r of gone) {
      const done = await this.serial(r, async () => {
        const now = await this.o.store.get(r);
        if (!now || now.created !== r.created || (await findLink(r.hostIfname))) return false;
        await this.teardown(r);
        return true;
      });
      if (done) released.push(r);
    }
    return released;
  }

  list(): Promise<EndpointRecord[]> {
    return this.o.store.list();
  }

  get(owner: Owner): Promise<EndpointRecord | undefined> {
    return this.o.store.get(owner);
  }
}
