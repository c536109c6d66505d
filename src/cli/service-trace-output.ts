import { formatCidr } from '../core/net/cidr.js';
import { formatIp } from '../core/net/ip.js';
import { familyName } from '../core/services/ranges.js';
import type {
  ServicePacket,
  ServiceTrace,
  TraceMatch,
  TracedEndpoint,
  TraceSource,
  TraceVerdict,
} from '../core/services/trace.js';
import type { Frontend, TrafficStep } from '../core/services/types.js';
import { endpointJson, hostPort, type EndpointJson } from './service-view.js';

/** A trace with the reason its node was chosen. */
export interface TraceView {
  readonly trace: ServiceTrace;
  /** Why the packet meets this node's proxy first: `the node of shop/web`, `given with --node`. */
  readonly nodeWhy: string;
}

export function packetText(p: ServicePacket): string {
  return `${hostPort(p.dst, p.port)}/${p.protocol}`;
}

export function sourceText(s: TraceSource, ip: string): string {
  switch (s.kind) {
    case 'pod':
      return s.pod
        ? `${s.pod} (${ip}), a pod${s.node ? ` on ${s.node}` : ''}`
        : `${ip}, a pod address${s.node ? ` of ${s.node}'s range` : ''}`;
    case 'node':
      return `${ip}, node ${s.node} itself`;
    case 'other':
      return s.what
        ? `${ip}, ${s.what} (a client from elsewhere here)`
        : `${ip}, outside the cluster`;
  }
}

export function frontendText(f: Frontend): string {
  const at = hostPort(f.ip, f.port);
  switch (f.kind) {
    case 'ClusterIP':
      return `ClusterIP ${at}`;
    case 'ExternalIP':
      return `external IP ${at}`;
    case 'LoadBalancer':
      return `load balancer IP ${at}`;
    case 'NodePort':
      return `node port ${at}`;
  }
}

const FROM: Readonly<Record<TrafficStep['from'], string>> = {
  pod: 'from a pod',
  node: 'from this node',
  any: 'from anywhere',
};

function planText(m: TraceMatch, steps: number): string {
  const plan =
    m.traffic === 'internal'
      ? `internal (ClusterIP), internalTrafficPolicy ${m.policy}`
      : `external (node ports, external and load balancer IPs), externalTrafficPolicy ${m.policy}`;
  if (!m.step) return plan;
  return `${plan}; step ${m.step.index + 1} of ${steps}: ${FROM[m.step.step.from]}`;
}

function conditions(e: EndpointJson): string {
  if (e.ready) return 'ready';
  return e.serving && e.terminating ? 'serving, terminating' : 'not ready';
}

function endpointLine(t: TracedEndpoint): string {
  const e = endpointJson(t.backend);
  const hairpin = t.hairpin ? '  hairpin: masqueraded' : '';
  return `  ${hostPort(t.backend.ip, e.port)}  ${e.pod ?? e.target ?? '-'}  ${e.node ?? '(no node)'}  ${conditions(e)}${hairpin}`;
}

function verdictLines(v: TraceVerdict, node: string): string[] {
  switch (v.kind) {
    case 'forward': {
      const n = v.endpoints.length;
      const kind =
        v.set === 'local'
          ? `endpoint${n === 1 ? '' : 's'} on ${node}`
          : `endpoint${n === 1 ? '' : 's'}`;
      const nat = v.masquerade ? `masqueraded to ${node}'s address` : 'the client address kept';
      const to = n === 1 ? `the one ${kind}` : `one of ${n} ${kind}`;
      const lines = [`verdict   FORWARDED (DNAT) to ${to}, ${nat}`];
      if (v.affinity.kind === 'ClientIP')
        lines.push(
          `affinity  ClientIP: a client keeps to the endpoint it got for ${v.affinity.timeoutSeconds} s`,
        );
      if (v.terminatingFallback)
        lines.push('fallback  no endpoint is ready: serving terminating endpoints are used');
      lines.push('endpoints', ...v.endpoints.map(endpointLine));
      return lines;
    }
    case 'reject':
      return [`verdict   REJECTED at once (TCP reset, ICMP unreachable): ${v.reason}`];
    case 'drop':
      return [`verdict   DROPPED: ${v.reason}`];
    case 'not-a-service':
      return [`verdict   NOT A SERVICE: ${v.reason}`];
  }
}

