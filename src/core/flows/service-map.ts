import type { Labels } from '../labels.js';
import { policyRefText, type PolicyRef } from '../policy/ir.js';
import { deliveredKey, joinServices } from './service-join.js';
import {
  decidingPolicies,
  type DecidedBy,
  type Flow,
  type FlowEndpoint,
  type FlowProtocol,
  type FlowService,
  type Verdict,
  type Workload,
} from './types.js';
import type { FrontendKind } from '../services/types.js';

/**
 * The service map: flows aggregated into nodes (workloads, hosts, the world)
 * and edges (who talked to whom, on which ports, allowed or dropped). Pure;
 * the UI filters flows first (core/flows/filter.ts), then aggregates.
 *
 * Counting: each agent on the path records a connection (the source's node on
 * egress, the destination's on ingress), and a dropped SYN is retransmitted.
 * So an event of one 5-tuple counts once per DEDUPE_MS: `forwarded` counts
 * connections started, `dropped` counts dropped attempts. A start that one
 * node let out while another node dropped the same 5-tuple (within
 * DEDUPE_MS) is a dropped attempt, not a connection. The 5-tuple is the one
 * the endpoint saw (after masquerade).
 *
 * Services: a flow through a Service (service-join.ts names it on every
 * node's flows of the connection) is two edges, client → Service on the
 * frontend's port and Service → endpoint on the endpoint's port, each
 * counted as above; the Service is a node of its own kind.
 */

export const DEDUPE_MS = 5000;

export type MapNodeKind = 'workload' | 'pod' | 'host' | 'world' | 'service';

/** Which map node an endpoint belongs to. */
export interface NodeRef {
  /**
   * Stable: `ns/Deployment/web`, `ns/app=db`, `ns/pod/name`, `ns/Service/name`,
   * `host/node-1`, `world`.
   */
  readonly id: string;
  readonly kind: MapNodeKind;
  readonly namespace?: string;
  /** Display name: the workload's, the app label's value, the pod's, the Service's, the node's. */
  readonly name: string;
  /**
   * How the pods were grouped: `Deployment web`, `app=db`, `pod`, `Service`,
   * `node`, `outside the cluster`.
   */
  readonly group: string;
}

/** A Service frontend flows were seen to address. */
export interface MapFrontend {
  readonly kind: FrontendKind;
  readonly ip: string;
  readonly port: number;
  readonly protocol: FlowProtocol;
  /** The Service port's name ('' when unnamed). */
  readonly portName: string;
}

export interface MapNode extends NodeRef {
  /**
   * `ns/pod` of the pods seen (sorted, at most MAX_LISTED); of a Service,
   * the pods of its endpoints that flows reached.
   */
  readonly pods: readonly string[];
  /**
   * Addresses seen for host and world nodes; of a Service, its endpoints
   * that are no pod (sorted, at most MAX_LISTED).
   */
  readonly addresses: readonly string[];
  /** Of a Service: the frontends flows addressed, by kind, address, port (at most MAX_LISTED). */
  readonly frontends?: readonly MapFrontend[];
}

export interface EdgePort {
  readonly protocol: FlowProtocol;
  /** Destination port; absent for ICMP and other portless protocols. */
  readonly port?: number;
  readonly forwarded: number;
  readonly dropped: number;
}

export interface MapEdge {
  /** `from->to`. */
  readonly id: string;
  readonly from: string;
  readonly to: string;
  /** By protocol, then port. */
  readonly ports: readonly EdgePort[];
  readonly forwarded: number;
  readonly dropped: number;
  /** Bytes both ways of connections that ended. */
  readonly bytes: number;
  /** Verdict of the latest start or drop. */
  readonly verdict: Verdict;
  readonly lastSeen: number;
  /** What decided the latest start or drop. */
  readonly decidedBy: DecidedBy;
  /** One flow of that latest event, for traces and details. */
  readonly sample: Flow;
  /** Every policy that decided a flow of this edge, sorted by text. */
  readonly policies: readonly PolicyRef[];
}

export interface ServiceMap {
  readonly nodes: readonly MapNode[];
  readonly edges: readonly MapEdge[];
}

export const MAX_LISTED = 50;

/** Code-point order: the same on every machine, whatever its locale. */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const APP_LABELS = ['app.kubernetes.io/name', 'app'];

/**
 * The workload of a pod: its owner (a ReplicaSet named `<deployment>-<pod-template-hash>`
 * counts as its Deployment), else its `app.kubernetes.io/name` or `app` label,
 * else the pod itself.
 */
