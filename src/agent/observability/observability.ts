import type {
  DirectionView,
  EndpointRecord,
  EndpointView,
  IpamUsage,
  StatusDetail,
} from '../../api/types.js';
import { PROMETHEUS_CONTENT_TYPE } from '../../core/flows/prometheus.js';
import { podKey, type Cluster } from '../../core/model/types.js';
import type { PolicyIr } from '../../core/policy/ir.js';
import type { ServiceModel } from '../../core/services/types.js';
import type { PolicyDataplane } from '../../components/policy/dataplane.js';
import type { RawHandler } from '../server.js';
import { advanceCounter, NO_COUNT } from '../../core/flows/kernel-counter.js';
import type { ChildRecord } from '../../host/children.js';
import { DROP_LOG_COUNTERS } from '../../components/policy/drop-log.js';
import { flowsHandler } from './api.js';
import { AgentMetrics, policyLabel } from './metrics.js';
import { FlowPipeline } from './pipeline.js';

/**
 * Observability of one agent: the flow pipeline, `/v1/flows`, `/metrics`,
 * the detail of `/v1/status` and `/v1/endpoints/policy`. The agent hands it
 * read access to its state and tells it when a sync or a source change
 * happened; nothing here changes the dataplane.
 */

export interface FlowsConfig {
  /** Off: no drop log rules, no readers, `/v1/flows` answers 404. */
  readonly enabled: boolean;
  readonly capacity: number;
  readonly group: number;
  /** Logged drops per second per endpoint, direction and reason. */
  readonly ratePerSecond: number;
  readonly endTimeoutSeconds: number;
  /** How often expired connections are swept out of conntrack (0: never). */
  readonly sweepMs: number;
}

export const DEFAULT_FLOWS: FlowsConfig = {
  enabled: true,
  capacity: 8192,
  group: 1987,
  ratePerSecond: 100,
  endTimeoutSeconds: 10,
  sweepMs: 5000,
};

export interface AgentView {
  readonly node: string;
  readonly cluster: () => Cluster | undefined;
  readonly dataplane: () => PolicyDataplane | undefined;
  /** The Service model this node's proxy enforces, when weft's proxy runs (FlowView.services). */
  readonly services?: () => ServiceModel | undefined;
  readonly records: () => readonly EndpointRecord[];
  readonly ipam: () => Promise<readonly IpamUsage[]>;
  readonly log: (line: string) => void;
  /** The record of the flow readers' helpers, in the agent's state directory. */
  readonly helpers?: ChildRecord;
  /** Packets of the named counters in weft's nft table (the drop log's, see drop-log.ts). */
  readonly nftCounters?: () => Promise<Record<string, number>>;
}

/** How often the drop log's counters are read. */
const COUNTERS_MS = 1000;

export class Observability {
  readonly metrics: AgentMetrics;
  pipeline: FlowPipeline | undefined;
  private counterTimer: NodeJS.Timeout | undefined;
  private readonly logCounters = { wanted: NO_COUNT, sent: NO_COUNT };
  private readingCounters = false;
  private counterError: string | undefined;
  private readonly started = Date.now();

  constructor(
    readonly config: FlowsConfig,
    private readonly view: AgentView,
  ) {
    this.metrics = new AgentMetrics({
      counts: () => view.dataplane()?.counts,
      flows: () => this.pipeline?.stats(),
      ipam: view.ipam,
    });
  }

  /** The drop log options for the dataplane (undefined when flows are off). */
  get logDrops(): { group: number; ratePerSecond: number } | undefined {
    const c = this.config;
    return c.enabled ? { group: c.group, ratePerSecond: c.ratePerSecond } : undefined;
  }

  /**
   * Ends the helpers a previous agent of this node left running (it crashed:
   * a leftover tcpdump keeps the NFLOG group bound), then starts the readers;
   * after the first sync (the ruleset uses conntrack by then). A reader that
   * cannot start is tried again with backoff, its reason shown in status;
   * the agent runs on meanwhile.
   */
  async start(): Promise<void> {
    if (!this.config.enabled) return;
    const ledger = this.view.helpers;
    if (ledger) {
      const ended = await ledger.reap();
      if (ended.length)
        this.view.log(`flows: ended helpers a previous agent left running: ${ended.join(', ')}`);
    }
    const v = this.view;
    this.pipeline = FlowPipeline.start({
      node: v.node,
      capacity: this.config.capacity,
      group: this.config.group,
      endTimeoutSeconds: this.config.endTimeoutSeconds,
      sweepMs: this.config.sweepMs,
      view: {
        cluster: () => v.cluster(),
        ir: () => v.dataplane()?.ir,
        services: () => v.services?.(),
        local: () =>
          v
            .records()
            .flatMap((r) => (r.pod ? [{ key: podKey(r.pod), addresses: r.addresses }] : [])),
      },
      log: v.log,
      onFlow: (f) => this.metrics.onFlow(f),
      ledger,
    });
    if (v.nftCounters) {
      this.counterTimer = setInterval(() => void this.readCounters(), COUNTERS_MS);
      this.counterTimer.unref();
    }
  }

