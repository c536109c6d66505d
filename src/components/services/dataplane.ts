/**
 * The Service proxy of one node: the cluster (from the source) → the node's
 * Service model → the services table (SERVICE_TABLE), kept in the kernel by
 * its own TableSync — never the policy table, and never by listing the
 * kernel's table: full on start (atomically replacing what an earlier agent
 * left, so no connection is reset and no rule goes missing meanwhile) and
 * after any failure (retried a second later), partial otherwise, nothing
 * when the model renders to the same table. After each commit: the UDP and
 * SCTP conntrack entries the change left stale are deleted, the
 * healthCheckNodePort servers follow the model, and the proxy's health and
 * metrics are updated.
 */
import type { ServiceCounts, ServiceProxyStatus, SyncReport, SyncResult } from '../../api/types.js';
import { formatCidr } from '../../core/net/cidr.js';
import { formatIp } from '../../core/net/ip.js';
import type { Cidr } from '../../core/net/types.js';
import type { Cluster } from '../../core/model/types.js';
import type { LoadBalancing } from '../../core/model/service-types.js';
import { planConntrackCleanup } from '../../core/services/conntrack-plan.js';
import { buildServiceModel } from '../../core/services/model.js';
import type { ServiceModel } from '../../core/services/types.js';
import type { NftTable } from '../../nft/model.js';
import type { NftRunner } from '../../nft/runner.js';
import { TableSync } from '../../nft/sync.js';
import { Coalesced } from '../coalesce.js';
import { deleteStaleEntries, type CleanupOptions } from './conntrack-cleanup.js';
import type { ProxyHealth, ServiceHealthServers } from './health-check.js';
import type { ServiceProxyMetrics } from './metrics.js';
import { ServiceRenderer } from './render.js';
import { SERVICE_TABLE } from './table.js';
import { withServiceDefaults } from '../../core/services/offline.js';
import { WeftError } from '../../core/errors.js';

/** After a failed sync, the next (full) one is tried this much later even if nothing changes. */
const RETRY_MS = 1000;

export interface ServiceProxyOptions {
  /** For Services without weft's lb-algorithm annotation (default random). */
  readonly loadBalancing?: LoadBalancing;
  /** The service ranges: an address of them that no Service has is dropped. */
  readonly serviceCidrs: readonly Cidr[];
  /** This node's own pod ranges, besides those the Nodes carry. */
  readonly podCidrs?: () => readonly Cidr[];
  /** Stale UDP and SCTP conntrack entries are deleted after each change (`false`: not). */
  readonly conntrack?: CleanupOptions | false;
  readonly healthChecks?: ServiceHealthServers;
  readonly health?: ProxyHealth;
  readonly metrics?: ServiceProxyMetrics;
}

function counts(model: ServiceModel, table: NftTable): ServiceCounts {
  let rules = 0;
  for (const c of table.chains.values()) rules += c.rules.length;
  const endpoints = new Set<string>();
  for (const p of model.ports)
    for (const e of [...p.clusterEndpoints, ...p.localEndpoints])
      endpoints.add(`${p.id} ${formatIp(e.ip)}:${e.port}`);
  return {
    ports: model.ports.length,
    frontends: model.ports.reduce((n, p) => n + p.frontends.length, 0),
    endpoints: endpoints.size,
    chains: table.chains.size,
    rules,
  };
}

/** The pod ranges of the cluster: every Node's, and this node's own; sorted, unique. */
function podRanges(cluster: Cluster, own: readonly Cidr[]): Cidr[] {
  const all = new Map<string, Cidr>();
  for (const c of [...cluster.nodes.flatMap((n) => n.podCidrs), ...own]) all.set(formatCidr(c), c);
  return [...all.values()];
}

export class ServiceDataplane {
  private readonly table: TableSync;
  private readonly renderer = new ServiceRenderer();
  private readonly syncs = new Coalesced(() => this.run());
  /** When each change not yet in the kernel was seen (ms since the epoch). */
  private changes: number[] = [];
  /** Conflicts and health-check problems already logged, so each is said once. */
  private readonly said = new Set<string>();
  /** The model the kernel's rules carry. */
  model: ServiceModel | undefined;
  last: SyncReport | undefined;
  counts: ServiceCounts | undefined;

  constructor(
    runner: NftRunner,
    private readonly nodeName: string,
    private readonly cluster: () => Cluster | undefined,
    private readonly log: (line: string) => void,
    private readonly options: ServiceProxyOptions,
  ) {
    this.table = new TableSync(runner);
  }

