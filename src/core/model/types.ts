import type { LabelSelector, Labels } from '../labels.js';
import type { Cidr, IpAddr } from '../net/types.js';
import type { NodeAnnotationKey } from './node-annotations.js';
import type { EndpointSlice, Service } from './service-types.js';

/**
 * weft's own model of the cluster: narrow, validated, parsed once at the edge.
 * Nothing here is an API type; absent and empty are told apart by tagged unions.
 */

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export type Direction = 'ingress' | 'egress';
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

/** Where an object came from, for messages: `file:line`. */
export interface Origin {
  readonly file?: string;
  readonly line?: number;
}

export interface Namespace {
  readonly kind: 'Namespace';
  readonly name: string;
  /** Always includes `kubernetes.io/metadata.name`, as the API server sets it. */
  readonly labels: Labels;
  /** True when no Namespace object was given and weft inferred it from a namespaced object. */
  readonly implicit: boolean;
  readonly origin?: Origin;
}

export interface ContainerPort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: Protocol;
}

export interface Pod {
  readonly kind: 'Pod';
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  readonly nodeName?: string;
  readonly hostNetwork: boolean;
  /** Container ports of every container (init containers excluded), in order. */
  readonly ports: readonly ContainerPort[];
  /** From `status.podIPs` / `status.podIP`; empty when the manifest gives none. */
  readonly ips: readonly IpAddr[];
  /** The controller that owns the pod (`ReplicaSet/web-7d9f`), when known. */
  readonly owner?: { readonly kind: string; readonly name: string };
  /** `status.phase`, when the manifest gives it. */
  readonly phase?: PodPhase;
  /**
   * The `Ready` condition of `status.conditions`: true when its status is
   * "True", false when "False" or "Unknown"; absent when none is reported.
   */
  readonly ready?: boolean;
  /** Set (true) when `metadata.deletionTimestamp` is: the pod is being deleted. */
  readonly terminating?: true;
  readonly origin?: Origin;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
export const POD_PHASES: readonly PodPhase[] = [
  'Pending',
  'Running',
  'Succeeded',
  'Failed',
  'Unknown',
];

export interface Node {
  readonly kind: 'Node';
  readonly name: string;
  readonly labels: Labels;
  /** `status.addresses` of type InternalIP / ExternalIP, in order. */
  readonly addresses: readonly IpAddr[];
  /** `spec.podCIDRs` (or `spec.podCIDR`). */
  readonly podCidrs: readonly Cidr[];
  /**
   * The annotations of READ_NODE_ANNOTATIONS the Node carries, as written:
   * what its agent publishes for its peers. Their readers check them.
   */
  readonly annotations?: Readonly<Partial<Record<NodeAnnotationKey, string>>>;
  readonly origin?: Origin;
}

/** A port match as written by a policy, before named ports are resolved. */
export type PortSpec =
  /** Every port of one protocol. */
  | { readonly kind: 'protocol'; readonly protocol: Protocol }
  /** An inclusive range of port numbers (a single port has from === to). */
  | {
      readonly kind: 'range';
      readonly protocol: Protocol;
      readonly from: number;
      readonly to: number;
    }
  /**
   * A named container port of the destination pod. NetworkPolicy names a
   * protocol (default TCP) that must match too; ClusterNetworkPolicy's
   * `destinationNamedPort` takes the protocol of the container port (`any`).
   */
  | { readonly kind: 'named'; readonly name: string; readonly protocol: Protocol | 'any' };

/** `{kind: 'all'}` is "no ports field": every port and protocol. */
export type PortsSpec =
  { readonly kind: 'all' } | { readonly kind: 'list'; readonly ports: readonly PortSpec[] };

/** Which namespaces a NetworkPolicy peer looks in. */
export type NamespaceScope =
  /** No namespaceSelector: the policy's own namespace. */
  | { readonly kind: 'own' }
  /** A namespaceSelector (an empty one selects every namespace). */
  | { readonly kind: 'selector'; readonly selector: LabelSelector };

export type NetworkPolicyPeer =
  | {
      readonly kind: 'pods';
      readonly namespaces: NamespaceScope;
      /** Absent podSelector (with a namespaceSelector) selects every pod: an empty selector. */
      readonly pods: LabelSelector;
    }
  | { readonly kind: 'ipBlock'; readonly cidr: Cidr; readonly except: readonly Cidr[] };

/** `{kind:'all'}`: the rule has no from/to (or an empty one): every peer. */
export type PeersSpec<P> =
  { readonly kind: 'all' } | { readonly kind: 'list'; readonly peers: readonly P[] };

export interface NetworkPolicyRule {
  readonly peers: PeersSpec<NetworkPolicyPeer>;
  readonly ports: PortsSpec;
}

export interface NetworkPolicy {
  readonly kind: 'NetworkPolicy';
  readonly namespace: string;
  readonly name: string;
  readonly podSelector: LabelSelector;
  /** After defaulting: the directions this policy isolates. */
  readonly policyTypes: readonly Direction[];
  /** Rules as written; ignored for a direction not in policyTypes. */
  readonly ingress: readonly NetworkPolicyRule[];
  readonly egress: readonly NetworkPolicyRule[];
  readonly origin?: Origin;
}

export type Tier = 'Admin' | 'Baseline';
export type CnpAction = 'Accept' | 'Deny' | 'Pass';

export type CnpSubject =
  | { readonly kind: 'namespaces'; readonly selector: LabelSelector }
  | {
      readonly kind: 'pods';
      readonly namespaceSelector: LabelSelector;
      readonly podSelector: LabelSelector;
    };

export type CnpPeer =
  | { readonly kind: 'namespaces'; readonly selector: LabelSelector }
  | {
      readonly kind: 'pods';
      readonly namespaceSelector: LabelSelector;
      readonly podSelector: LabelSelector;
    }
  /** Egress only: the addresses of the selected Nodes. */
  | { readonly kind: 'nodes'; readonly selector: LabelSelector }
  /** Egress only. */
  | { readonly kind: 'networks'; readonly cidrs: readonly Cidr[] };

export interface CnpRule {
  /** `name` as written, or undefined. */
  readonly name?: string;
  readonly action: CnpAction;
  readonly peers: readonly CnpPeer[];
  /** No `protocols`: every port and protocol. */
  readonly ports: PortsSpec;
}

export interface ClusterNetworkPolicy {
  readonly kind: 'ClusterNetworkPolicy';
  readonly name: string;
  readonly tier: Tier;
  readonly priority: number;
  readonly subject: CnpSubject;
  readonly ingress: readonly CnpRule[];
  readonly egress: readonly CnpRule[];
  readonly origin?: Origin;
}

export type ModelObject =
  Namespace | Pod | Node | NetworkPolicy | ClusterNetworkPolicy | Service | EndpointSlice;

/** The whole cluster as weft sees it. Pods and namespaces are keyed `ns/name` and `name`. */
export interface Cluster {
  readonly namespaces: ReadonlyMap<string, Namespace>;
  readonly pods: readonly Pod[];
  readonly nodes: readonly Node[];
  readonly networkPolicies: readonly NetworkPolicy[];
  readonly clusterNetworkPolicies: readonly ClusterNetworkPolicy[];
  /** Sorted by namespace, then name. */
  readonly services: readonly Service[];
  /** Sorted by namespace, then name. */
  readonly endpointSlices: readonly EndpointSlice[];
}

export function podKey(pod: { readonly namespace: string; readonly name: string }): string {
  return `${pod.namespace}/${pod.name}`;
}

/** How an object is named in messages: `NetworkPolicy prod/allow-web (policies.yaml:12)`. */
export function describeObject(o: {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly origin?: Origin;
}): string {
  const id = o.namespace ? `${o.namespace}/${o.name}` : o.name;
  const where = o.origin?.file
    ? ` (${o.origin.file}${o.origin.line ? `:${o.origin.line}` : ''})`
    : '';
  return `${o.kind} ${id}${where}`;
}
