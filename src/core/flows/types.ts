import { assertNever, type Labels } from '../labels.js';
import type { Direction } from '../model/types.js';
import type { PolicyRef, RuleOrigin } from '../policy/ir.js';
import type { FrontendKind } from '../services/types.js';

/**
 * A flow record: one observed event of one connection (or one dropped packet)
 * crossing a node, with both endpoints resolved to what the cluster knows of
 * them and the policy that decided. This is the JSON of `weft observe -o
 * json`, one object a line: extend it compatibly.
 */

export type FlowProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP' | 'ICMPv6' | 'OTHER';
export const FLOW_PROTOCOLS: readonly FlowProtocol[] = [
  'TCP',
  'UDP',
  'SCTP',
  'ICMP',
  'ICMPv6',
  'OTHER',
];

/** TCP header flags, in the order of their bits (FIN is bit 0). */
export type TcpFlag = 'FIN' | 'SYN' | 'RST' | 'PSH' | 'ACK' | 'URG' | 'ECE' | 'CWR';
export const TCP_FLAGS: readonly TcpFlag[] = [
  'FIN',
  'SYN',
  'RST',
  'PSH',
  'ACK',
  'URG',
  'ECE',
  'CWR',
];

/** The TCP flags set in a flags byte, in bit order. */
export function tcpFlagsOf(byte: number): TcpFlag[] {
  return TCP_FLAGS.filter((_, bit) => (byte & (1 << bit)) !== 0);
}

/** The controller that owns a pod, when known (e.g. `Deployment web`). */
export interface Workload {
  readonly kind: string;
  readonly name: string;
}

interface EndpointAddress {
  readonly ip: string;
  /** TCP/UDP/SCTP port; absent for ICMP and other protocols. */
  readonly port?: number;
}

/**
 * One side of a flow. `pod`: an address of a pod the cluster model knows;
 * `host`: an address of a node; `world`: anything else.
 */
export type FlowEndpoint =
  | (EndpointAddress & {
      readonly kind: 'pod';
      readonly namespace: string;
      readonly pod: string;
      readonly labels: Labels;
      readonly workload?: Workload;
    })
  | (EndpointAddress & { readonly kind: 'host'; readonly node?: string })
  | (EndpointAddress & { readonly kind: 'world' });

/**
 * Why the flow was forwarded or dropped.
 * - `rule`: a policy rule matched (allow/accept/deny) — it names the policy;
 * - `isolation`: NetworkPolicies select the endpoint and none of their rules
 *   allowed it;
 * - `default`: no policy applies in this direction (Kubernetes allows);
 * - `unknown`: the agent could not tell (e.g. a rule id of an older ruleset).
 */
export type DecidedBy =
  | { readonly kind: 'rule'; readonly rule: RuleOrigin }
  | { readonly kind: 'isolation'; readonly isolatedBy: readonly PolicyRef[] }
  | { readonly kind: 'default' }
  | { readonly kind: 'unknown' };

/** An address and port as the kernel saw it; no port for ICMP and other protocols. */
export interface FlowAddress {
  readonly ip: string;
  readonly port?: number;
}

/**
 * The Service a connection went through: the client addressed one of its
 * frontends (`frontend`), and the connection was translated (DNAT) to the
 * flow's destination, one of its endpoints.
 */
export interface FlowService {
  readonly namespace: string;
  readonly name: string;
  /** The Service port's name; the empty string for an unnamed port. */
  readonly portName: string;
  /** What the client connected to. */
  readonly frontend: {
    readonly kind: FrontendKind;
    readonly ip: string;
    readonly port: number;
  };
}

export interface Counters {
  readonly packets: number;
  readonly bytes: number;
}

export interface FlowCommon {
  /** Unix time in milliseconds (fractions carry micro/nanoseconds). */
  readonly time: number;
  /** The node that observed the flow. */
  readonly node: string;
  /** Ingress into or egress out of the local endpoint this event was decided for. */
  readonly direction: Direction;
  readonly source: FlowEndpoint;
  readonly destination: FlowEndpoint;
  readonly protocol: FlowProtocol;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP, …). */
  readonly ipProtocol: number;
  /** TCP flags of the packet, for `drop` events of TCP packets. */
  readonly tcpFlags?: readonly TcpFlag[];
  /** ICMP type and code, for ICMP packets. */
  readonly icmp?: { readonly type: number; readonly code: number };
  /**
   * The connection was addressed to a Service and translated to
   * `destination`, one of its endpoints.
   */
  readonly service?: FlowService;
  /**
   * The connection was addressed to this address and translated to
   * `destination` by a rule of no Service weft knows (another tool's NAT, a
   * Service deleted since).
   */
  readonly translatedFrom?: FlowAddress;
  /**
   * The source was rewritten (masquerade, SNAT) to this address on the way:
   * the destination saw the connection come from it, not from `source`.
   */
  readonly masqueraded?: FlowAddress;
}

/**
 * What happened: a connection was allowed and started, an allowed connection
 * ended (with its counters), or a packet was dropped by policy.
 */
export type Flow = FlowCommon &
  (
    | { readonly event: 'start'; readonly verdict: 'forwarded'; readonly decidedBy: DecidedBy }
    | {
        readonly event: 'end';
        readonly verdict: 'forwarded';
        /** `original`: source → destination; `reply`: back. */
        readonly counters: { readonly original: Counters; readonly reply: Counters };
        readonly decidedBy: DecidedBy;
      }
    | { readonly event: 'drop'; readonly verdict: 'dropped'; readonly decidedBy: DecidedBy }
  );

export type FlowEvent = Flow['event'];
export type Verdict = Flow['verdict'];
export const FLOW_EVENTS: readonly FlowEvent[] = ['start', 'end', 'drop'];
export const VERDICTS: readonly Verdict[] = ['forwarded', 'dropped'];

/** The policies a flow's decision names (none for `default` and `unknown`). */
export function decidingPolicies(d: DecidedBy): readonly PolicyRef[] {
  switch (d.kind) {
    case 'rule':
      return [d.rule.policy];
    case 'isolation':
      return d.isolatedBy;
    case 'default':
    case 'unknown':
      return [];
    default:
      return assertNever(d);
  }
}