export function podNodeRef(p: {
  readonly namespace: string;
  readonly pod: string;
  readonly labels: Labels;
  readonly workload?: Workload;
}): NodeRef {
  const ns = p.namespace;
  const w = p.workload ? ownerWorkload(p.workload, p.labels) : undefined;
  if (w)
    return {
      id: `${ns}/${w.kind}/${w.name}`,
      kind: 'workload',
      namespace: ns,
      name: w.name,
      group: `${w.kind} ${w.name}`,
    };
  for (const key of APP_LABELS) {
    const v = p.labels[key];
    if (v !== undefined && v !== '')
      return {
        id: `${ns}/${key}=${v}`,
        kind: 'workload',
        namespace: ns,
        name: v,
        group: `${key}=${v}`,
      };
  }
  return { id: `${ns}/pod/${p.pod}`, kind: 'pod', namespace: ns, name: p.pod, group: 'pod' };
}

function ownerWorkload(w: Workload, labels: Labels): Workload {
  const hash = labels['pod-template-hash'];
  if (w.kind === 'ReplicaSet' && hash && w.name.endsWith(`-${hash}`))
    return { kind: 'Deployment', name: w.name.slice(0, -(hash.length + 1)) };
  return w;
}

/** The map node of a Service. */
export function serviceNodeRef(s: Pick<FlowService, 'namespace' | 'name'>): NodeRef {
  return {
    id: `${s.namespace}/Service/${s.name}`,
    kind: 'service',
    namespace: s.namespace,
    name: s.name,
    group: 'Service',
  };
}

export function endpointNodeRef(e: FlowEndpoint): NodeRef {
  switch (e.kind) {
    case 'pod':
      return podNodeRef(e);
    case 'host': {
      const name = e.node ?? e.ip;
      return { id: `host/${name}`, kind: 'host', name, group: 'node' };
    }
    case 'world':
      return { id: 'world', kind: 'world', name: 'world', group: 'outside the cluster' };
  }
}

interface NodeAcc {
  readonly ref: NodeRef;
  readonly pods: Set<string>;
  readonly addresses: Set<string>;
  readonly frontends: Map<string, MapFrontend>;
}

/** One edge a flow is drawn on, and the port it is counted on there. */
interface Hop {
  readonly from: string;
  readonly to: string;
  readonly port?: number;
}

interface EdgeAcc {
  readonly from: string;
  readonly to: string;
  readonly ports: Map<string, { protocol: FlowProtocol; port?: number; f: number; d: number }>;
  forwarded: number;
  dropped: number;
  bytes: number;
  latest?: Flow;
  readonly policies: Map<string, PolicyRef>;
}

/** Aggregates flows (any order) into the service map. Deterministic: same flows, same map. */
export function buildServiceMap(flows: readonly Flow[]): ServiceMap {
  const sorted = joinServices(flows).sort((a, b) => a.time - b.time);
  const started = new Set(sorted.filter((f) => f.event === 'start').map(deliveredKey));
  const drops = new Map<string, number[]>();
  for (const f of sorted)
    if (f.event === 'drop')
      drops.set(deliveredKey(f), [...(drops.get(deliveredKey(f)) ?? []), f.time]);
  // The source's node lets a connection out (a start on egress) that the
  // destination's node drops: that connection was dropped.
  const droppedElsewhere = (f: Flow) =>
    (drops.get(deliveredKey(f)) ?? []).some((t) => Math.abs(t - f.time) < DEDUPE_MS);
  const lastCounted = new Map<string, number>();
  const nodes = new Map<string, NodeAcc>();
  const edges = new Map<string, EdgeAcc>();
  for (const f of sorted) {
    const tuple = deliveredKey(f);
    const key = `${f.event}|${tuple}`;
    const prev = lastCounted.get(key);
    const counts = prev === undefined || f.time - prev >= DEDUPE_MS;
    if (counts) lastCounted.set(key, f.time);
    const skipped = f.event === 'start' && droppedElsewhere(f);
    for (const hop of hopsOf(nodes, f)) {
      const e = edgeOf(edges, hop);
      for (const p of decidingPolicies(f.decidedBy)) e.policies.set(policyRefText(p), p);
      if (skipped) continue;
      if (f.event === 'end') {
        if (counts) e.bytes += f.counters.original.bytes + f.counters.reply.bytes;
        if (counts && !started.has(tuple)) count(e, f, 'forwarded', hop.port);
        if (!e.latest) e.latest = f;
        continue;
      }
      e.latest = f;
      if (counts) count(e, f, f.verdict, hop.port);
    }
  }
  return {
    nodes: [...nodes.values()].map(finishNode).sort((a, b) => byText(a.id, b.id)),
    edges: [...edges.entries()]
      // An edge of nothing but starts dropped elsewhere has no verdict of its own.
      .filter(([, e]) => e.latest !== undefined)
      .map(([id, e]) => finishEdge(id, e))
      .sort((a, b) => byText(a.id, b.id)),
  };
}

