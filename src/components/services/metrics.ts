import {
  MetricsRegistry,
  type Counter,
  type Gauge,
  type Histogram,
} from '../../core/flows/prometheus.js';
import type { ServiceModel } from '../../core/services/types.js';
import type { CleanupResult } from './conntrack-cleanup.js';

/**
 * The Service proxy's Prometheus metrics, kube-proxy's (pkg/proxy/metrics)
 * under weft's names. Counters and gauges exist from the start at 0, every
 * label value included; a histogram's series appears with its first
 * observation (the first sync comes right after start).
 */

export type SyncKind = 'full' | 'partial';
export const SYNC_KINDS: readonly SyncKind[] = ['full', 'partial'];

/** Where a Service port with a Local traffic policy finds no endpoint on this node. */
export const TRAFFIC_POLICIES = ['internal', 'external'] as const;

export type HealthPath = 'healthz' | 'livez';

const SYNC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** From 5 ms (weft's aim) to 5 minutes (kube-proxy's largest bucket). */
const PROGRAMMING_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

export class ServiceProxyMetrics {
  private readonly syncs: Histogram;
  private readonly syncErrors: Counter;
  private readonly lastSync: Gauge;
  private readonly programming: Histogram;
  private readonly noLocal: Gauge;
  private readonly deleted: Counter;
  private readonly cleanupFailures: Counter;
  private readonly healthChecks: Gauge;
  private readonly healthz: Counter;

  /** Registers on `registry`: the agent's own, so its `/metrics` carries these. */
  constructor(readonly registry: MetricsRegistry = new MetricsRegistry()) {
    const r = registry;
    this.syncs = r.histogram(
      'weft_services_sync_duration_seconds',
      'Service proxy sync: model, render and the nftables transaction.',
      ['kind'],
      SYNC_BUCKETS,
    );
    this.syncErrors = r.counter(
      'weft_services_sync_errors_total',
      'Service proxy syncs that failed (the next one is full).',
      ['kind'],
    );
    this.lastSync = r.gauge(
      'weft_services_last_sync_timestamp_seconds',
      'When the Service rules were last synced without error (Unix time; 0: not yet).',
    );
    this.programming = r.histogram(
      'weft_services_network_programming_duration_seconds',
      'From a Service or EndpointSlice change until the rules that carry it are committed.',
      [],
      PROGRAMMING_BUCKETS,
    );
    this.noLocal = r.gauge(
      'weft_services_no_local_endpoints',
      'Service ports (per IP family) with a Local traffic policy, endpoints in the cluster and none on this node: their traffic of that kind is dropped here.',
      ['traffic_policy'],
    );
    this.deleted = r.counter(
      'weft_services_conntrack_entries_deleted_total',
      'UDP and SCTP conntrack entries deleted because their endpoint or frontend went away, or their frontend started forwarding.',
    );
    this.cleanupFailures = r.counter(
      'weft_services_conntrack_cleanup_failures_total',
      'conntrack deletions that failed or were not run in time (their clients may stay stuck until the entries expire).',
    );
    this.healthChecks = r.gauge(
      'weft_services_health_check_servers',
      'healthCheckNodePort servers: serving, or failed to listen (e.g. the port is in use).',
      ['state'],
    );
    this.healthz = r.counter(
      'weft_services_proxy_healthz_total',
      "Answers of the proxy's /healthz and /livez, by status code.",
      ['path', 'code'],
    );
    for (const kind of SYNC_KINDS) this.syncErrors.inc({ kind }, 0);
    this.lastSync.set({}, 0);
    for (const p of TRAFFIC_POLICIES) this.noLocal.set({ traffic_policy: p }, 0);
    this.deleted.inc({}, 0);
    this.cleanupFailures.inc({}, 0);
    this.setHealthCheckServers(0, 0);
    for (const path of ['healthz', 'livez'])
      for (const code of ['200', '503']) this.healthz.inc({ path, code }, 0);
  }

  /** One sync, ended at `at` (ms since the epoch) when it succeeded. */
  onSync(r: { kind: SyncKind; ms: number; error?: string; at?: number }): void {
    if (r.error) return this.syncErrors.inc({ kind: r.kind });
    this.syncs.observe({ kind: r.kind }, r.ms / 1000);
    this.lastSync.set({}, (r.at ?? Date.now()) / 1000);
  }

  /**
   * Rules committed at `committedAt` carry the changes made at `changedAt`
   * (ms since the epoch: an EndpointSlice's last-change-trigger-time, or
   * when the agent saw the change). A change time after the commit (clocks
   * apart) counts as 0.
   */
  onProgrammed(changedAt: readonly number[], committedAt: number): void {
    for (const t of changedAt) {
      if (!Number.isFinite(t)) continue;
      this.programming.observe({}, Math.max(0, committedAt - t) / 1000);
    }
  }

  /** The model now in force. */
  onModel(model: ServiceModel): void {
    let internal = 0;
    let external = 0;
    for (const p of model.ports) {
      if (!p.hasEndpoints || p.localEndpoints.length > 0) continue;
      if (p.internal.policy === 'Local') internal++;
      if (p.external?.policy === 'Local') external++;
    }
    this.noLocal.set({ traffic_policy: 'internal' }, internal);
    this.noLocal.set({ traffic_policy: 'external' }, external);
  }

  onConntrackCleanup(r: CleanupResult): void {
    this.deleted.inc({}, r.deleted);
    this.cleanupFailures.inc({}, r.failures.length);
  }

  setHealthCheckServers(serving: number, failed: number): void {
    this.healthChecks.set({ state: 'serving' }, serving);
    this.healthChecks.set({ state: 'failed' }, failed);
  }

  onHealthz(path: HealthPath, code: 200 | 503): void {
    this.healthz.inc({ path, code: String(code) });
  }

  /** The exposition of the registry these metrics are in. */
  render(): string {
    return this.registry.render();
  }
}