export function serviceTraceText(view: TraceView): string {
  const { trace: t, nodeWhy } = view;
  const m = t.match;
  const node = t.node || 'the node';
  const lines = [
    `from      ${sourceText(t.source, formatIp(t.packet.src))}`,
    `to        ${packetText(t.packet)}`,
    `node      ${t.node ? `${t.node} (${nodeWhy})` : `none (${nodeWhy})`}`,
  ];
  if (m) {
    const p = m.port;
    const port = `${p.portName ? `${p.portName} ` : ''}${p.port}/${p.protocol}`;
    const service = `Service ${p.service.namespace}/${p.service.name}, port ${port} (${familyName(p.family)})`;
    lines.push(`frontend  ${frontendText(m.frontend)}: ${service}`);
    if (m.frontend.kind === 'LoadBalancer' && m.frontend.sources.kind === 'only') {
      const ranges = m.frontend.sources.cidrs.map(formatCidr).join(', ');
      const admitted = m.sourceAllowed ? 'admits' : 'does not admit';
      lines.push(`sources   loadBalancerSourceRanges ${ranges} ${admitted} the client`);
    }
    const steps = (m.traffic === 'internal' ? p.internal : p.external)?.steps.length ?? 0;
    lines.push(`plan      ${planText(m, steps)}`);
  }
  lines.push(...verdictLines(t.verdict, node));
  return lines.join('\n');
}

const VERDICT_WORD: Readonly<Record<TraceVerdict['kind'], string>> = {
  forward: 'forwarded',
  reject: 'rejected',
  drop: 'dropped',
  'not-a-service': 'not-a-service',
};

/** The `-o json` of `weft service trace`, documented in docs/services.md. */
export function serviceTraceJson(view: TraceView): Record<string, unknown> {
  const { trace: t, nodeWhy } = view;
  const v = t.verdict;
  const m = t.match;
  const { kind, ...source } = t.source;
  return {
    verdict: VERDICT_WORD[v.kind],
    ...(v.kind !== 'forward' ? { reason: v.reason } : {}),
    from: { ip: formatIp(t.packet.src), kind, ...source },
    to: { ip: formatIp(t.packet.dst), port: t.packet.port, protocol: t.packet.protocol },
    node: t.node,
    nodeChosenBy: nodeWhy,
    ...(m ? matchJson(m) : {}),
    ...(v.kind === 'forward'
      ? {
          endpointSet: v.set,
          masquerade: v.masquerade,
          terminatingFallback: v.terminatingFallback,
          affinity: v.affinity,
          endpoints: v.endpoints.map((e) => ({
            ...endpointJson(e.backend),
            local: e.backend.local,
            hairpin: e.hairpin,
            masquerade: e.masquerade,
          })),
        }
      : {}),
  };
}

function matchJson(m: TraceMatch): Record<string, unknown> {
  const f = m.frontend;
  const p = m.port;
  return {
    service: {
      namespace: p.service.namespace,
      name: p.service.name,
      port: p.portName,
      protocol: p.protocol,
      family: familyName(p.family),
      id: p.id,
    },
    frontend: {
      kind: f.kind,
      ip: formatIp(f.ip),
      port: f.port,
      ...(f.kind === 'LoadBalancer' && f.sources.kind === 'only'
        ? { sourceRanges: f.sources.cidrs.map(formatCidr) }
        : {}),
      ...(m.sourceAllowed !== undefined ? { sourceAllowed: m.sourceAllowed } : {}),
    },
    traffic: m.traffic,
    trafficPolicy: m.policy,
    ...(m.step
      ? {
          step: {
            index: m.step.index,
            from: m.step.step.from,
            masquerade: m.step.step.masquerade,
          },
        }
      : {}),
  };
}
