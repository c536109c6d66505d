import { formatIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import type { TraceResult } from '../core/policy/evaluate.js';
import type { ServiceTrace, TracedEndpoint } from '../core/services/trace.js';
import { frontendText, serviceTraceJson, type TraceView } from './service-trace-output.js';
import { decisionJson, decisionLine, type ResolvedFlow } from './trace-output.js';

/** One endpoint a connection through a Service can reach, and the policy decision there. */
export interface BackendDecision {
  readonly endpoint: TracedEndpoint;
  /** `ns/name` of the endpoint's pod, when it is one. */
  readonly pod?: string;
  readonly result: TraceResult;
  /** The source the endpoint's node sees, when masquerading changed it. */
  readonly ingressFrom?: IpAddr;
}

/** The endpoints a forwarded trace reaches, with their pods; none for a reject or drop. */
export function backendDecisions(
  t: ServiceTrace,
): { readonly endpoint: TracedEndpoint; readonly pod?: string }[] {
  if (t.verdict.kind !== 'forward') return [];
  return t.verdict.endpoints.map((endpoint) => {
    const target = endpoint.backend.target;
    return target?.startsWith('Pod ') ? { endpoint, pod: target.slice(4) } : { endpoint };
  });
}

type Overall = 'allowed' | 'denied' | 'partial' | 'rejected' | 'dropped';

function overall(t: ServiceTrace, decisions: readonly BackendDecision[]): Overall {
  if (t.verdict.kind === 'reject') return 'rejected';
  if (t.verdict.kind !== 'forward') return 'dropped';
  const allowed = decisions.filter((d) => d.result.allowed).length;
  if (allowed === decisions.length) return 'allowed';
  return allowed === 0 ? 'denied' : 'partial';
}

function serviceLines(t: ServiceTrace): string[] {
  const v = t.verdict;
  const m = t.match;
  const lines: string[] = [];
  if (m) {
    const p = m.port;
    const port = `${p.portName ? `${p.portName} ` : ''}${p.port}/${p.protocol}`;
    const proxy = t.node ? ` (the proxy of ${t.node})` : '';
    lines.push(
      `Service ${p.service.namespace}/${p.service.name}, port ${port}, by its ${frontendText(m.frontend)}${proxy}`,
    );
  }
  if (v.kind === 'forward') {
    const n = v.endpoints.length;
    const nat = v.masquerade ? 'masqueraded' : 'the client address kept';
    lines.push(`DNAT to ${n === 1 ? 'its one endpoint' : `one of ${n} endpoints`}, ${nat}`);
  } else lines.push(`${v.kind === 'reject' ? 'REJECTED at once' : 'DROPPED'}: ${v.reason}`);
  return lines.map((l, i) => `${i === 0 ? 'service ' : '        '} ${l}`);
}

const VERDICT_TEXT: Readonly<Record<Overall, string>> = {
  allowed: 'ALLOWED',
  denied: 'DENIED (dropped)',
  partial: 'ALLOWED to some endpoints only (a connection that lands on a denied one is dropped)',
  rejected: 'REJECTED by the Service proxy: no policy is reached',
  dropped: 'DROPPED by the Service proxy: no policy is reached',
};

/** `weft policy trace` of a connection to a Service address. */
export function serviceFlowText(
  f: ResolvedFlow,
  t: ServiceTrace,
  decisions: readonly BackendDecision[],
): string {
  const from = f.fromPod ? `${f.fromPod} (${formatIp(f.flow.src)})` : formatIp(f.flow.src);
  const lines = [
    `from     ${from}`,
    `to       ${formatIp(f.flow.dst)}, a Service address`,
    `port     ${f.flow.port}/${f.flow.protocol}`,
    ...serviceLines(t),
    `verdict  ${VERDICT_TEXT[overall(t, decisions)]}`,
  ];
  for (const d of decisions) {
    const b = d.endpoint.backend;
    const who = d.pod ? `${d.pod} (${formatIp(b.ip)})` : formatIp(b.ip);
    lines.push(
      `endpoint ${who} port ${b.port}/${f.flow.protocol}: ${d.result.allowed ? 'allowed' : 'DENIED'}`,
    );
    if (d.endpoint.hairpin) lines.push('  (a hairpin: the pod reaches itself through its Service)');
    if (d.ingressFrom)
      lines.push(`  (masqueraded: ${b.nodeName ?? 'its node'} sees ${formatIp(d.ingressFrom)})`);
    lines.push(decisionLine(d.result.egress), decisionLine(d.result.ingress));
  }
  return lines.join('\n');
}

/** The JSON of `weft policy trace` through a Service (docs/services.md). */
export function serviceFlowJson(
  f: ResolvedFlow,
  view: TraceView,
  decisions: readonly BackendDecision[],
): Record<string, unknown> {
  // The packet is said above, the endpoints below with their decisions.
  const service = serviceTraceJson(view);
  for (const key of ['from', 'to', 'endpoints']) delete service[key];
  return {
    verdict: overall(view.trace, decisions),
    from: { ...(f.fromPod ? { pod: f.fromPod } : {}), ip: formatIp(f.flow.src) },
    to: { ip: formatIp(f.flow.dst) },
    port: f.flow.port,
    protocol: f.flow.protocol,
    service,
    endpoints: decisions.map((d) => ({
      ...(d.pod ? { pod: d.pod } : {}),
      ip: formatIp(d.endpoint.backend.ip),
      port: d.endpoint.backend.port,
      ...(d.endpoint.backend.nodeName ? { node: d.endpoint.backend.nodeName } : {}),
      verdict: d.result.allowed ? 'allowed' : 'denied',
      hairpin: d.endpoint.hairpin,
      masquerade: d.endpoint.masquerade,
      ...(d.ingressFrom ? { ingressFrom: formatIp(d.ingressFrom) } : {}),
      egress: decisionJson(d.result.egress),
      ingress: decisionJson(d.result.ingress),
    })),
  };
}
