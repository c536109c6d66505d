import { ipEquals, ipKey } from '../net/ip.js';
import type { IpAddr } from '../net/types.js';
import type { Direction, Protocol } from '../model/types.js';
import type { Endpoint, IrPorts, IrRule, PolicyIr, PolicyRef, RuleOrigin } from './ir.js';
import { SetIndex } from './sets.js';

/** One connection attempt: the first packet's addresses, protocol and destination port. */
export interface Flow {
  readonly src: IpAddr;
  readonly dst: IpAddr;
  readonly protocol: Protocol;
  readonly port: number;
}

/**
 * Which step of the evaluation decided. `node`: NetworkPolicies isolate the
 * endpoint and the peer is its own node, which NetworkPolicy always allows
 * (an Admin-tier rule decides before it, and the Baseline tier is not reached).
 */
export type Stage = 'hairpin' | 'node' | 'admin' | 'networkpolicy' | 'baseline' | 'default';

export interface Decision {
  readonly direction: Direction;
  /** `namespace/name` of the pod whose policy was evaluated. */
  readonly endpoint: string;
  readonly allowed: boolean;
  readonly stage: Stage;
  /** The ClusterNetworkPolicy rule that accepted or denied (admin/baseline stages). */
  readonly rule?: RuleOrigin;
  /** Admin-tier Pass rule that handed the decision on, if any. */
  readonly passedBy?: RuleOrigin;
  /** NetworkPolicy rules that allow the flow (networkpolicy stage, allowed). */
  readonly allowedBy?: readonly RuleOrigin[];
  /** NetworkPolicies isolating the endpoint in this direction (networkpolicy and node stages). */
  readonly isolatedBy?: readonly PolicyRef[];
}

/** A side that no pod policy governs: a non-pod address, or a hostNetwork pod. */
export interface NotApplicable {
  readonly direction: Direction;
  readonly allowed: true;
  readonly stage: 'none';
  readonly why: string;
}

export interface TraceResult {
  readonly flow: Flow;
  readonly allowed: boolean;
  readonly egress: Decision | NotApplicable;
  readonly ingress: Decision | NotApplicable;
}

/** Evaluates flows against one IR, exactly as the datapath does. Build once, ask many times. */
export class Evaluator {
  readonly sets: SetIndex;
  private readonly byIp = new Map<string, Endpoint>();

  constructor(readonly ir: PolicyIr) {
    this.sets = new SetIndex(ir);
    for (const e of ir.endpoints.values()) for (const ip of e.ips) this.byIp.set(ipKey(ip), e);
  }

  endpointAt(ip: IpAddr): Endpoint | undefined {
    return this.byIp.get(ipKey(ip));
  }

  trace(flow: Flow): TraceResult {
    const srcEp = this.endpointAt(flow.src);
    const dstEp = this.endpointAt(flow.dst);
    const egress = srcEp
      ? this.decide(srcEp, 'egress', flow.dst, flow)
      : notApplicable(
          'egress',
          'the source is not a pod with its own network; no egress policy applies',
        );
    const ingress = dstEp
      ? this.decide(dstEp, 'ingress', flow.src, flow)
      : notApplicable(
          'ingress',
          'the destination is not a pod with its own network; no ingress policy applies',
        );
    return { flow, allowed: egress.allowed && ingress.allowed, egress, ingress };
  }

  /** The decision of `endpoint`'s policy in `direction` for a flow with the other side at `peer`. */
  decide(endpoint: Endpoint, direction: Direction, peer: IpAddr, flow: Flow): Decision {
    const base = { direction, endpoint: endpoint.key };
    if (ipEquals(flow.src, flow.dst)) return { ...base, allowed: true, stage: 'hairpin' };
    const d = endpoint[direction];
    const admin = this.firstMatch(d.admin, peer, flow);
    if (admin && admin.action !== 'pass')
      return { ...base, allowed: admin.action === 'accept', stage: 'admin', rule: admin.origin };
    const passed = admin ? { passedBy: admin.origin } : {};
    if (d.networkPolicies.length > 0) {
      const policies = d.networkPolicies.map((id) => this.policy(id));
      const isolatedBy = policies.map((p) => p.ref);
      // NetworkPolicy's own exemption (kubelet probes): it never reaches the Baseline tier.
      if (endpoint.nodeAddresses.some((a) => ipEquals(a, peer)))
        return { ...base, ...passed, allowed: true, stage: 'node', isolatedBy };
      const allowedBy = policies.flatMap((p) =>
        p.rules.filter((r) => this.ruleMatches(r, peer, flow)).map((r) => r.origin),
      );
      return {
        ...base,
        ...passed,
        allowed: allowedBy.length > 0,
        stage: 'networkpolicy',
        allowedBy,
        isolatedBy,
      };
    }
    const baseline = this.firstMatch(d.baseline, peer, flow);
    if (!baseline) return { ...base, ...passed, allowed: true, stage: 'default' };
    if (baseline.action === 'pass')
      return { ...base, ...passed, allowed: true, stage: 'default', rule: baseline.origin };
    const allowed = baseline.action === 'accept';
    return { ...base, ...passed, allowed, stage: 'baseline', rule: baseline.origin };
  }

  /**
   * The first rule of a tier that matches, policies in order: its action is
   * final (Accept, Deny) or ends the tier (Pass).
   */
  private firstMatch(ids: readonly string[], peer: IpAddr, flow: Flow): IrRule | undefined {
    for (const id of ids) {
      const hit = this.policy(id).rules.find((rule) => this.ruleMatches(rule, peer, flow));
      if (hit) return hit;
    }
    return undefined;
  }

  private policy(id: string) {
    const p = this.ir.policies.get(id);
    if (!p) throw new Error(`IR names missing policy ${id}`);
    return p;
  }

  ruleMatches(rule: IrRule, peer: IpAddr, flow: Flow): boolean {
    if (rule.peer.kind === 'set' && !this.sets.hasAddress(rule.peer.set, peer)) return false;
    return this.portsMatch(rule.ports, flow);
  }

  private portsMatch(ports: IrPorts, flow: Flow): boolean {
    if (ports.kind === 'any') return true;
    return ports.ports.some((p) => {
      switch (p.kind) {
        case 'protocol':
          return p.protocol === flow.protocol;
        case 'range':
          return p.protocol === flow.protocol && flow.port >= p.from && flow.port <= p.to;
        case 'named':
          return this.sets.hasPort(p.set, flow.dst, flow.protocol, flow.port);
      }
    });
  }
}

function notApplicable(direction: Direction, why: string): NotApplicable {
  return { direction, allowed: true, stage: 'none', why };
}