/** The edges of a flow: source → destination, or source → Service → endpoint. */
function hopsOf(nodes: Map<string, NodeAcc>, f: Flow): Hop[] {
  const from = addNode(nodes, endpointNodeRef(f.source), f.source);
  const to = addNode(nodes, endpointNodeRef(f.destination), f.destination);
  const s = f.service;
  if (!s) return [{ from, to, ...portOf(f.destination.port) }];
  const svc = addNode(nodes, serviceNodeRef(s), f.destination);
  const frontend: MapFrontend = { ...s.frontend, protocol: f.protocol, portName: s.portName };
  const acc = nodes.get(svc) as NodeAcc;
  acc.frontends.set(
    `${frontend.kind} ${frontend.ip} ${frontend.port} ${frontend.protocol}`,
    frontend,
  );
  return [
    { from, to: svc, port: s.frontend.port },
    { from: svc, to, ...portOf(f.destination.port) },
  ];
}

function portOf(port: number | undefined): { port?: number } {
  return port === undefined ? {} : { port };
}

function edgeOf(edges: Map<string, EdgeAcc>, hop: Hop): EdgeAcc {
  const id = `${hop.from}->${hop.to}`;
  let e = edges.get(id);
  if (!e) {
    e = {
      from: hop.from,
      to: hop.to,
      ports: new Map(),
      forwarded: 0,
      dropped: 0,
      bytes: 0,
      policies: new Map(),
    };
    edges.set(id, e);
  }
  return e;
}

/** The node `ref`, with `e` (a pod or an address it was seen at) listed in it. */
function addNode(nodes: Map<string, NodeAcc>, ref: NodeRef, e: FlowEndpoint): string {
  let n = nodes.get(ref.id);
  if (!n) {
    n = { ref, pods: new Set(), addresses: new Set(), frontends: new Map() };
    nodes.set(ref.id, n);
  }
  if (e.kind === 'pod') n.pods.add(`${e.namespace}/${e.pod}`);
  else n.addresses.add(e.ip);
  return ref.id;
}

function count(e: EdgeAcc, f: Flow, verdict: Verdict, port: number | undefined): void {
  const key = `${f.protocol}/${port ?? ''}`;
  let p = e.ports.get(key);
  if (!p) {
    p = { protocol: f.protocol, ...(port !== undefined ? { port } : {}), f: 0, d: 0 };
    e.ports.set(key, p);
  }
  if (verdict === 'forwarded') {
    p.f++;
    e.forwarded++;
  } else {
    p.d++;
    e.dropped++;
  }
}

function listed(s: Set<string>): string[] {
  return [...s].sort().slice(0, MAX_LISTED);
}

/** Frontends in the order the Service model lists them: ClusterIP, ExternalIP, LoadBalancer, NodePort. */
export const FRONTEND_ORDER: Readonly<Record<FrontendKind, number>> = {
  ClusterIP: 0,
  ExternalIP: 1,
  LoadBalancer: 2,
  NodePort: 3,
};

function finishNode(n: NodeAcc): MapNode {
  const node: MapNode = { ...n.ref, pods: listed(n.pods), addresses: listed(n.addresses) };
  if (n.ref.kind !== 'service') return node;
  const frontends = [...n.frontends.values()]
    .sort(
      (a, b) =>
        FRONTEND_ORDER[a.kind] - FRONTEND_ORDER[b.kind] ||
        byText(a.ip, b.ip) ||
        a.port - b.port ||
        byText(a.protocol, b.protocol),
    )
    .slice(0, MAX_LISTED);
  return { ...node, frontends };
}

function finishEdge(id: string, e: EdgeAcc): MapEdge {
  const latest = e.latest as Flow;
  const ports = [...e.ports.values()]
    .sort((a, b) => byText(a.protocol, b.protocol) || (a.port ?? -1) - (b.port ?? -1))
    .map((p): EdgePort => ({
      protocol: p.protocol,
      ...(p.port !== undefined ? { port: p.port } : {}),
      forwarded: p.f,
      dropped: p.d,
    }));
  return {
    id,
    from: e.from,
    to: e.to,
    ports,
    forwarded: e.forwarded,
    dropped: e.dropped,
    bytes: e.bytes,
    verdict: latest.verdict,
    lastSeen: latest.time,
    decidedBy: latest.decidedBy,
    sample: latest,
    policies: [...e.policies.entries()].sort(([a], [b]) => byText(a, b)).map(([, p]) => p),
  };
}
