import type { Labels } from '../labels.js';
import { policyRefText, type PolicyRef } from '../policy/ir.js';
import {
  decidingPolicies,
  type DecidedBy,
  type Flow,
  type FlowEndpoint,
  type FlowProtocol,
  type Verdict,
  type Workload,
} from './types.js';

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
 * DEDUPE_MS) is a dropped attempt, not a connection.
 */

export const DEDUPE_MS = 5000;

export type MapNodeKind = 'workload' | 'pod' | 'host' | 'world';

/** Which map node an endpoint belongs to. */
export interface NodeRef {
  /** Stable: `ns/Deployment/web`, `ns/app=db`, `ns/pod/name`, `host/node-1`, `world`. */
  readonly id: string;
  readonly kind: MapNodeKind;
  readonly namespace?: string;
  /** Display name: the workload's, the app label's value, the pod's, the node's. */
  readonly name: string;
  /** How the pods were grouped: `Deployment web`, `app=db`, `pod`, `node`, `outside the cluster`. */
  readonly group: string;
}

export interface MapNode extends NodeRef {
  /** `ns/pod` of the pods seen (sorted, at most MAX_LISTED). */
  readonly pods: readonly string[];
  /** Addresses seen for host and world nodes (sorted, at most MAX_LISTED). */
  readonly addresses: readonly string[];
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

function tupleKey(f: Flow): string {
  const s = f.source;
  const d = f.destination;
  const icmp = f.icmp ? `${f.icmp.type}.${f.icmp.code}` : '';
  return `${f.protocol}|${s.ip}|${s.port ?? ''}|${d.ip}|${d.port ?? ''}|${icmp}`;
}

/** Aggregates flows (any order) into the service map. Deterministic: same flows, same map. */
export function buildServiceMap(flows: readonly Flow[]): ServiceMap {
  const sorted = [...flows].sort((a, b) => a.time - b.time);
  const started = new Set(sorted.filter((f) => f.event === 'start').map(tupleKey));
  const drops = new Map<string, number[]>();
  for (const f of sorted)
    if (f.event === 'drop') drops.set(tupleKey(f), [...(drops.get(tupleKey(f)) ?? []), f.time]);
  // The source's node lets a connection out (a start on egress) that the
  // destination's node drops: that connection was dropped.
  const droppedElsewhere = (f: Flow) =>
    (drops.get(tupleKey(f)) ?? []).some((t) => Math.abs(t - f.time) < DEDUPE_MS);
  const lastCounted = new Map<string, number>();
  const nodes = new Map<string, NodeAcc>();
  const edges = new Map<string, EdgeAcc>();
  for (const f of sorted) {
    const from = addNode(nodes, f.source);
    const to = addNode(nodes, f.destination);
    const id = `${from}->${to}`;
    let e = edges.get(id);
    if (!e) {
      e = { from, to, ports: new Map(), forwarded: 0, dropped: 0, bytes: 0, policies: new Map() };
      edges.set(id, e);
    }
    for (const p of decidingPolicies(f.decidedBy)) e.policies.set(policyRefText(p), p);
    const tuple = tupleKey(f);
    const key = `${f.event}|${tuple}`;
    const prev = lastCounted.get(key);
    const counts = prev === undefined || f.time - prev >= DEDUPE_MS;
    if (counts) lastCounted.set(key, f.time);
    if (f.event === 'start' && droppedElsewhere(f)) continue;
    if (f.event === 'end') {
      if (counts) e.bytes += f.counters.original.bytes + f.counters.reply.bytes;
      if (counts && !started.has(tuple)) count(e, f, 'forwarded');
      if (!e.latest) e.latest = f;
      continue;
    }
    e.latest = f;
    if (counts) count(e, f, f.verdict);
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

function addNode(nodes: Map<string, NodeAcc>, e: FlowEndpoint): string {
  const ref = endpointNodeRef(e);
  let n = nodes.get(ref.id);
  if (!n) {
    n = { ref, pods: new Set(), addresses: new Set() };
    nodes.set(ref.id, n);
  }
  if (e.kind === 'pod') n.pods.add(`${e.namespace}/${e.pod}`);
  else n.addresses.add(e.ip);
  return ref.id;
}

function count(e: EdgeAcc, f: Flow, verdict: Verdict): void {
  const port = f.destination.port;
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

function finishNode(n: NodeAcc): MapNode {
  return { ...n.ref, pods: listed(n.pods), addresses: listed(n.addresses) };
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
