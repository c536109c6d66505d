import { assertNever } from '../labels.js';
import {
  podKey,
  type ClusterNetworkPolicy,
  type Cluster,
  type Direction,
  type NetworkPolicy,
  type Pod,
  type PortsSpec,
} from '../model/types.js';
import type {
  Endpoint,
  IrPolicy,
  IrPorts,
  IrRule,
  IrSet,
  PolicyIr,
  PolicyRef,
  RuleAction,
  RuleOrigin,
  SetId,
} from './ir.js';
import { PeerResolver, type ResolvedPeers, type Selected } from './peers.js';

/** Which pods become endpoints; only policies that select one of them are compiled. */
export type CompileScope = (pod: Pod) => boolean;

/**
 * Compiles the cluster's NetworkPolicies and ClusterNetworkPolicies into the
 * IR. Pure and deterministic: the same cluster always gives the same IR.
 */
export function compilePolicies(cluster: Cluster, scope?: CompileScope): PolicyIr {
  return new PolicyCompiler().compile(cluster, scope);
}

/** One policy object, compiled: its IR policies (one per direction) and their sets. */
interface Compiled {
  readonly subjects: Selected;
  readonly tier: 'admin' | 'networkPolicies' | 'baseline';
  /** Compiled on first need: a policy selecting no endpoint in scope is never compiled. */
  parts?: { readonly policies: readonly IrPolicy[]; readonly sets: readonly IrSet[] };
  /** The subjects in scope, for the scope of `scopeKey`. */
  selected?: { readonly scopeKey: string; readonly pods: readonly Pod[] };
}

type AnyPolicy = NetworkPolicy | ClusterNetworkPolicy;

/**
 * Compiles one cluster after another, reusing what did not change: while the
 * pods, namespaces and nodes stay the same, a policy object seen before keeps
 * its compiled IR (the same objects, so later stages can skip them by
 * identity), and only new or changed policies are compiled. Any change to
 * pods, namespaces or nodes starts afresh, with every distinct selector
 * resolved once.
 */
export class PolicyCompiler {
  private world: { readonly inputs: SelectionInputs; readonly peers: PeerResolver } | undefined;
  private compiled = new WeakMap<AnyPolicy, Compiled>();
  /** Endpoints of the last compile: an endpoint whose policies did not change stays the same object. */
  private endpoints = new Map<string, Endpoint>();

  compile(cluster: Cluster, scope?: CompileScope): PolicyIr {
    const inputs = selectionInputs(cluster);
    if (!this.world || !sameInputs(this.world.inputs, inputs)) {
      this.world = { inputs, peers: new PeerResolver(cluster) };
      this.compiled = new WeakMap();
    }
    const peers = this.world.peers;
    const endpoints = new Map<string, MutableEndpoint>();
    const inScope = new Set<Pod>();
    for (const pod of peers.sel.pods) {
      if (scope && !scope(pod)) continue;
      endpoints.set(podKey(pod), newEndpoint(pod, peers));
      inScope.add(pod);
    }
    const scopeKey = [...endpoints.keys()].join(' ');
    const policies = new Map<string, IrPolicy>();
    const sets = new Map<SetId, IrSet>();
    const all: readonly AnyPolicy[] = [
      ...cluster.networkPolicies,
      ...cluster.clusterNetworkPolicies,
    ];
    for (const object of all) {
      const c = this.entry(object, peers);
      if (c.selected?.scopeKey !== scopeKey)
        c.selected = { scopeKey, pods: c.subjects.pods.filter((p) => inScope.has(p)) };
      const selected = c.selected.pods;
      // Without a scope, every policy is compiled (`weft policy ir` shows them all).
      if (selected.length === 0 && scope) continue;
      c.parts ??= compileParts(object, c.subjects, peers);
      for (const p of c.parts.policies) {
        policies.set(p.id, p);
        for (const pod of selected) endpoints.get(podKey(pod))?.[p.direction][c.tier].push(p.id);
      }
      for (const s of c.parts.sets) sets.set(s.id, s);
    }
    return { endpoints: this.reuseEndpoints(endpoints), policies, sets };
  }

  private reuseEndpoints(fresh: Map<string, Endpoint>): Map<string, Endpoint> {
    const out = new Map<string, Endpoint>();
    for (const [key, e] of fresh) {
      const old = this.endpoints.get(key);
      out.set(key, old && sameEndpoint(old, e) ? old : e);
    }
    this.endpoints = out;
    return out;
  }

  private entry(object: AnyPolicy, peers: PeerResolver): Compiled {
    let c = this.compiled.get(object);
    if (!c) {
      c =
        object.kind === 'NetworkPolicy'
          ? {
              subjects: peers.podsIn(object.namespace, object.podSelector),
              tier: 'networkPolicies',
            }
          : {
              subjects: peers.cnpSubjects(object.subject),
              tier: object.tier === 'Admin' ? 'admin' : 'baseline',
            };
      this.compiled.set(object, c);
    }
    return c;
  }
}

interface SelectionInputs {
  readonly pods: readonly Pod[];
  readonly nodes: Cluster['nodes'];
  readonly namespaces: readonly (readonly [string, string])[];
}

/** What selectors read: pods and nodes (objects are replaced, never mutated) and namespace labels. */
function selectionInputs(cluster: Cluster): SelectionInputs {
  return {
    pods: cluster.pods,
    nodes: cluster.nodes,
    namespaces: [...cluster.namespaces.values()].map((n) => [n.name, JSON.stringify(n.labels)]),
  };
}

