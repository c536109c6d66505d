/**
 * What the agent API answers, route by route (routes.ts says which route
 * answers which): the agent's handlers return these types and every client
 * reads them. They are public JSON: extend them compatibly.
 */
import type { Flow } from '../core/flows/types.js';
import type { Labels } from '../core/labels.js';
import type { KubernetesSourceStatus } from '../sources/kubernetes/source.js';
import type { PublisherStatus } from '../sources/kubernetes/node-annotations.js';

export type { CniWireRequest, CniWireResponse } from '../core/cni/wire.js';
export type { IrJson } from '../core/policy/ir-json.js';

// ---- GET /v1/status, GET /healthz ----

/** Whether the agent serves CNI requests: what every agent answers. */
export interface AgentReadiness {
  readonly ready: boolean;
  /** Why the agent is not ready (or any note when it is). */
  readonly message?: string;
}

export interface SyncResult {
  readonly kind: 'full' | 'partial' | 'noop';
  /** Compile + render + kernel, milliseconds. */
  readonly ms: number;
}

/** The last policy sync: when, and why it failed if it did. */
export interface SyncReport extends SyncResult {
  readonly at: string;
  readonly error?: string;
}

/** What the last successful sync put in the kernel. */
export interface TableCounts {
  readonly endpoints: number;
  readonly policies: number;
  readonly chains: number;
  readonly rules: number;
  readonly sets: number;
  /** Set and verdict-map elements. */
  readonly setElements: number;
}

export interface FlowLoss {
  /** Drop events discarded because the pipeline was behind. */
  readonly nflogQueue: number;
  /** Times the NFLOG socket overflowed (each: one or more drops not logged). */
  readonly nflogKernel: number;
  /** Connection events discarded because the pipeline was behind. */
  readonly conntrackQueue: number;
  /**
   * Connection starts and ends the kernel could not deliver (the event socket
   * overflowed), counted one by one: an end whose start never came; a
   * connection gone from the table, after an overflow, whose end never came.
   */
  readonly conntrackKernel: number;
  /** Records that could not be decoded. */
  readonly malformed: number;
  /**
   * Drops not logged because the drop log's rate limit refused them (nft
   * counters drop_log_wanted minus drop_log_sent).
   */
  readonly dropLogLimit: number;
}

/** The flow readers: drops from NFLOG, connections from conntrack. */
export type FlowReader = 'nflog' | 'conntrack';

export interface FlowStats {
  readonly enabled: true;
  /** Flows recorded since the agent started. */
  readonly seen: number;
  readonly buffered: number;
  readonly capacity: number;
  /** Flows pushed out of the full ring (not lost: older than the buffer holds). */
  readonly overwritten: number;
  /** Sum of `losses`. */
  readonly lost: number;
  readonly losses: FlowLoss;
  /** `starting`, `running`, `failed: WHY` (cannot start), `restarting: WHY` (it stopped). */
  readonly readers: { readonly nflog: string; readonly conntrack: string };
  /** Readers waiting to be tried again: failed tries in a row, and when the next one is. */
  readonly retries: Partial<
    Record<FlowReader, { readonly failures: number; readonly nextAttemptInMs: number }>
  >;
  /** Sweeps of the conntrack table that failed (the last reason is logged). */
  readonly sweepFailures: number;
  /** Times the conntrack event socket overflowed (each lost event is in losses.conntrackKernel). */
  readonly conntrackOverflows: number;
}

/** The detail a weft agent adds to its readiness. */
export interface StatusDetail {
  readonly node: string;
  /** `starting` until ready; `degraded` when the last sync failed or a flow reader is not running. */
  readonly health: 'starting' | 'degraded' | 'ok';
  readonly uptimeSeconds: number;
  readonly lastSync: SyncReport | null;
  readonly counts: TableCounts | null;
  readonly flows: FlowStats | { readonly enabled: false };
  /** Absent from agents older than the Service proxy. */
  readonly services?: ServiceProxyStatus;
}

