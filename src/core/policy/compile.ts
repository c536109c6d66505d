import { assertNever } from '../labels.js';
import { hostCidr, mergeCidrs, subtractCidrs } from '../net/cidr.js';
import type { Cidr } from '../net/types.js';
import {
  podKey,
  type ClusterNetworkPolicy,
  type Cluster,
  type CnpPeer,
  type CnpRule,
  type NetworkPolicy,
  type NetworkPolicyPeer,
  type NetworkPolicyRule,
  type Pod,
  type PortsSpec,
} from '../model/types.js';
import type {
  Endpoint,
  IrPeer,
  IrPolicy,
  IrPorts,
  IrRule,
  IrSet,
  NamedPortEntry,
  PolicyIr,
  PolicyRef,
  RuleAction,
  RuleOrigin,
  SetId,
} from './ir.js';
import { Selection } from './select.js';

/** What one rule's peers resolve to: addresses, and the pods among them (for named ports). */
interface ResolvedPeers {
  readonly any: boolean;
  readonly cidrs: Cidr[];
  /** Destination pods a named port may resolve against (egress). */
  readonly pods: Pod[];
}

interface MutableDirection {
  admin: string[];
  networkPolicies: string[];
  baseline: string[];
}

interface MutableEndpoint extends Omit<Endpoint, 'ingress' | 'egress'> {
  ingress: MutableDirection;
  egress: MutableDirection;
}

/**
 * Compiles the cluster's NetworkPolicies and ClusterNetworkPolicies into the
 * IR. Pure and deterministic: the same cluster always gives the same IR.
 */
export function compilePolicies(cluster: Cluster): PolicyIr {
  return new Compiler(cluster).run();
}

class Compiler {
  private readonly sel: Selection;
  private readonly endpoints = new Map<string, MutableEndpoint>();
  private readonly policies = new Map<string, IrPolicy>();
  private readonly sets = new Map<SetId, IrSet>();

  constructor(private readonly cluster: Cluster) {
    this.sel = new Selection(cluster);
    for (const pod of this.sel.pods) {
      this.endpoints.set(podKey(pod), {
        key: podKey(pod),
        namespace: pod.namespace,
        name: pod.name,
        ...(pod.nodeName !== undefined ? { node: pod.nodeName } : {}),
        ips: pod.ips,
        nodeAddresses: this.sel.nodeAddresses(pod),
        ingress: { admin: [], networkPolicies: [], baseline: [] },
        egress: { admin: [], networkPolicies: [], baseline: [] },
      });
    }
  }

  run(): PolicyIr {
    for (const np of this.cluster.networkPolicies) this.networkPolicy(np);
    for (const cnp of this.cluster.clusterNetworkPolicies) this.clusterNetworkPolicy(cnp);
    return { endpoints: this.endpoints, policies: this.policies, sets: this.sets };
  }

  private networkPolicy(np: NetworkPolicy): void {
    const ref: PolicyRef = { kind: 'NetworkPolicy', namespace: np.namespace, name: np.name };
    const subjects = this.sel.podsIn(np.namespace, np.podSelector);
    for (const direction of np.policyTypes) {
      const id = `np/${np.namespace}/${np.name}/${direction}`;
      const written = direction === 'ingress' ? np.ingress : np.egress;
      const rules = written.map((rule, index) => {
        const origin: RuleOrigin = { policy: ref, direction, index };
        const peers = this.npPeers(np, rule);
        return this.rule(`${id}/${index}`, origin, 'allow', peers, rule.ports, subjects);
      });
      this.policies.set(id, { id, ref, direction, rules });
      for (const pod of subjects) this.endpoint(pod)[direction].networkPolicies.push(id);
    }
  }

  private clusterNetworkPolicy(cnp: ClusterNetworkPolicy): void {
    const ref: PolicyRef = {
      kind: 'ClusterNetworkPolicy',
      name: cnp.name,
      tier: cnp.tier,
      priority: cnp.priority,
    };
    const subjects =
      cnp.subject.kind === 'namespaces'
        ? this.sel.podsAcross(cnp.subject.selector, { requirements: [] })
        : this.sel.podsAcross(cnp.subject.namespaceSelector, cnp.subject.podSelector);
    for (const direction of ['ingress', 'egress'] as const) {
      const written: readonly CnpRule[] = direction === 'ingress' ? cnp.ingress : cnp.egress;
      // A ClusterNetworkPolicy with no rules in a direction does not affect it.
      if (written.length === 0) continue;
      const id = `cnp/${cnp.name}/${direction}`;
      const rules = written.map((rule, index) => {
        const origin: RuleOrigin = {
          policy: ref,
          direction,
          index,
          ...(rule.name ? { name: rule.name } : {}),
        };
        const peers = this.cnpPeers(rule.peers);
        const action = rule.action.toLowerCase() as RuleAction;
        return this.rule(`${id}/${index}`, origin, action, peers, rule.ports, subjects);
      });
      this.policies.set(id, { id, ref, direction, rules });
      const tier = cnp.tier === 'Admin' ? 'admin' : 'baseline';
      for (const pod of subjects) this.endpoint(pod)[direction][tier].push(id);
    }
  }

