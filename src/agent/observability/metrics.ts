import {
  MetricsRegistry,
  type Counter,
  type Gauge,
  type Histogram,
} from '../../core/flows/prometheus.js';
import { decidingPolicies, type Flow } from '../../core/flows/types.js';
import type { PolicyRef } from '../../core/policy/ir.js';
import { ListenerMetrics } from '../../listen/metrics.js';
import type { FlowStats, TableCounts } from '../../api/types.js';

/**
 * The agent's Prometheus metrics. Counters are kept as events happen;
 * gauges (endpoints, rules, IPAM, memory, losses) are read from their owners
 * at each scrape.
 */

export interface MetricsSources {
  readonly counts: () => TableCounts | undefined;
  readonly flows: () => FlowStats | undefined;
  readonly ipam: () => Promise<readonly { cidr: string; allocated: number; capacity: number }[]>;
}

const SYNC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function policyLabel(ref: PolicyRef): string {
  return ref.kind === 'NetworkPolicy' ? `${ref.namespace}/${ref.name}` : ref.name;
}

export class AgentMetrics {
  readonly registry = new MetricsRegistry();
  /** Refusals and streams of the agent's TCP listeners (and the unix socket's streams). */
  readonly listeners = new ListenerMetrics(this.registry);
  private readonly flows: Counter;
  private readonly drops: Counter;
  private readonly syncs: Histogram;
  private readonly syncErrors: Counter;
  private readonly enforce: Histogram;
  private readonly gauges: Record<
    'endpoints' | 'policies' | 'rules' | 'sets' | 'elements' | 'buffered' | 'memory',
    Gauge
  >;
  private readonly lost: Counter;
  private readonly sweepFailures: Counter;
  private readonly ipamAllocated: Gauge;
  private readonly ipamCapacity: Gauge;

  constructor(private readonly sources: MetricsSources) {
    const r = this.registry;
    this.flows = r.counter('weft_flows_total', 'Flows recorded, by verdict, direction and event.', [
      'verdict',
      'direction',
      'event',
    ]);
    this.drops = r.counter(
      'weft_policy_drops_total',
      'Dropped packets logged, by the policy that decided (policy="" when unknown).',
      ['kind', 'policy'],
    );
    this.lost = r.counter(
      'weft_flow_events_lost_total',
      'Flow events not recorded: queue = the agent was behind (each one event), kernel = socket overflows (each one or more events), rate_limit = drops the drop log rate limit kept out of the log, malformed.',
      ['source', 'where'],
    );
    this.sweepFailures = r.counter(
      'weft_flow_conntrack_sweep_failures_total',
      'Sweeps of expired conntrack entries that failed (connection ends then wait for the kernel, up to a minute).',
    );
    this.syncs = r.histogram(
      'weft_policy_sync_duration_seconds',
      'Policy sync: compile, render and the nftables transaction.',
      ['kind'],
      SYNC_BUCKETS,
    );
    this.syncErrors = r.counter('weft_policy_sync_errors_total', 'Policy syncs that failed.');
    this.enforce = r.histogram(
      'weft_source_to_enforcement_seconds',
      'From a change seen in the source until the kernel enforces it.',
      [],
      SYNC_BUCKETS,
    );
    this.gauges = {
      endpoints: r.gauge('weft_endpoints', "This node's pod endpoints with policy."),
      policies: r.gauge(
        'weft_policies',
        'Compiled policies (per direction) in force on this node.',
      ),
      rules: r.gauge('weft_nft_rules', "Rules in weft's nftables table."),
      sets: r.gauge('weft_nft_sets', "Sets and verdict maps in weft's nftables table."),
      elements: r.gauge('weft_nft_set_elements', 'Elements of those sets and maps.'),
      buffered: r.gauge('weft_flows_buffered', 'Flows held in the ring buffer.'),
      memory: r.gauge('weft_process_memory_bytes', 'Agent process memory.', ['type']),
    };
    this.ipamAllocated = r.gauge('weft_ipam_allocated', 'Pod addresses allocated.', ['cidr']);
    this.ipamCapacity = r.gauge('weft_ipam_capacity', 'Pod addresses usable.', ['cidr']);
    r.onCollect(() => this.collect());
  }

  onFlow(f: Flow): void {
    this.flows.inc({ verdict: f.verdict, direction: f.direction, event: f.event });
    if (f.event !== 'drop') return;
    const refs = decidingPolicies(f.decidedBy);
    if (refs.length === 0) this.drops.inc({ kind: '', policy: '' });
    for (const ref of refs) this.drops.inc({ kind: ref.kind, policy: policyLabel(ref) });
  }

  onSync(r: { kind: string; ms: number; error?: string }): void {
    if (r.error) this.syncErrors.inc();
    else this.syncs.observe({ kind: r.kind }, r.ms / 1000);
  }

  onEnforced(ms: number): void {
    this.enforce.observe({}, ms / 1000);
  }

  async render(): Promise<string> {
    const pools = await this.sources.ipam();
    this.ipamAllocated.reset();
    this.ipamCapacity.reset();
    for (const p of pools) {
      this.ipamAllocated.set({ cidr: p.cidr }, p.allocated);
      this.ipamCapacity.set({ cidr: p.cidr }, p.capacity);
    }
    return this.registry.render();
  }

  private collect(): void {
    const c = this.sources.counts();
    const g = this.gauges;
    g.endpoints.set({}, c?.endpoints ?? 0);
    g.policies.set({}, c?.policies ?? 0);
    g.rules.set({}, c?.rules ?? 0);
    g.sets.set({}, c?.sets ?? 0);
    g.elements.set({}, c?.setElements ?? 0);
    const f = this.sources.flows();
    g.buffered.set({}, f?.buffered ?? 0);
    if (f) {
      const l = f.losses;
      this.lost.set({ source: 'nflog', where: 'queue' }, l.nflogQueue);
      this.lost.set({ source: 'nflog', where: 'kernel' }, l.nflogKernel);
      this.lost.set({ source: 'conntrack', where: 'queue' }, l.conntrackQueue);
      this.lost.set({ source: 'conntrack', where: 'kernel' }, l.conntrackKernel);
      this.lost.set({ source: 'any', where: 'malformed' }, l.malformed);
      this.lost.set({ source: 'nflog', where: 'rate_limit' }, l.dropLogLimit);
      this.sweepFailures.set({}, f.sweepFailures);
    }
    const m = process.memoryUsage();
    g.memory.set({ type: 'rss' }, m.rss);
    g.memory.set({ type: 'heap_used' }, m.heapUsed);
    g.memory.set({ type: 'external' }, m.external);
  }
}