function sameInputs(a: SelectionInputs, b: SelectionInputs): boolean {
  const same = <T>(x: readonly T[], y: readonly T[], eq: (p: T, q: T) => boolean) =>
    x.length === y.length && x.every((v, i) => eq(v, y[i] as T));
  return (
    same(a.pods, b.pods, (p, q) => p === q) &&
    same(a.nodes, b.nodes, (p, q) => p === q) &&
    same(a.namespaces, b.namespaces, (p, q) => p[0] === q[0] && p[1] === q[1])
  );
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  const list = (x: readonly unknown[], y: readonly unknown[]) =>
    x.length === y.length && x.every((v, i) => v === y[i]);
  const ip = (x: Endpoint['ips'], y: Endpoint['ips']) =>
    x.length === y.length &&
    x.every((v, i) => v.family === y[i]?.family && v.value === y[i]?.value);
  const dir = (x: Endpoint['ingress'], y: Endpoint['ingress']) =>
    list(x.admin, y.admin) &&
    list(x.networkPolicies, y.networkPolicies) &&
    list(x.baseline, y.baseline);
  return (
    a.node === b.node &&
    ip(a.ips, b.ips) &&
    ip(a.nodeAddresses, b.nodeAddresses) &&
    dir(a.ingress, b.ingress) &&
    dir(a.egress, b.egress)
  );
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

function newEndpoint(pod: Pod, peers: PeerResolver): MutableEndpoint {
  return {
    key: podKey(pod),
    namespace: pod.namespace,
    name: pod.name,
    ...(pod.nodeName !== undefined ? { node: pod.nodeName } : {}),
    ips: pod.ips,
    nodeAddresses: peers.sel.nodeAddresses(pod),
    ingress: { admin: [], networkPolicies: [], baseline: [] },
    egress: { admin: [], networkPolicies: [], baseline: [] },
  };
}

function compileParts(
  object: AnyPolicy,
  subjects: Selected,
  peers: PeerResolver,
): { policies: IrPolicy[]; sets: IrSet[] } {
  const out = { policies: [] as IrPolicy[], sets: [] as IrSet[] };
  const add = (ref: PolicyRef, direction: Direction, id: string, rules: IrRule[]) =>
    out.policies.push({ id, ref, direction, rules });
  if (object.kind === 'NetworkPolicy') {
    const ref: PolicyRef = {
      kind: 'NetworkPolicy',
      namespace: object.namespace,
      name: object.name,
    };
    for (const direction of object.policyTypes) {
      const id = `np/${object.namespace}/${object.name}/${direction}`;
      const written = direction === 'ingress' ? object.ingress : object.egress;
      const rules = written.map((rule, index) => {
        const origin: RuleOrigin = { policy: ref, direction, index };
        const resolved = peers.npPeers(
          object.namespace,
          rule.peers.kind === 'all' ? 'all' : rule.peers.peers,
        );
        const r = { id: `${id}/${index}`, origin, action: 'allow' as const, resolved };
        return irRule(r, rule.ports, subjects, peers, out.sets);
      });
      add(ref, direction, id, rules);
    }
    return out;
  }
  const ref: PolicyRef = {
    kind: 'ClusterNetworkPolicy',
    name: object.name,
    tier: object.tier,
    priority: object.priority,
  };
  for (const direction of ['ingress', 'egress'] as const) {
    const written = direction === 'ingress' ? object.ingress : object.egress;
    // A ClusterNetworkPolicy with no rules in a direction does not affect it.
    if (written.length === 0) continue;
    const id = `cnp/${object.name}/${direction}`;
    const rules = written.map((rule, index) => {
      const origin: RuleOrigin = {
        policy: ref,
        direction,
        index,
        ...(rule.name ? { name: rule.name } : {}),
      };
      const action = rule.action.toLowerCase() as RuleAction;
      const r = { id: `${id}/${index}`, origin, action, resolved: peers.cnpPeers(rule.peers) };
      return irRule(r, rule.ports, subjects, peers, out.sets);
    });
    add(ref, direction, id, rules);
  }
  return out;
}

/**
 * One IR rule. Named ports resolve against the destination pod: for ingress
 * that is the policy's own subject, for egress each peer pod.
 */
function irRule(
  r: { id: string; origin: RuleOrigin; action: RuleAction; resolved: ResolvedPeers },
  spec: PortsSpec,
  subjects: Selected,
  peers: PeerResolver,
  sets: IrSet[],
): IrRule {
  const { id, origin, resolved } = r;
  let peer: IrRule['peer'] = { kind: 'any' };
  if (!resolved.any) {
    const set = `${id}/peers` as SetId;
    sets.push({ kind: 'addresses', id: set, cidrs: resolved.cidrs, origin, parts: resolved.parts });
    peer = { kind: 'set', set };
  }
  const destinations =
    origin.direction === 'ingress'
      ? subjects
      : resolved.any
        ? { key: 'all pods', pods: peers.sel.pods }
        : { key: resolved.key, pods: resolved.pods };
  let ports: IrPorts = { kind: 'any' };
  if (spec.kind === 'list') {
    ports = {
      kind: 'list',
      ports: spec.ports.map((p, i) => {
        switch (p.kind) {
          case 'protocol':
          case 'range':
            return p;
          case 'named': {
            const set = `${id}/port${i}` as SetId;
            const entries = peers.namedPortEntries(
              destinations.key,
              destinations.pods,
              p.name,
              p.protocol,
            );
            sets.push({ kind: 'ports', id: set, name: p.name, entries, origin });
            return { kind: 'named', name: p.name, set };
          }
          default:
            return assertNever(p);
        }
      }),
    };
  }
  return { id, origin, action: r.action, peer, ports };
}
