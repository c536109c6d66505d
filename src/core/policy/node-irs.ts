import { formatIp, ipKey, parseIp } from '../net/ip.js';
import type { IpAddr } from '../net/types.js';
import type { Direction } from '../model/types.js';
import { Evaluator, type Decision, type NotApplicable, type TraceResult } from './evaluate.js';
import { explainDecision } from './explain.js';
import type { Endpoint, PolicyIr, PolicyRef } from './ir.js';
import type { Probe } from './matrix.js';

/**
 * The policy IRs of several agents, one per node, asked as one: a flow's
 * egress is decided on the IR of the source pod's node and its ingress on the
 * destination's, as the datapath does (and as `weft policy trace --lab` does).
 */

export interface NodeIr {
  readonly node: string;
  readonly ir: PolicyIr;
}

interface Located {
  readonly endpoint: Endpoint;
  readonly ev: Evaluator;
}

export class NodeIrs {
  private readonly byKey = new Map<string, Located>();
  private readonly byIp = new Map<string, Located>();

  constructor(irs: readonly NodeIr[]) {
    // An endpoint is decided by its own node's IR; another node's copy is a fallback.
    const ordered = irs.map((n) => ({ node: n.node, ev: new Evaluator(n.ir) }));
    for (const own of [true, false]) {
      for (const { node, ev } of ordered) {
        for (const e of ev.ir.endpoints.values()) {
          if ((e.node === node) !== own || this.byKey.has(e.key)) continue;
          const loc = { endpoint: e, ev };
          this.byKey.set(e.key, loc);
          for (const ip of e.ips) this.byIp.set(ipKey(ip), loc);
        }
      }
    }
  }

  /** Every pod endpoint, by `namespace/name`. */
  endpoints(): Endpoint[] {
    return [...this.byKey.values()].map((l) => l.endpoint);
  }

  endpoint(key: string): Endpoint | undefined {
    return this.byKey.get(key)?.endpoint;
  }

  endpointAt(ip: IpAddr): Endpoint | undefined {
    return this.byIp.get(ipKey(ip))?.endpoint;
  }

  trace(flow: {
    src: IpAddr;
    dst: IpAddr;
    protocol: Probe['protocol'];
    port: number;
  }): TraceResult {
    const side = (ip: IpAddr, direction: Direction, peer: IpAddr): Decision | NotApplicable => {
      const loc = this.byIp.get(ipKey(ip));
      if (loc) return loc.ev.decide(loc.endpoint, direction, peer, flow);
      const what = direction === 'egress' ? 'source' : 'destination';
      return {
        direction,
        allowed: true,
        stage: 'none',
        why: `the ${what} is not a pod with its own network; no ${direction} policy applies`,
      };
    };
    const egress = side(flow.src, 'egress', flow.dst);
    const ingress = side(flow.dst, 'ingress', flow.src);
    return { flow, allowed: egress.allowed && ingress.allowed, egress, ingress };
  }

  /** Policies selecting the endpoint in one direction, in evaluation order (admin, NetworkPolicy, baseline). */
  selecting(key: string, direction: Direction): PolicyRef[] {
    const loc = this.byKey.get(key);
    if (!loc) return [];
    const d = loc.endpoint[direction];
    return [...d.admin, ...d.networkPolicies, ...d.baseline].map((id) => {
      const p = loc.ev.ir.policies.get(id);
      if (!p) throw new Error(`IR names missing policy ${id}`);
      return p.ref;
    });
  }
}

/** One side of a trace as JSON for people and pages: the decision and its sentence. */
export type DecisionJson = (Decision | NotApplicable) & { readonly reason: string };

export interface TraceJson {
  readonly verdict: 'allowed' | 'denied';
  readonly from: { readonly pod?: string; readonly ip: string };
  readonly to: { readonly pod?: string; readonly ip: string };
  readonly port: number;
  readonly protocol: string;
  readonly egress: DecisionJson;
  readonly ingress: DecisionJson;
}

export function traceToJson(t: TraceResult, irs: NodeIrs): TraceJson {
  const end = (ip: IpAddr) => {
    const e = irs.endpointAt(ip);
    return { ...(e ? { pod: e.key } : {}), ip: formatIp(ip) };
  };
  return {
    verdict: t.allowed ? 'allowed' : 'denied',
    from: end(t.flow.src),
    to: end(t.flow.dst),
    port: t.flow.port,
    protocol: t.flow.protocol,
    egress: { ...t.egress, reason: explainDecision(t.egress) },
    ingress: { ...t.ingress, reason: explainDecision(t.ingress) },
  };
}

/** `ns/pod` of a known endpoint, or an IP address; undefined when it is neither. */
export function resolveAddress(irs: NodeIrs, text: string): IpAddr | undefined {
  const ip = parseIp(text);
  if (ip) return ip;
  return irs.endpoint(text)?.ips[0];
}

/** A cell of the workload matrix: the verdict of every member pod, and why (of the first). */
export interface MatrixCell {
  readonly allowed: 'yes' | 'no' | 'some';
  readonly reason: string;
}

export interface PeerRow {
  readonly peer: string;
  /** Per probe: member → peer. */
  readonly out: readonly MatrixCell[];
  /** Per probe: peer → member. */
  readonly in: readonly MatrixCell[];
}

export interface WorkloadPolicyView {
  readonly members: readonly string[];
  readonly ingress: readonly PolicyRef[];
  readonly egress: readonly PolicyRef[];
  readonly probes: readonly Probe[];
  readonly peers: readonly PeerRow[];
}

/**
 * Policies selecting a workload's pods and the would-be verdict of every
 * connection between them and every other pod endpoint, for each probe.
 */
export function workloadPolicyView(
  irs: NodeIrs,
  members: readonly string[],
  probes: readonly Probe[],
): WorkloadPolicyView {
  const known = members.filter((m) => irs.endpoint(m) !== undefined).sort();
  const union = (d: Direction) => {
    const seen = new Map<string, PolicyRef>();
    for (const m of known) for (const p of irs.selecting(m, d)) seen.set(JSON.stringify(p), p);
    return [...seen.values()];
  };
  const mine = new Set(known);
  const peers = irs
    .endpoints()
    .filter((e) => !mine.has(e.key) && e.ips.length > 0)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const cell = (pairs: [IpAddr, IpAddr][], probe: Probe): MatrixCell => {
    const results = pairs.map(([src, dst]) => irs.trace({ src, dst, ...probe }));
    const yes = results.filter((r) => r.allowed).length;
    const first = results[0];
    const reason = first
      ? [first.egress, first.ingress]
          .filter((d) => !d.allowed || d.stage !== 'none')
          .map(explainDecision)
          .join('; ')
      : 'no member pod has an address';
    return { allowed: yes === results.length ? 'yes' : yes === 0 ? 'no' : 'some', reason };
  };
  const ipOf = (key: string) => irs.endpoint(key)?.ips[0] as IpAddr;
  return {
    members: known,
    ingress: union('ingress'),
    egress: union('egress'),
    probes,
    peers: peers.map((p) => {
      const peerIp = p.ips[0] as IpAddr;
      return {
        peer: p.key,
        out: probes.map((pr) =>
          cell(
            known.map((m): [IpAddr, IpAddr] => [ipOf(m), peerIp]),
            pr,
          ),
        ),
        in: probes.map((pr) =>
          cell(
            known.map((m): [IpAddr, IpAddr] => [peerIp, ipOf(m)]),
            pr,
          ),
        ),
      };
    }),
  };
}
