import { formatIp, parseIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import { podKey, type Cluster, type Pod, type Protocol } from '../core/model/types.js';
import type { Decision, Flow, NotApplicable, TraceResult } from '../core/policy/evaluate.js';
import { explainDecision } from '../core/policy/explain.js';
import { parseProbe } from '../core/policy/matrix-report.js';
import { UsageError } from './output.js';
import { findPodAddress } from './pods.js';

export interface ResolvedFlow {
  readonly flow: Flow;
  readonly fromPod?: string;
  readonly toPod?: string;
  /** The container port name, when --port named one. */
  readonly portName?: string;
}

/** `ns/pod`, `pod` (namespace default) or an IP address. */
function endpoint(
  cluster: Cluster,
  text: string,
  flag: string,
  where: string,
): { ip: IpAddr; pod?: Pod } {
  const ip = parseIp(text);
  if (ip) return { ip, ...podWithIp(cluster, ip) };
  return findPodAddress(cluster, text, flag, where);
}

function podWithIp(cluster: Cluster, ip: IpAddr): { pod?: Pod } {
  const text = formatIp(ip);
  const pod = cluster.pods.find((p) => !p.hostNetwork && p.ips.some((a) => formatIp(a) === text));
  return pod ? { pod } : {};
}

export function resolveFlow(
  cluster: Cluster,
  from: string,
  to: string,
  port: string,
  where = 'in the manifests',
): ResolvedFlow {
  const src = endpoint(cluster, from, '--from', where);
  const dst = endpoint(cluster, to, '--to', where);
  let protocol: Protocol;
  let number: number;
  let portName: string | undefined;
  if (/^[a-z]/.test(port) && !port.includes('/')) {
    const cp = dst.pod?.ports.find((p) => p.name === port);
    if (!cp)
      throw new UsageError(
        `--port ${port}: the destination declares no container port of that name`,
        'give a number, e.g. --port 8080/TCP',
      );
    ({ protocol, port: number } = cp);
    portName = port;
  } else {
    ({ protocol, port: number } = parseProbe(port));
  }
  return {
    flow: { src: src.ip, dst: dst.ip, protocol, port: number },
    ...(src.pod ? { fromPod: podKey(src.pod) } : {}),
    ...(dst.pod ? { toPod: podKey(dst.pod) } : {}),
    ...(portName ? { portName } : {}),
  };
}

export function traceText(t: TraceResult, f: ResolvedFlow): string {
  const side = (pod: string | undefined, ip: IpAddr) =>
    pod ? `${pod} (${formatIp(ip)})` : formatIp(ip);
  const port = f.portName
    ? `${t.flow.port}/${t.flow.protocol} (${f.portName})`
    : `${t.flow.port}/${t.flow.protocol}`;
  const line = decisionLine;
  return [
    `from     ${side(f.fromPod, t.flow.src)}`,
    `to       ${side(f.toPod, t.flow.dst)}`,
    `port     ${port}`,
    `verdict  ${t.allowed ? 'ALLOWED' : 'DENIED (dropped)'}`,
    line(t.egress),
    line(t.ingress),
  ].join('\n');
}

/** One side of a trace in JSON: the decision with its reason in words. */
export function decisionJson(d: Decision | NotApplicable): Record<string, unknown> {
  return { ...d, reason: explainDecision(d) };
}

/** One side of a trace in text: `  egress   allowed  why`. */
export function decisionLine(d: Decision | NotApplicable): string {
  return `  ${d.direction.padEnd(7)}  ${d.allowed ? 'allowed' : 'DENIED '}  ${explainDecision(d)}`;
}

export function traceJson(t: TraceResult, f: ResolvedFlow): string {
  const side = decisionJson;
  return JSON.stringify(
    {
      verdict: t.allowed ? 'allowed' : 'denied',
      from: { ...(f.fromPod ? { pod: f.fromPod } : {}), ip: formatIp(t.flow.src) },
      to: { ...(f.toPod ? { pod: f.toPod } : {}), ip: formatIp(t.flow.dst) },
      port: t.flow.port,
      protocol: t.flow.protocol,
      ...(f.portName ? { portName: f.portName } : {}),
      egress: side(t.egress),
      ingress: side(t.ingress),
    },
    null,
    2,
  );
}
