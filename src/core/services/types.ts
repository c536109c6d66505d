import type { Cidr, IpAddr, IpFamily } from '../net/types.js';
import type { LoadBalancing, SessionAffinity, TrafficPolicy } from '../model/service-types.js';
import type { Protocol } from '../model/types.js';

/**
 * What one node's Service proxy must do, as data: kube-proxy's model of a
 * Service port (pkg/proxy: ServicePort, Endpoint, CategorizeEndpoints and
 * the nftables proxier's chains), computed once, sorted, and carrying the
 * Kubernetes object every frontend and backend comes from. The services
 * component (src/components/services) renders it into nftables rules; a
 * trace evaluates it.
 */

/** One node's Services. */
export interface ServiceModel {
  readonly node: string;
  /** One entry per Service, port, protocol and IP family; sorted by `id`, then family. */
  readonly ports: readonly ServicePortModel[];
  /** LoadBalancers with externalTrafficPolicy Local: what their health check answers on this node. */
  readonly healthChecks: readonly HealthCheck[];
  /** Services that get no rules at all, and why; sorted by namespace, then name. */
  readonly ignored: readonly IgnoredService[];
}

export interface ServicePortModel {
  /** `shop/web:http/TCP` (`shop/web:/TCP` for an unnamed port): the port's name in comments. */
  readonly id: string;
  readonly service: { readonly namespace: string; readonly name: string };
  readonly portName: string;
  readonly protocol: Protocol;
  readonly family: IpFamily;
  /** The Service port (ClusterIP, external IPs, load balancer IPs listen on it). */
  readonly port: number;
  /** Sorted: ClusterIP, ExternalIP, LoadBalancer, NodePort; then address, port. */
  readonly frontends: readonly Frontend[];
  readonly affinity: SessionAffinity;
  /** How a new connection picks its endpoint: the Service's annotation, else the agent's default. */
  readonly loadBalancing: LoadBalancing;
  /** Endpoints for Cluster-policy traffic (topology applied), sorted by address and port. */
  readonly clusterEndpoints: readonly Backend[];
  /** Endpoints on this node for Local-policy traffic, sorted by address and port. */
  readonly localEndpoints: readonly Backend[];
  /** Whether the Service port has a usable endpoint anywhere in the cluster. */
  readonly hasEndpoints: boolean;
  /** Traffic to the ClusterIP frontends. */
  readonly internal: TrafficPlan;
  /**
   * Traffic to the NodePort, external IP and load balancer frontends; absent
   * when the port has neither a node port nor such an address.
   */
  readonly external?: TrafficPlan;
}

export type FrontendKind = 'ClusterIP' | 'ExternalIP' | 'LoadBalancer' | 'NodePort';

export type Frontend =
  | {
      readonly kind: 'ClusterIP' | 'ExternalIP';
      readonly ip: IpAddr;
      readonly port: number;
      readonly service: string;
    }
  /** `spec.loadBalancerSourceRanges`, when given, limit who may use a load balancer IP. */
  | {
      readonly kind: 'LoadBalancer';
      readonly ip: IpAddr;
      readonly port: number;
      readonly sources: SourceRanges;
      readonly service: string;
    }
  /** A node port on one of this node's addresses. */
  | {
      readonly kind: 'NodePort';
      readonly ip: IpAddr;
      readonly port: number;
      readonly service: string;
    };

export type SourceRanges =
  | { readonly kind: 'any' }
  /**
   * Only these sources; when a range holds one of this node's addresses, the
   * load balancer IP itself is added (a VIP bound locally answers the node
   * with itself as the source), as kube-proxy does.
   */
  | { readonly kind: 'only'; readonly cidrs: readonly Cidr[] };

export interface Backend {
  readonly ip: IpAddr;
  readonly port: number;
  /** `shop/web-abcde`: the EndpointSlice it came from. */
  readonly slice: string;
  /** `Pod shop/web-1`: the endpoint's targetRef, when it has one. */
  readonly target?: string;
  readonly nodeName?: string;
  readonly zone?: string;
  /** On this node. */
  readonly local: boolean;
  /** Conditions as kube-proxy reads them: an absent ready or serving is true, terminating false. */
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  /** Topology hints: the zones and nodes it is meant for (empty: none). */
  readonly zoneHints: readonly string[];
  readonly nodeHints: readonly string[];
}

/** Where traffic of one kind goes, as kube-proxy decides it. */
export interface TrafficPlan {
  readonly policy: TrafficPolicy;
  /** Tried in order, the first whose `from` matches decides. */
  readonly steps: readonly TrafficStep[];
}

export interface TrafficStep {
  /**
   * `pod`: from a pod of the cluster; `node`: from an address of this node;
   * `any`: from anywhere.
   */
  readonly from: 'pod' | 'node' | 'any';
  /**
   * Rewrite the source to this node's address. A connection from an
   * endpoint to itself (hairpin) is always masqueraded, whatever this says.
   */
  readonly masquerade: boolean;
  readonly verdict: Verdict;
}

export type Verdict =
  /** Pick one endpoint of the set (and keep to it, with ClientIP affinity). */
  | { readonly kind: 'endpoints'; readonly set: 'cluster' | 'local' }
  /** Refuse at once: TCP reset, ICMP unreachable. */
  | { readonly kind: 'reject'; readonly reason: string }
  /** Drop silently. */
  | { readonly kind: 'drop'; readonly reason: string };

export interface HealthCheck {
  readonly service: { readonly namespace: string; readonly name: string };
  readonly nodePort: number;
  /** Ready endpoints of the Service on this node (distinct addresses): 200 when more than 0, else 503. */
  readonly localEndpoints: number;
}

export type IgnoreReason =
  | { readonly kind: 'ExternalName' }
  | { readonly kind: 'headless' }
  /** Not allocated: only offline, before allocateServices. */
  | { readonly kind: 'no-cluster-ip' }
  | { readonly kind: 'headless-label' }
  | { readonly kind: 'service-proxy-name'; readonly proxy: string };

export interface IgnoredService {
  readonly namespace: string;
  readonly name: string;
  readonly reason: IgnoreReason;
}