  /** The drop log's counters: what its rate limit kept out of the log, into the pipeline's losses. */
  async readCounters(): Promise<void> {
    const read = this.view.nftCounters;
    if (!read || this.readingCounters) return;
    this.readingCounters = true;
    try {
      const c = await read();
      const [wanted, sent] = DROP_LOG_COUNTERS;
      const w = c[wanted.name];
      const s = c[sent.name];
      if (w === undefined || s === undefined) return;
      this.logCounters.wanted = advanceCounter(this.logCounters.wanted, w);
      this.logCounters.sent = advanceCounter(this.logCounters.sent, s);
      if (this.pipeline)
        this.pipeline.dropLogLimited = this.logCounters.wanted.total - this.logCounters.sent.total;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      if (why !== this.counterError)
        this.view.log(`flows: cannot read the drop log counters: ${why}`);
      this.counterError = why;
    } finally {
      this.readingCounters = false;
    }
  }

  /** Flow work waits until the returned function is called (a policy sync runs meanwhile). */
  hold(): () => void {
    return this.pipeline?.hold() ?? (() => undefined);
  }

  /** After every sync: metrics, and flows resolve against the new state. */
  onSync(r: { kind: string; ms: number; error?: string }): void {
    this.metrics.onSync(r);
    this.pipeline?.invalidate();
  }

  async stop(): Promise<void> {
    clearInterval(this.counterTimer);
    await this.pipeline?.stop();
  }

  /** The detail `GET /v1/status` adds to ready/message. */
  status(ready: boolean): StatusDetail {
    const dp = this.view.dataplane();
    const flows: StatusDetail['flows'] = this.pipeline?.stats() ?? { enabled: false };
    const readersOk =
      !('readers' in flows) || Object.values(flows.readers).every((s) => s === 'running');
    const health = !ready ? 'starting' : dp?.last?.error || !readersOk ? 'degraded' : 'ok';
    return {
      node: this.view.node,
      health,
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
      lastSync: dp?.last ?? null,
      counts: dp?.counts ?? null,
      flows,
    };
  }

  /** Local endpoints with their labels and the policies that select them. */
  endpoints(): EndpointView[] {
    const cluster = this.view.cluster();
    const ir = this.view.dataplane()?.ir;
    const pods = new Map((cluster?.pods ?? []).map((p) => [podKey(p), p]));
    return this.view
      .records()
      .flatMap((r) => (r.pod ? [{ r, key: podKey(r.pod), pod: r.pod }] : []))
      .sort((a, b) => a.key.localeCompare(b.key))
      .map(({ r, key, pod }) => ({
        namespace: pod.namespace,
        pod: pod.name,
        ips: r.addresses.map((a) => a.split('/')[0] as string),
        labels: pods.get(key)?.labels ?? {},
        ingress: directionView(ir, key, 'ingress'),
        egress: directionView(ir, key, 'egress'),
      }));
  }

  /** Raw handlers: the flows (JSON or NDJSON stream) and the metrics. */
  handlers(): { metrics: RawHandler; flows?: RawHandler } {
    const metrics: RawHandler = async (_req, res) => {
      const text = await this.metrics.render();
      res.writeHead(200, {
        'content-type': PROMETHEUS_CONTENT_TYPE,
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const p = this.pipeline;
    return p ? { metrics, flows: flowsHandler(p, this.view.node) } : { metrics };
  }
}

function directionView(
  ir: PolicyIr | undefined,
  key: string,
  d: 'ingress' | 'egress',
): DirectionView {
  const e = ir?.endpoints.get(key);
  const names = (ids: readonly string[]) =>
    ids.flatMap((id) => {
      const p = ir?.policies.get(id);
      return p ? [policyLabel(p.ref)] : [];
    });
  const dir = e?.[d];
  return {
    isolated: (dir?.networkPolicies.length ?? 0) > 0,
    isolatedBy: names(dir?.networkPolicies ?? []),
    admin: names(dir?.admin ?? []),
    baseline: names(dir?.baseline ?? []),
  };
}