  /** Resolves when the kernel holds the Services known at the time of the call. */
  sync(): Promise<SyncResult> {
    this.changes.push(Date.now());
    this.options.health?.queued();
    return this.syncs.request();
  }

  status(): Extract<ServiceProxyStatus, { enabled: true }> {
    return {
      enabled: true,
      table: `${SERVICE_TABLE.family} ${SERVICE_TABLE.name}`,
      lastSync: this.last ?? null,
      counts: this.counts ?? null,
    };
  }

  /** Closes the health-check servers; the rules stay (a restart resets no connection). */
  async close(): Promise<void> {
    await this.options.healthChecks?.close();
  }

  private async run(): Promise<SyncResult> {
    const t0 = performance.now();
    const cluster = this.cluster();
    if (!cluster) return { kind: 'noop', ms: 0 };
    const changes = this.changes;
    this.changes = [];
    const o = this.options;
    try {
      const model = buildServiceModel(
        cluster,
        this.nodeName,
        o.loadBalancing ? { loadBalancing: o.loadBalancing } : {},
      );
      const { table, conflicts } = this.renderer.render(model, {
        podCidrs: podRanges(cluster, o.podCidrs?.() ?? []),
        serviceCidrs: o.serviceCidrs,
      });
      for (const c of conflicts)
        this.once(
          `conflict ${c.key} ${c.dropped}`,
          `services: ${c.dropped} and ${c.kept} both claim ${c.key}; ${c.kept} keeps it`,
        );
      const applied = await this.table.apply(table);
      const committed = Date.now();
      const before = this.model;
      this.model = model;
      this.counts = counts(model, table);
      o.health?.updated();
      const result = { kind: applied.kind, ms: performance.now() - t0 };
      this.last = { ...result, at: new Date(committed).toISOString() };
      if (applied.kind !== 'noop') {
        o.metrics?.onSync({ kind: applied.kind, ms: result.ms, at: committed });
        o.metrics?.onProgrammed(changes, committed);
        this.log(
          `services: ${applied.kind} sync in ${result.ms.toFixed(1)} ms (${applied.bytes} bytes)`,
        );
      }
      o.metrics?.onModel(model);
      await this.afterCommit(before, model, cluster);
      return result;
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.changes.unshift(...changes);
      this.last = { kind: 'full', ms: performance.now() - t0, at: new Date().toISOString(), error };
      o.metrics?.onSync({ kind: 'full', ms: this.last.ms, error });
      this.log(`services: sync failed, retrying in ${RETRY_MS} ms with a full sync: ${error}`);
      setTimeout(() => void this.sync().catch(() => undefined), RETRY_MS).unref();
      throw e;
    }
  }

  /** Stale conntrack entries, then the health-check servers; neither fails the sync. */
  private async afterCommit(
    before: ServiceModel | undefined,
    model: ServiceModel,
    cluster: Cluster,
  ): Promise<void> {
    const o = this.options;
    if (before && o.conntrack !== false) {
      const filters = planConntrackCleanup(before, model);
      if (filters.length > 0) {
        const r = await deleteStaleEntries(filters, o.conntrack ?? {});
        o.metrics?.onConntrackCleanup(r);
        for (const f of r.failures) this.log(`services: conntrack cleanup: ${f.message}`);
      }
    }
    if (o.healthChecks) {
      const node = cluster.nodes.find((n) => n.name === this.nodeName);
      const addresses = (node?.addresses ?? []).map(formatIp);
      const status = await o.healthChecks.sync(model.healthChecks, addresses);
      o.metrics?.setHealthCheckServers(status.serving.length, status.failed.length);
      for (const p of status.failed) this.once(`health ${p.message}`, `services: ${p.message}`);
    }
  }

  private once(key: string, line: string): void {
    if (this.said.has(key)) return;
    this.said.add(key);
    this.log(line);
  }
}

/**
 * Offline (a manifests directory, the lab), nothing allocates ClusterIPs
 * and node ports or writes EndpointSlices: the cluster as the API server
 * and the EndpointSlice controller would make it (withServiceDefaults). Every
 * agent reading the same manifests computes the same. When allocation
 * fails (two Services on one address), the cluster is kept as it is and
 * the error says which.
 */
export function withOfflineServices(c: Cluster): { cluster: Cluster; error?: string } {
  try {
    return { cluster: withServiceDefaults(c).cluster };
  } catch (e) {
    if (!(e instanceof WeftError)) throw e;
    return { cluster: c, error: e.message };
  }
}
