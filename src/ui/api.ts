import { ErrorCodes, WeftError } from '../core/errors.js';
import { matchesFlow, parseFlowQuery, type FlowQuery } from '../core/flows/filter.js';
import { layoutServiceMap } from '../ui-shared/map-layout.js';
import { buildServiceMap, podNodeRef, type NodeRef } from '../core/flows/service-map.js';
import type { Flow, Workload } from '../core/flows/types.js';
import type { Labels } from '../core/labels.js';
import { PROTOCOLS, podKey, type Protocol } from '../core/model/types.js';
import { parseProbe } from '../core/policy/matrix-report.js';
import type { Probe } from '../core/policy/matrix.js';
import {
  NodeIrs,
  resolveAddress,
  traceToJson,
  workloadPolicyView,
  type TraceJson,
  type WorkloadPolicyView,
} from '../core/policy/node-irs.js';
import type { Entry, FlowFeed } from './feed.js';
import type { PolicySource } from './policy-source.js';

/** What the page's JSON endpoints answer, computed from the feed and the policy source. */

/** URL search params → a flow query (the `weft observe` flags without dashes). Throws WEFT_USAGE. */
export function queryOf(
  params: URLSearchParams,
  now: number,
  skip: readonly string[] = [],
): FlowQuery {
  const flags: [string, string][] = [];
  for (const [k, v] of params) if (!skip.includes(k) && v !== '') flags.push([k, v]);
  return parseFlowQuery(flags, now);
}

export function matching(feed: FlowFeed, q: FlowQuery): Entry[] {
  const entries = feed.entries().filter((e) => matchesFlow(q, e.flow));
  return q.last !== undefined && entries.length > q.last
    ? entries.slice(entries.length - q.last)
    : entries;
}

export function mapAnswer(feed: FlowFeed, q: FlowQuery) {
  const map = buildServiceMap(matching(feed, q).map((e) => e.flow));
  return { map, layout: layoutServiceMap(map) };
}

interface PodFacts {
  readonly namespace: string;
  readonly pod: string;
  readonly labels: Labels;
  readonly workload?: Workload;
}

export interface WorkloadSummary extends NodeRef {
  readonly pods: readonly string[];
}

/** Every pod the UI knows of (agents' IRs, the lab's manifests, flows), grouped as on the map. */
async function knownPods(feed: FlowFeed, policy: PolicySource, irs: NodeIrs) {
  const pods = new Map<string, PodFacts>();
  for (const e of irs.endpoints())
    pods.set(e.key, { namespace: e.namespace, pod: e.name, labels: {} });
  const cluster = await policy.cluster();
  for (const p of cluster?.pods ?? [])
    pods.set(podKey(p), {
      namespace: p.namespace,
      pod: p.name,
      labels: p.labels,
      ...(p.owner ? { workload: p.owner } : {}),
    });
  for (const { flow } of feed.entries())
    for (const e of [flow.source, flow.destination])
      if (e.kind === 'pod') pods.set(`${e.namespace}/${e.pod}`, e);
  return pods;
}

export async function workloadsAnswer(feed: FlowFeed, policy: PolicySource) {
  const { irs, errors } = await policy.irs();
  return { workloads: await workloadsOf(feed, policy, new NodeIrs(irs)), errors };
}

async function workloadsOf(
  feed: FlowFeed,
  policy: PolicySource,
  irs: NodeIrs,
): Promise<WorkloadSummary[]> {
  const pods = await knownPods(feed, policy, irs);
  const byId = new Map<string, { ref: NodeRef; pods: string[] }>();
  for (const [key, facts] of pods) {
    const ref = podNodeRef(facts);
    const w = byId.get(ref.id) ?? { ref, pods: [] };
    w.pods.push(key);
    byId.set(ref.id, w);
  }
  return [...byId.values()]
    .map((w) => ({ ...w.ref, pods: w.pods.sort() }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const MAX_PROBES = 8;

export async function policyAnswer(
  feed: FlowFeed,
  policy: PolicySource,
  params: URLSearchParams,
): Promise<{ workload: WorkloadSummary; view: WorkloadPolicyView; errors: readonly string[] }> {
  const id = params.get('workload') ?? '';
  const { irs: list, errors } = await policy.irs();
  const irs = new NodeIrs(list);
  const workloads = await workloadsOf(feed, policy, irs);
  const workload = workloads.find((w) => w.id === id);
  if (!workload)
    throw usage(
      'workload',
      id,
      'no such workload',
      `pick one of: ${workloads.map((w) => w.id).join(', ') || '(none known yet)'}`,
    );
  const asked = params.getAll('port').filter((p) => p !== '');
  const probes =
    asked.length > 0 ? asked.map(parseProbe) : await defaultProbes(feed, policy, workload);
  return { workload, view: workloadPolicyView(irs, workload.pods, probes), errors };
}

/** Ports the workload's pods declare, then ports seen in its flows; 80/TCP when none. */
async function defaultProbes(feed: FlowFeed, policy: PolicySource, w: WorkloadSummary) {
  const seen = new Map<string, Probe>();
  const add = (port: number | undefined, protocol: string) => {
    if (port === undefined || !(PROTOCOLS as readonly string[]).includes(protocol)) return;
    seen.set(`${port}/${protocol}`, { port, protocol: protocol as Protocol });
  };
  const members = new Set(w.pods);
  const cluster = await policy.cluster();
  for (const p of cluster?.pods ?? [])
    if (members.has(podKey(p))) for (const cp of p.ports) add(cp.port, cp.protocol);
  const touches = (f: Flow) =>
    [f.source, f.destination].some(
      (e) => e.kind === 'pod' && members.has(`${e.namespace}/${e.pod}`),
    );
  for (const { flow } of feed.entries())
    if (touches(flow)) add(flow.destination.port, flow.protocol);
  const probes = [...seen.values()].sort((a, b) => a.port - b.port).slice(0, MAX_PROBES);
  return probes.length > 0 ? probes : [{ port: 80, protocol: 'TCP' as const }];
}

export async function traceAnswer(
  policy: PolicySource,
  params: URLSearchParams,
): Promise<TraceJson & { errors: readonly string[] }> {
  const { irs: list, errors } = await policy.irs();
  const irs = new NodeIrs(list);
  const side = (name: 'from' | 'to') => {
    const text = params.get(name) ?? '';
    const ip = resolveAddress(irs, text);
    if (!ip)
      throw usage(
        name,
        text,
        'is neither a pod the agents know nor an IP address',
        'write NAMESPACE/POD or an IP',
      );
    return ip;
  };
  const src = side('from');
  const dst = side('to');
  const probe = parseProbe(params.get('port') ?? '');
  return { ...traceToJson(irs.trace({ src, dst, ...probe }), irs), errors };
}

function usage(param: string, value: string, message: string, fix: string): WeftError {
  return WeftError.of({
    code: ErrorCodes.USAGE,
    object: `${param}=${JSON.stringify(value)}`,
    field: '',
    message,
    fix,
  });
}
