/**
 * The VXLAN backend, flannel's layout: one device `weft-vxlan` (VNI 1, UDP
 * 4789, no learning), whose MAC and addresses are this node's VTEP; per peer
 * a permanent FDB entry (peer MAC → peer underlay address), and per peer pod
 * CIDR a permanent neighbor (peer VTEP → peer MAC) and an on-link route via
 * the peer VTEP. Everything is static: no multicast, no learning, no ARP.
 *
 * The device is created when missing and recreated only when it cannot carry
 * the plan (another kind, VNI, port or local address): a correct device is
 * never touched, so connections through it survive an agent restart.
 */
import { formatIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import type { RoutePlan, VxlanPlan } from '../core/routing/plan.js';
import { ExecError, run } from '../host/exec.js';
import { ipJson } from '../host/netlink.js';
import {
  batch,
  diffEntries,
  findUnderlay,
  ownedRoutes,
  requireUnderlay,
  wantedRoute,
  type EntryDiff,
  type KernelEntry,
  type RoutingBackend,
  type SyncReport,
} from './backend.js';

export const VXLAN_DEVICE = 'weft-vxlan';
export const VXLAN_VNI = 1;
export const VXLAN_PORT = 4789;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers. */
export const VXLAN_OVERHEAD = 50;

const DEV = VXLAN_DEVICE;

interface DeviceJson {
  readonly ifindex: number;
  readonly address?: string;
  readonly mtu: number;
  readonly flags?: readonly string[];
  readonly linkinfo?: {
    readonly info_kind?: string;
    readonly info_data?: {
      readonly id?: number;
      readonly local?: string;
      readonly port?: number;
      readonly learning?: boolean;
    };
  };
  readonly addr_info?: readonly {
    readonly local: string;
    readonly prefixlen: number;
    readonly scope?: string;
  }[];
}

/** `ip -d addr show dev weft-vxlan`: the device with its details and addresses, if it exists. */
async function showDevice(): Promise<DeviceJson | undefined> {
  try {
    const [link] = await ipJson<DeviceJson[]>(['-d', 'addr', 'show', 'dev', DEV]);
    return link;
  } catch (e) {
    if (e instanceof ExecError && /does not exist|Cannot find device/.test(e.stderr))
      return undefined;
    throw e;
  }
}

/** Why the device cannot be kept (its identity differs), or undefined when it can. */
function mismatch(link: DeviceJson, local: string): string | undefined {
  const kind = link.linkinfo?.info_kind;
  if (kind !== 'vxlan') return `it was a ${kind ?? 'plain'} device`;
  const d = link.linkinfo?.info_data ?? {};
  if (d.id !== VXLAN_VNI) return `it had VNI ${d.id}`;
  if (d.port !== VXLAN_PORT) return `it had port ${d.port}`;
  if (d.local !== local) return `it had local ${d.local ?? 'none'}`;
  return undefined;
}

/** The `ip` lines that fix what may change in place: learning, MAC, MTU, state. */
function settingLines(link: DeviceJson, mac: string, mtu: number): string[] {
  const lines: string[] = [];
  if (link.linkinfo?.info_data?.learning !== false)
    lines.push(`link set dev ${DEV} type vxlan nolearning`);
  if (link.address !== mac) lines.push(`link set dev ${DEV} address ${mac}`);
  if (link.mtu !== mtu) lines.push(`link set dev ${DEV} mtu ${mtu}`);
  if (!link.flags?.includes('UP')) lines.push(`link set dev ${DEV} up`);
  return lines;
}

/** The VTEP addresses (/32, /128) against the device's global addresses. */
function addressDiff(link: DeviceJson, vtep: readonly IpAddr[]): EntryDiff {
  const wanted = vtep.map((a): KernelEntry => {
    const cidr = `${formatIp(a)}/${a.family === 4 ? 32 : 128}`;
    const nodad = a.family === 6 ? ' nodad' : '';
    return { key: cidr, state: '', line: `addr replace ${cidr} dev ${DEV}${nodad}`, text: '' };
  });
  const owned = (link.addr_info ?? [])
    .filter((a) => a.scope === 'global')
    .map((a): KernelEntry => {
      const cidr = `${a.local}/${a.prefixlen}`;
      return { key: cidr, state: '', line: `addr del ${cidr} dev ${DEV}`, text: '' };
    });
  return diffEntries(wanted, owned);
}

interface NeighJson {
  readonly dst: string;
  readonly lladdr?: string;
}

interface FdbJson {
  readonly mac: string;
  readonly dst?: string;
  readonly state?: string;
}

function neighborDiff(plan: VxlanPlan, owned: readonly NeighJson[]): EntryDiff {
  return diffEntries(
    plan.neighbors.map((n) => {
      const address = formatIp(n.address);
      return {
        key: address,
        state: n.mac,
        line: `neigh replace ${address} lladdr ${n.mac} dev ${DEV} nud permanent`,
        text: `neigh ${address} lladdr ${n.mac} (node ${n.node})`,
      };
    }),
    owned.map((n) => ({
      key: n.dst,
      state: n.lladdr ?? '',
      line: `neigh del ${n.dst} dev ${DEV}`,
      text: `neigh ${n.dst} lladdr ${n.lladdr ?? '-'}`,
    })),
  );
}

/** Remote entries only: the device's own multicast entries have no `dst`. */
function fdbDiff(plan: VxlanPlan, owned: readonly FdbJson[]): EntryDiff {
  return diffEntries(
    plan.fdb.map((f) => {
      const dst = formatIp(f.dst);
      return {
        key: `${f.mac} ${dst}`,
        state: 'permanent',
        line: `fdb replace ${f.mac} dev ${DEV} dst ${dst} self permanent`,
        text: `fdb ${f.mac} dst ${dst} (node ${f.node})`,
      };
    }),
    owned.flatMap((f) =>
      f.dst === undefined
        ? []
        : [
            {
              key: `${f.mac} ${f.dst}`,
              state: f.state ?? '',
              line: `fdb del ${f.mac} dev ${DEV} dst ${f.dst} self`,
              text: `fdb ${f.mac} dst ${f.dst}`,
            },
          ],
    ),
  );
}

async function fdbJson(): Promise<FdbJson[]> {
  const out = await run('bridge', ['-j', 'fdb', 'show', 'dev', DEV]);
  return (out.trim() === '' ? [] : JSON.parse(out)) as FdbJson[];
}

/** Runs every batch even when one fails, then reports the first failure. */
async function applyAll(batches: readonly ['ip' | 'bridge', readonly string[]][]): Promise<void> {
  const errors: unknown[] = [];
  for (const [cmd, lines] of batches) await batch(cmd, lines).catch((e) => errors.push(e));
  if (errors.length > 0) throw errors[0];
}

export class VxlanBackend implements RoutingBackend {
  readonly name = 'vxlan';

  async sync(plan: RoutePlan): Promise<SyncReport> {
    if (plan.mode !== 'vxlan')
      throw new Error(`the vxlan backend cannot apply a ${plan.mode} plan`);
    const device = await this.ensureDevice(plan, requireUnderlay(plan));
    const [routes, neighbors, fdb] = await Promise.all([
      ownedRoutes(),
      ipJson<NeighJson[]>(['neigh', 'show', 'dev', DEV, 'nud', 'permanent']),
      fdbJson(),
    ]);
    const r = diffEntries(
      plan.routes.map((route) => wantedRoute(route, DEV, true)),
      routes,
    );
    const n = neighborDiff(plan, neighbors);
    const f = fdbDiff(plan, fdb);
    await applyAll([
      ['bridge', [...f.deletes, ...f.writes]],
      ['ip', [...r.deletes, ...n.deletes, ...n.writes, ...r.writes]],
    ]);
    return {
      backend: this.name,
      device: device.action,
      changed: [...device.changed, ...f.changed, ...n.changed, ...r.changed],
      removed: [...f.removed, ...n.removed, ...r.removed],
    };
  }

  /** Creates weft-vxlan when missing or unusable, then fixes what may change in place. */
  private async ensureDevice(plan: VxlanPlan, underlayAddr: IpAddr) {
    const local = formatIp(underlayAddr);
    const underlay = await findUnderlay(underlayAddr);
    const changed: string[] = [];
    let action: NonNullable<SyncReport['device']> = 'unchanged';
    let link = await showDevice();
    const why = link && mismatch(link, local);
    if (why !== undefined) {
      await run('ip', ['link', 'del', 'dev', DEV]);
      link = undefined;
      action = 'recreated';
      changed.push(`device ${DEV} recreated: ${why}`);
    }
    if (link === undefined) {
      await run('ip', [
        ...['link', 'add', DEV, 'type', 'vxlan', 'id', `${VXLAN_VNI}`, 'local', local],
        ...['dev', underlay.ifname, 'dstport', `${VXLAN_PORT}`, 'nolearning'],
      ]);
      link = await showDevice();
      if (link === undefined) throw new Error(`${DEV} vanished right after it was created`);
      if (action === 'unchanged') {
        action = 'created';
        changed.push(`device ${DEV} created on ${underlay.ifname}`);
      }
    }
    const settings = settingLines(link, plan.vtep.mac, underlay.mtu - VXLAN_OVERHEAD);
    const addrs = addressDiff(link, plan.vtep.addresses);
    const lines = [...settings, ...addrs.deletes, ...addrs.writes];
    if (lines.length === 0) return { action, changed };
    await batch('ip', lines);
    if (action === 'unchanged') action = 'updated';
    changed.push(...lines);
    return { action, changed };
  }
}
