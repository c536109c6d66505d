/**
 * Cross-node routing backends: one small interface, one shared sync loop.
 * A backend only makes the kernel of the agent's own network namespace equal
 * to a RoutePlan; the loop decides when (on trigger and periodically, so a
 * route deleted by hand comes back) and makes sure two syncs never overlap.
 */
import { formatCidr, parseCidr } from '../core/net/cidr.js';
import { formatIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import type { PeerRoute, RoutePlan, RoutingMode } from '../core/routing/plan.js';
import { run } from '../host/exec.js';
import { ipJson } from '../host/netlink.js';

export interface SyncReport {
  readonly backend: RoutingMode;
  /** vxlan only: what the sync did to the VXLAN device. */
  readonly device?: 'created' | 'recreated' | 'updated' | 'unchanged';
  /** Entries written because they were missing or different: `route 10.244.2.0/24 via … (node b)`. */
  readonly changed: readonly string[];
  /** Entries of ours the plan no longer wants, deleted. */
  readonly removed: readonly string[];
}

export interface RoutingBackend {
  readonly name: RoutingMode;
  /** Makes the kernel equal to the plan; throws (changing what it could) when it cannot. */
  sync(plan: RoutePlan): Promise<SyncReport>;
}

export type SyncOutcome =
  | { readonly ok: true; readonly at: number; readonly report: SyncReport }
  | { readonly ok: false; readonly at: number; readonly error: string };

export interface RouteSyncOptions {
  readonly backend: RoutingBackend;
  /** The current plan; undefined while the agent does not know the Nodes yet (the sync is skipped). */
  readonly plan: () => RoutePlan | undefined;
  /** Time between periodic syncs, measured from the end of the previous one; default 10 s. */
  readonly intervalMs?: number;
  readonly log: (line: string) => void;
}

export interface RouteSync {
  /** Asks for a sync soon (the Nodes changed); coalesces with one already waiting. */
  trigger(): void;
  /** Stops the periodic syncs; resolves once a sync in progress has finished. */
  stop(): Promise<void>;
  /** The outcome of the last finished sync, if any. */
  lastSync(): SyncOutcome | undefined;
  /** Resolves once no sync is running or waiting, with the last outcome. */
  settled(): Promise<SyncOutcome | undefined>;
}

export const DEFAULT_SYNC_INTERVAL_MS = 10_000;

function describeReport(r: SyncReport): string | undefined {
  const parts = [...r.changed.map((c) => `+${c}`), ...r.removed.map((c) => `-${c}`)];
  return parts.length > 0 ? `routing (${r.backend}): ${parts.join('; ')}` : undefined;
}

/**
 * Runs `backend.sync(plan())` now, on every trigger and every `intervalMs`,
 * one at a time: a trigger during a sync runs one more sync right after it.
 * Changes, failures and new warnings are logged; a failure is retried on the
 * next trigger or tick.
 */
export function startRouteSync(o: RouteSyncOptions): RouteSync {
  const intervalMs = o.intervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let pending = false;
  let stopped = false;
  let last: SyncOutcome | undefined;
  let lastWarnings = '';

  const once = async (): Promise<void> => {
    try {
      const plan = o.plan();
      if (plan === undefined) return;
      const warnings = plan.warnings.join('; ');
      if (warnings !== lastWarnings && warnings !== '') o.log(`routing: ${warnings}`);
      lastWarnings = warnings;
      const report = await o.backend.sync(plan);
      last = { ok: true, at: Date.now(), report };
      const text = describeReport(report);
      if (text !== undefined) o.log(text);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      last = { ok: false, at: Date.now(), error };
      o.log(`routing (${o.backend.name}): sync failed, retrying later: ${error}`);
    }
  };

  const schedule = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = stopped ? undefined : setTimeout(kick, intervalMs);
    timer?.unref();
  };

  function kick(): void {
    if (stopped) return;
    if (running !== undefined) {
      pending = true;
      return;
    }
    if (timer !== undefined) clearTimeout(timer);
    running = once().finally(() => {
      running = undefined;
      if (pending && !stopped) {
        pending = false;
        kick();
      } else {
        pending = false;
        schedule();
      }
    });
  }

  kick();
  return {
    trigger: kick,
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
    lastSync: () => last,
    async settled() {
      while (running !== undefined) await running;
      return last;
    },
  };
}

// ---------------------------------------------------------------------------
// What the backends share: the underlay lookup, our routes, and the diff of
// wanted against owned kernel entries that turns into batch lines.

/**
 * The routing protocol number on every route weft programs (`ip route show
 * proto 77`): not reserved in /etc/iproute2/rt_protos, so routes carrying it
 * are ours, and a stale one is found and removed without touching anyone
 * else's. Every proto-77 route of the main table belongs to the backend.
 */