  private endpoint(pod: Pod): MutableEndpoint {
    const e = this.endpoints.get(podKey(pod));
    if (!e) throw new Error(`no endpoint for ${podKey(pod)}`);
    return e;
  }

  /**
   * One IR rule. Named ports resolve against the destination pod: for ingress
   * that is the policy's own subject, for egress each peer pod.
   */
  private rule(
    id: string,
    origin: RuleOrigin,
    action: RuleAction,
    peers: ResolvedPeers,
    ports: PortsSpec,
    subjects: readonly Pod[],
  ): IrRule {
    let peer: IrPeer = { kind: 'any' };
    if (!peers.any) {
      const set = `${id}/peers` as SetId;
      this.sets.set(set, { kind: 'addresses', id: set, cidrs: mergeCidrs(peers.cidrs), origin });
      peer = { kind: 'set', set };
    }
    const destinations =
      origin.direction === 'ingress' ? subjects : peers.any ? this.sel.pods : unique(peers.pods);
    return { id, origin, action, peer, ports: this.ports(id, origin, ports, destinations) };
  }

  private ports(
    id: string,
    origin: RuleOrigin,
    spec: PortsSpec,
    destinations: readonly Pod[],
  ): IrPorts {
    if (spec.kind === 'all') return { kind: 'any' };
    return {
      kind: 'list',
      ports: spec.ports.map((p, i) => {
        switch (p.kind) {
          case 'protocol':
          case 'range':
            return p;
          case 'named': {
            const set = `${id}/port${i}` as SetId;
            const entries: NamedPortEntry[] = [];
            for (const pod of destinations) {
              for (const cp of pod.ports) {
                if (cp.name !== p.name || (p.protocol !== 'any' && cp.protocol !== p.protocol))
                  continue;
                for (const ip of pod.ips)
                  entries.push({ ip, protocol: cp.protocol, port: cp.port });
              }
            }
            this.sets.set(set, { kind: 'ports', id: set, name: p.name, entries, origin });
            return { kind: 'named', name: p.name, set };
          }
          default:
            return assertNever(p);
        }
      }),
    };
  }

  private npPeers(np: NetworkPolicy, rule: NetworkPolicyRule): ResolvedPeers {
    if (rule.peers.kind === 'all') return { any: true, cidrs: [], pods: [] };
    const cidrs: Cidr[] = [];
    const pods: Pod[] = [];
    for (const peer of rule.peers.peers) this.npPeer(np, peer, cidrs, pods);
    return { any: false, cidrs, pods };
  }

  private npPeer(np: NetworkPolicy, peer: NetworkPolicyPeer, cidrs: Cidr[], pods: Pod[]): void {
    switch (peer.kind) {
      case 'pods': {
        const selected =
          peer.namespaces.kind === 'own'
            ? this.sel.podsIn(np.namespace, peer.pods)
            : this.sel.podsAcross(peer.namespaces.selector, peer.pods);
        addPods(selected, cidrs, pods);
        return;
      }
      case 'ipBlock': {
        const blocks = subtractCidrs(peer.cidr, peer.except);
        cidrs.push(...blocks);
        pods.push(...this.sel.podsInCidrs(blocks));
        return;
      }
      default:
        return assertNever(peer);
    }
  }

  private cnpPeers(peers: readonly CnpPeer[]): ResolvedPeers {
    const cidrs: Cidr[] = [];
    const pods: Pod[] = [];
    for (const peer of peers) {
      switch (peer.kind) {
        case 'namespaces':
          addPods(this.sel.podsAcross(peer.selector, { requirements: [] }), cidrs, pods);
          break;
        case 'pods':
          addPods(this.sel.podsAcross(peer.namespaceSelector, peer.podSelector), cidrs, pods);
          break;
        case 'nodes':
          for (const node of this.sel.nodesMatching(peer.selector))
            cidrs.push(...node.addresses.map(hostCidr));
          break;
        case 'networks':
          cidrs.push(...peer.cidrs);
          pods.push(...this.sel.podsInCidrs(peer.cidrs));
          break;
        default:
          assertNever(peer);
      }
    }
    return { any: false, cidrs, pods };
  }
}

function unique(pods: readonly Pod[]): Pod[] {
  return [...new Set(pods)];
}

function addPods(selected: readonly Pod[], cidrs: Cidr[], pods: Pod[]): void {
  for (const pod of selected) {
    pods.push(pod);
    for (const ip of pod.ips) cidrs.push(hostCidr(ip));
  }
}