/** What the services table holds (after its last successful sync). */
export interface ServiceCounts {
  /** Service ports (per IP family) with rules. */
  readonly ports: number;
  readonly frontends: number;
  readonly endpoints: number;
  readonly chains: number;
  readonly rules: number;
}

/** The Service proxy of an agent (`--service-proxy`). */
export type ServiceProxyStatus =
  | { readonly enabled: false }
  | {
      readonly enabled: true;
      /** `inet weft-services`. */
      readonly table: string;
      readonly lastSync: SyncReport | null;
      readonly counts: ServiceCounts | null;
    };

/** The agent answers readiness and detail; a client reads the detail where there is one. */
export type StatusAnswer = AgentReadiness & Partial<StatusDetail>;

// ---- GET /v1/flows ----

/** A flow, and what one through a Service carries (`service`, `translatedFrom`, `masqueraded`). */
export type { Flow, FlowAddress, FlowService } from '../core/flows/types.js';

export interface FlowsAnswer {
  /**
   * The buffered flows that match the query, oldest first. A connection this
   * agent's node translated names the Service and has the endpoint as its
   * destination; this agent alone does not name the Service of a connection
   * another node translated (clients reading many agents join them:
   * core/flows/service-join.ts).
   */
  readonly flows: readonly Flow[];
  readonly node: string;
  /** Flow events lost since the agent started (FlowStats.lost). */
  readonly lost: number;
}

// ---- GET /v1/policy ----

export interface PolicyAnswer {
  /** Absent until the first sync. */
  readonly lastSync?: SyncReport;
  /** `namespace/name` of every NetworkPolicy. */
  readonly networkPolicies: readonly string[];
  /** The name of every ClusterNetworkPolicy. */
  readonly clusterNetworkPolicies: readonly string[];
}

// ---- GET /v1/endpoints/policy ----

export interface DirectionView {
  /** NetworkPolicies select the pod in this direction: only what they allow gets through. */
  readonly isolated: boolean;
  /** Those NetworkPolicies, `namespace/name`. */
  readonly isolatedBy: readonly string[];
  /** ClusterNetworkPolicies selecting the pod, Admin then Baseline tier, by name. */
  readonly admin: readonly string[];
  readonly baseline: readonly string[];
}

/** A local pod, its labels and the policies that select it. */
export interface EndpointView {
  readonly namespace: string;
  readonly pod: string;
  readonly ips: readonly string[];
  readonly labels: Labels;
  readonly ingress: DirectionView;
  readonly egress: DirectionView;
}

// ---- GET /v1/source ----

export type SourceStatus =
  | { readonly kind: 'manifests'; readonly dir: string }
  | ({ readonly kind: 'kubernetes' } & KubernetesSourceStatus);

export interface SourceAnswer {
  /** Null without a source. */
  readonly source: SourceStatus | null;
  /** The agent's own Node annotations; null unless the source is the Kubernetes API. */
  readonly nodeAnnotations: PublisherStatus | null;
}

// ---- GET /v1/endpoints ----

export interface Owner {
  readonly containerId: string;
  readonly ifname: string;
}

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

/** One pod interface as the agent set it up: everything DEL, CHECK and GC need. */
export interface EndpointRecord extends Owner {
  readonly netns: string;
  readonly hostIfname: string;
  readonly hostMac: string;
  readonly podMac: string;
  readonly mtu: number;
  /** Addresses as CIDR text (`10.244.1.5/32`, `fd00::5/128`). */
  readonly addresses: readonly string[];
  readonly pod?: PodRef;
  readonly created: string;
}

// ---- GET /v1/ipam ----

/** One pod CIDR of the node's pool: addresses given out, and how many it holds. */
export interface IpamUsage {
  readonly cidr: string;
  readonly allocated: number;
  readonly capacity: number;
}