export const ROUTE_PROTO = 77;

/** One kernel entry: its identity, the rest of it, the batch line for it, and how logs name it. */
export interface KernelEntry {
  readonly key: string;
  readonly state: string;
  /** Wanted entries: the line that writes it (`replace`); owned ones: the line that deletes it. */
  readonly line: string;
  readonly text: string;
}

export interface EntryDiff {
  /** Run first: entries of ours whose identity is not wanted at all. */
  readonly deletes: readonly string[];
  /** Then: wanted entries that are missing or differ. */
  readonly writes: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
}

export function diffEntries(
  wanted: readonly KernelEntry[],
  owned: readonly KernelEntry[],
): EntryDiff {
  const wantedKeys = new Set(wanted.map((e) => e.key));
  const present = new Set(owned.map((e) => `${e.key}\n${e.state}`));
  const stale = owned.filter((e) => !wantedKeys.has(e.key));
  const missing = wanted.filter((e) => !present.has(`${e.key}\n${e.state}`));
  return {
    deletes: stale.map((e) => e.line),
    writes: missing.map((e) => e.line),
    changed: missing.map((e) => e.text),
    removed: stale.map((e) => e.text),
  };
}

/** Runs the lines as one `CMD -force -batch -`: every line is tried, then a failure is reported. */
export async function batch(cmd: 'ip' | 'bridge', lines: readonly string[]): Promise<void> {
  if (lines.length > 0) await run(cmd, ['-force', '-batch', '-'], `${lines.join('\n')}\n`);
}

export interface Underlay {
  readonly ifname: string;
  readonly mtu: number;
}

interface AddrJson {
  readonly ifname: string;
  readonly mtu: number;
  readonly addr_info?: readonly { readonly local?: string }[];
}

/** The interface holding this node's underlay address. */
export async function findUnderlay(address: IpAddr): Promise<Underlay> {
  const text = formatIp(address);
  const links = await ipJson<AddrJson[]>([`-${address.family}`, 'addr', 'show']);
  const link = links.find((l) => l.addr_info?.some((a) => a.local === text));
  if (link === undefined) throw new Error(`underlay address ${text} is on no interface`);
  return { ifname: link.ifname, mtu: link.mtu };
}

/** The plan's underlay address, or an error saying why there is none (nothing is changed). */
export function requireUnderlay(plan: RoutePlan): IpAddr {
  if (plan.underlay !== undefined) return plan.underlay;
  throw new Error(`no underlay address for node ${plan.node}: ${plan.warnings.join('; ')}`);
}

interface RouteJson {
  readonly type?: string;
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly metric?: number;
  readonly flags?: readonly string[];
}

/** The kernel's default metric for a route given without one. */
function defaultMetric(family: 4 | 6): number {
  return family === 4 ? 0 : 1024;
}

function normalizeDst(dst: string, family: 4 | 6): string {
  const parsed = parseCidr(dst.includes('/') ? dst : `${dst}/${family === 4 ? 32 : 128}`);
  return parsed ? formatCidr(parsed.cidr) : dst;
}

function routeState(via: string | undefined, dev: string | undefined, onlink: boolean): string {
  return [via && `via ${via}`, dev && `dev ${dev}`, onlink && 'onlink'].filter(Boolean).join(' ');
}

/** Every proto-77 route of the main table, both families. */
export async function ownedRoutes(): Promise<KernelEntry[]> {
  const out: KernelEntry[] = [];
  for (const family of [4, 6] as const) {
    const routes = await ipJson<RouteJson[]>([
      `-${family}`,
      'route',
      'show',
      'proto',
      `${ROUTE_PROTO}`,
    ]);
    for (const r of routes) {
      const dst = normalizeDst(r.dst, family);
      const metric = r.metric ?? defaultMetric(family);
      const type = r.type && r.type !== 'unicast' ? `${r.type} ` : '';
      const state = routeState(r.gateway, r.dev, r.flags?.includes('onlink') ?? false);
      out.push({
        key: `${dst} metric ${metric}`,
        state: `${type}${state}`,
        line: `route del ${type}${dst} proto ${ROUTE_PROTO} metric ${metric}`,
        text: `route ${type}${dst} ${state}`,
      });
    }
  }
  return out;
}

/** The entry for a planned route out of `dev`. */
export function wantedRoute(r: PeerRoute, dev: string, onlink: boolean): KernelEntry {
  const dst = formatCidr(r.cidr);
  const state = routeState(formatIp(r.via), dev, onlink);
  return {
    key: `${dst} metric ${defaultMetric(r.cidr.family)}`,
    state,
    line: `route replace ${dst} ${state} proto ${ROUTE_PROTO}`,
    text: `route ${dst} ${state} (node ${r.node})`,
  };
}
