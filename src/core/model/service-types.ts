import type { Labels } from '../labels.js';
import type { Cidr, IpAddr } from '../net/types.js';
import type { Origin, Protocol } from './types.js';

/**
 * Service (v1) and EndpointSlice (discovery.k8s.io/v1) in weft's own model:
 * validated as the API server validates them and defaulted as it defaults
 * them, so a manifest and the same object read from a cluster give the same
 * model. What the API server would allocate (ClusterIPs, node ports) stays
 * unset here; src/core/services/allocate.ts fills it in for offline use.
 */

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export const SERVICE_TYPES: readonly ServiceType[] = [
  'ClusterIP',
  'NodePort',
  'LoadBalancer',
  'ExternalName',
];

export type IpFamilyName = 'IPv4' | 'IPv6';
export const IP_FAMILY_NAMES: readonly IpFamilyName[] = ['IPv4', 'IPv6'];

export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
export const IP_FAMILY_POLICIES: readonly IpFamilyPolicy[] = [
  'SingleStack',
  'PreferDualStack',
  'RequireDualStack',
];

export type TrafficPolicy = 'Cluster' | 'Local';

/**
 * How a Service port's proxy picks an endpoint for a new connection:
 * `random` (each connection on its own), or `maglev` (consistent hashing of
 * the connection's addresses and ports: the same connection lands on the
 * same endpoint from any node, and removing one of N endpoints moves about
 * 1/N of the connections).
 */
export type LoadBalancing = 'random' | 'maglev';
export const LOAD_BALANCINGS: readonly LoadBalancing[] = ['random', 'maglev'];
/** The annotation a Service chooses its LoadBalancing with (absent: the agent's default). */
export const LB_ALGORITHM_ANNOTATION = 'service.weft.dev/lb-algorithm';
export const TRAFFIC_POLICIES: readonly TrafficPolicy[] = ['Cluster', 'Local'];

/** `spec.trafficDistribution`: PreferClose and its newer name PreferSameZone, or PreferSameNode. */
export type TrafficDistribution = 'PreferClose' | 'PreferSameZone' | 'PreferSameNode';
export const TRAFFIC_DISTRIBUTIONS: readonly TrafficDistribution[] = [
  'PreferClose',
  'PreferSameZone',
  'PreferSameNode',
];

/** `targetPort`: a number, or the name of a container port resolved per pod. */
export type TargetPort =
  | { readonly kind: 'number'; readonly port: number }
  | { readonly kind: 'named'; readonly name: string };

export interface ServicePort {
  /** `name`; the empty string for the one unnamed port a Service may have. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** Defaults to `port`, as the API server defaults it. */
  readonly targetPort: TargetPort;
  /** The node port when one is written (or allocated); absent otherwise. */
  readonly nodePort?: number;
  readonly appProtocol?: string;
}

/** `spec.clusterIP` / `spec.clusterIPs`. */
export type ClusterIps =
  /** Not written: the API server (or allocate.ts) assigns them. */
  | { readonly kind: 'unset' }
  /** `None`: a headless Service. */
  | { readonly kind: 'none' }
  /** One address, or two of different families, primary first. */
  | { readonly kind: 'set'; readonly ips: readonly IpAddr[] };

export type SessionAffinity =
  | { readonly kind: 'None' }
  /** `timeoutSeconds` defaults to 10800 (3 hours), as the API server defaults it. */
  | { readonly kind: 'ClientIP'; readonly timeoutSeconds: number };

/** One entry of `status.loadBalancer.ingress`. */
export interface LoadBalancerIngress {
  readonly ip?: IpAddr;
  /** With `ip` only; defaults to VIP, as the API server defaults it. */
  readonly ipMode?: 'VIP' | 'Proxy';
  readonly hostname?: string;
}

export interface Service {
  readonly kind: 'Service';
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  readonly type: ServiceType;
  /**
   * `spec.selector`; absent when not written or empty (the API server
   * stores an empty selector as none): such a Service gets no
   * EndpointSlices from the controller, only hand-written ones.
   */
  readonly selector?: Labels;
  readonly ports: readonly ServicePort[];
  readonly clusterIps: ClusterIps;
  /** `spec.ipFamilies` as written or allocated, in order (primary first); may be empty. */
  readonly ipFamilies: readonly IpFamilyName[];
  /** `spec.ipFamilyPolicy` when written; SingleStack is what an absent one means. */
  readonly ipFamilyPolicy?: IpFamilyPolicy;
  readonly externalIps: readonly IpAddr[];
  /** `spec.externalName` (a DNS name); required for type ExternalName. */
  readonly externalName?: string;
  readonly sessionAffinity: SessionAffinity;
  /** Cluster unless written; only an externally reachable Service may set it. */
  readonly externalTrafficPolicy: TrafficPolicy;
  readonly internalTrafficPolicy: TrafficPolicy;
  /** For a LoadBalancer with externalTrafficPolicy Local, when written or allocated. */
  readonly healthCheckNodePort?: number;
  /** LoadBalancer only; host bits masked. */
  readonly loadBalancerSourceRanges: readonly Cidr[];
  /** LoadBalancer only: whether NodePorts are allocated (default true). */
  readonly allocateLoadBalancerNodePorts: boolean;
  readonly loadBalancerClass?: string;
  /** Deprecated `spec.loadBalancerIP`, for the cloud provider; weft does not use it. */
  readonly loadBalancerIp?: string;
  readonly publishNotReadyAddresses: boolean;
  readonly trafficDistribution?: TrafficDistribution;
  /** From the annotation LB_ALGORITHM_ANNOTATION, when written. */
  readonly loadBalancing?: LoadBalancing;
  readonly loadBalancerIngress: readonly LoadBalancerIngress[];
  readonly origin?: Origin;
}

export type AddressType = 'IPv4' | 'IPv6' | 'FQDN';
export const ADDRESS_TYPES: readonly AddressType[] = ['IPv4', 'IPv6', 'FQDN'];

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The label that names an EndpointSlice's manager. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** The EndpointSlice controller's name in MANAGED_BY_LABEL. */
export const CONTROLLER_NAME = 'endpointslice-controller.k8s.io';

/** Endpoint conditions as written: an absent one is unknown (consumers decide what that means). */
export interface EndpointConditions {
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

export interface Endpoint<A> {
  /** At least one; consumers use the first. */
  readonly addresses: readonly A[];
  readonly conditions: EndpointConditions;
  readonly nodeName?: string;
  readonly zone?: string;
  /** `hints.forZones[].name` and `hints.forNodes[].name`; empty when none. */
  readonly zoneHints: readonly string[];
  readonly nodeHints: readonly string[];
  /** `targetRef`: the object behind the endpoint (usually a Pod). */
  readonly target?: {
    readonly kind?: string;
    readonly namespace?: string;
    readonly name?: string;
  };
  readonly hostname?: string;
}

export interface EndpointPort {
  /** The Service port name it serves; the empty string for an unnamed one. */
  readonly name: string;
  readonly protocol: Protocol;
  /** Absent: the port is unknown (consumers do not use such a port). */
  readonly port?: number;
  readonly appProtocol?: string;
}

interface EndpointSliceBase {
  readonly kind: 'EndpointSlice';
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  readonly ports: readonly EndpointPort[];
  readonly origin?: Origin;
}

export type EndpointSlice = EndpointSliceBase &
  (
    | { readonly addressType: 'IPv4' | 'IPv6'; readonly endpoints: readonly Endpoint<IpAddr>[] }
    | { readonly addressType: 'FQDN'; readonly endpoints: readonly Endpoint<string>[] }
  );
