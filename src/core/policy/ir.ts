import type { Cidr, IpAddr } from '../net/types.js';
import type { Direction, Protocol, Tier } from '../model/types.js';

/**
 * The policy IR: what the nft renderer turns into rules and what the trace
 * evaluator walks. Every rule, set and endpoint records the Kubernetes object
 * it came from, so a verdict can always name its policy and rule.
 *
 * Evaluation, per endpoint and direction (ingress on the destination pod,
 * egress on the source pod), first decision wins:
 *   1. the peer is the endpoint itself (hairpin): allow;
 *   2. Admin-tier ClusterNetworkPolicies in order: Accept / Deny final, Pass
 *      skips the rest of the Admin tier;
 *   3. NetworkPolicies: if any selects the endpoint in this direction, allow
 *      if the peer is the endpoint's own node (NetworkPolicy's exemption for
 *      kubelet probes) or one of their rules matches, else drop ("isolated");
 *   4. Baseline-tier ClusterNetworkPolicies in order: Accept / Deny final,
 *      Pass goes on to 5;
 *   5. allow.
 *
 * The own node is exempt from NetworkPolicy only: a ClusterNetworkPolicy rule
 * whose `nodes` or `networks` peer matches it decides like any other rule.
 */

export type PolicyRef =
  | { readonly kind: 'NetworkPolicy'; readonly namespace: string; readonly name: string }
  | {
      readonly kind: 'ClusterNetworkPolicy';
      readonly name: string;
      readonly tier: Tier;
      readonly priority: number;
    };

export interface RuleOrigin {
  readonly policy: PolicyRef;
  readonly direction: Direction;
  /** Index in the policy's `ingress`/`egress` list. */
  readonly index: number;
  /** ClusterNetworkPolicy rule `name`, when written. */
  readonly name?: string;
}

export type RuleAction = 'allow' | 'accept' | 'deny' | 'pass';

/** Identifies a set in `PolicyIr.sets`. Stable across compiles of the same objects. */
export type SetId = string & { readonly __brand: 'SetId' };

/** Peer addresses: pod IPs (as host CIDRs) and CIDR blocks, merged and disjoint. */
export interface AddressSet {
  readonly kind: 'addresses';
  readonly id: SetId;
  readonly cidrs: readonly Cidr[];
  readonly origin: RuleOrigin;
  /**
   * The peers one by one, as written (their union is `cidrs`). The dataplane
   * keeps one set per distinct peer, shared by every rule that names it, so a
   * pod that appears changes a few shared sets and no chain.
   */
  readonly parts?: readonly PeerPart[];
}

/** One peer of a rule: a selector or a block, and the addresses it stands for. */
export interface PeerPart {
  /** Says what the peer selects, e.g. `pods app=db in namespace prod`; equal text, equal peer. */
  readonly text: string;
  /** Pods only: every element is one address (no intervals). */
  readonly hosts: boolean;
  readonly cidrs: readonly Cidr[];
}

/** Named ports resolved per destination pod: (destination IP, protocol, port). */
export interface PortSet {
  readonly kind: 'ports';
  readonly id: SetId;
  readonly name: string;
  readonly entries: readonly NamedPortEntry[];
  readonly origin: RuleOrigin;
}

export interface NamedPortEntry {
  readonly ip: IpAddr;
  readonly protocol: Protocol;
  readonly port: number;
}

export type IrSet = AddressSet | PortSet;

export type IrPeer = { readonly kind: 'any' } | { readonly kind: 'set'; readonly set: SetId };

export type IrPort =
  | { readonly kind: 'protocol'; readonly protocol: Protocol }
  | {
      readonly kind: 'range';
      readonly protocol: Protocol;
      readonly from: number;
      readonly to: number;
    }
  /** Matches when (destination IP, protocol, port) is in the set. */
  | { readonly kind: 'named'; readonly name: string; readonly set: SetId };

export type IrPorts =
  { readonly kind: 'any' } | { readonly kind: 'list'; readonly ports: readonly IrPort[] };

export interface IrRule {
  /** Unique and stable, e.g. `np/prod/web/ingress/0`. */
  readonly id: string;
  readonly origin: RuleOrigin;
  readonly action: RuleAction;
  readonly peer: IrPeer;
  readonly ports: IrPorts;
}

/** One policy in one direction: the rules, in order. Rendered as one chain. */
export interface IrPolicy {
  readonly id: string;
  readonly ref: PolicyRef;
  readonly direction: Direction;
  readonly rules: readonly IrRule[];
}

export interface EndpointDirection {
  /** Admin-tier ClusterNetworkPolicy ids, in evaluation order. */
  readonly admin: readonly string[];
  /** NetworkPolicy ids that isolate the endpoint in this direction; empty: not isolated. */
  readonly networkPolicies: readonly string[];
  /** Baseline-tier ClusterNetworkPolicy ids, in evaluation order. */
  readonly baseline: readonly string[];
}

export interface Endpoint {
  /** `namespace/name` of the pod. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly node?: string;
  readonly ips: readonly IpAddr[];
  /** Addresses of the pod's own node: NetworkPolicies that isolate the pod still allow them. */
  readonly nodeAddresses: readonly IpAddr[];
  readonly ingress: EndpointDirection;
  readonly egress: EndpointDirection;
}

export interface PolicyIr {
  /** Keyed by `namespace/name`. Only pods with their own network (not hostNetwork). */
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  readonly policies: ReadonlyMap<string, IrPolicy>;
  readonly sets: ReadonlyMap<SetId, IrSet>;
}

export function policyRefText(ref: PolicyRef): string {
  return ref.kind === 'NetworkPolicy'
    ? `NetworkPolicy ${ref.namespace}/${ref.name}`
    : `ClusterNetworkPolicy ${ref.name} (${ref.tier} tier, priority ${ref.priority})`;
}

export function ruleOriginText(o: RuleOrigin): string {
  const name = o.name ? ` "${o.name}"` : '';
  return `${policyRefText(o.policy)} ${o.direction}[${o.index}]${name}`;
}
