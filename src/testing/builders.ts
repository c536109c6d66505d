/**
 * Tiny builders for lint tests: Clusters by hand, without YAML. Labels given
 * as `{app: 'web'}` become `In` requirements, as matchLabels do.
 */
import type { LabelSelector, Labels } from '../core/labels.js';
import type {
  Cluster,
  ClusterNetworkPolicy,
  CnpPeer,
  CnpRule,
  ContainerPort,
  Direction,
  Namespace,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyRule,
  Node,
  Pod,
  PortSpec,
  Protocol,
} from '../core/model/types.js';
import { parseCidr } from '../core/net/cidr.js';
import type { Cidr } from '../core/net/types.js';
import { parseIp } from '../core/net/ip.js';

export function sel(labels: Labels = {}): LabelSelector {
  return {
    requirements: Object.entries(labels).map(([key, v]) => ({ key, operator: 'In', values: [v] })),
  };
}

export function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad CIDR ${text}`);
  return parsed.cidr;
}

export function ns(name: string, labels: Labels = {}, implicit = false): Namespace {
  return {
    kind: 'Namespace',
    name,
    labels: { ...labels, 'kubernetes.io/metadata.name': name },
    implicit,
  };
}

/** `pod('prod/web', {app: 'web'}, {ports: [{name: 'http', port: 80, protocol: 'TCP'}]})`. */
export function pod(
  key: string,
  labels: Labels = {},
  opts: { ports?: ContainerPort[]; hostNetwork?: boolean; ip?: string } = {},
): Pod {
  const [namespace = '', name = ''] = key.split('/');
  const ip = opts.ip === undefined ? undefined : parseIp(opts.ip);
  return {
    kind: 'Pod',
    namespace,
    name,
    labels,
    hostNetwork: opts.hostNetwork ?? false,
    ports: opts.ports ?? [],
    ips: ip ? [ip] : [],
  };
}

export function node(name: string, labels: Labels = {}): Node {
  return { kind: 'Node', name, labels, addresses: [], podCidrs: [] };
}

export const tcp = (port: number, to = port): PortSpec => ({
  kind: 'range',
  protocol: 'TCP',
  from: port,
  to,
});
export const udp = (port: number, to = port): PortSpec => ({
  kind: 'range',
  protocol: 'UDP',
  from: port,
  to,
});
export const named = (name: string, protocol: Protocol | 'any' = 'TCP'): PortSpec => ({
  kind: 'named',
  name,
  protocol,
});

/** A pods peer: in the policy's own namespace, or across namespaces matching `nsLabels`. */
export function podsPeer(podLabels: Labels, nsLabels?: Labels): NetworkPolicyPeer {
  return {
    kind: 'pods',
    namespaces: nsLabels ? { kind: 'selector', selector: sel(nsLabels) } : { kind: 'own' },
    pods: sel(podLabels),
  };
}

export function ipBlock(block: string, ...except: string[]): NetworkPolicyPeer {
  return { kind: 'ipBlock', cidr: cidr(block), except: except.map(cidr) };
}

/** A rule: no `peers` means every peer, no `ports` every port. */
export function rule(peers?: NetworkPolicyPeer[], ports?: PortSpec[]): NetworkPolicyRule {
  return {
    peers: peers ? { kind: 'list', peers } : { kind: 'all' },
    ports: ports ? { kind: 'list', ports } : { kind: 'all' },
  };
}

export const DNS_RULE = rule(
  [podsPeer({ 'k8s-app': 'kube-dns' }, { 'kubernetes.io/metadata.name': 'kube-system' })],
  [udp(53), tcp(53)],
);

export function np(
  key: string,
  spec: {
    podSelector?: Labels;
    policyTypes?: Direction[];
    ingress?: NetworkPolicyRule[];
    egress?: NetworkPolicyRule[];
  } = {},
): NetworkPolicy {
  const [namespace = '', name = ''] = key.split('/');
  return {
    kind: 'NetworkPolicy',
    namespace,
    name,
    podSelector: sel(spec.podSelector),
    policyTypes: spec.policyTypes ?? ['ingress'],
    ingress: spec.ingress ?? [],
    egress: spec.egress ?? [],
  };
}

export function cnpRule(
  action: CnpRule['action'],
  peers: CnpPeer[],
  ports?: PortSpec[],
  name?: string,
): CnpRule {
  return {
    action,
    peers,
    ports: ports ? { kind: 'list', ports } : { kind: 'all' },
    ...(name === undefined ? {} : { name }),
  };
}

export function cnp(
  name: string,
  spec: Partial<
    Pick<ClusterNetworkPolicy, 'tier' | 'priority' | 'subject' | 'ingress' | 'egress'>
  > = {},
): ClusterNetworkPolicy {
  return {
    kind: 'ClusterNetworkPolicy',
    name,
    tier: spec.tier ?? 'Admin',
    priority: spec.priority ?? 10,
    subject: spec.subject ?? { kind: 'namespaces', selector: sel() },
    ingress: spec.ingress ?? [],
    egress: spec.egress ?? [],
  };
}

/** A cluster; every namespace a pod or policy names is created (explicitly, with only its name label). */
export function cluster(objects: {
  namespaces?: Namespace[];
  pods?: Pod[];
  nodes?: Node[];
  networkPolicies?: NetworkPolicy[];
  clusterNetworkPolicies?: ClusterNetworkPolicy[];
}): Cluster {
  const namespaces = new Map((objects.namespaces ?? []).map((n) => [n.name, n]));
  for (const o of [...(objects.pods ?? []), ...(objects.networkPolicies ?? [])]) {
    if (!namespaces.has(o.namespace)) namespaces.set(o.namespace, ns(o.namespace));
  }
  return {
    namespaces,
    pods: objects.pods ?? [],
    nodes: objects.nodes ?? [],
    networkPolicies: objects.networkPolicies ?? [],
    clusterNetworkPolicies: objects.clusterNetworkPolicies ?? [],
    services: [],
    endpointSlices: [],
  };
}
