import { assertNever } from '../labels.js';
import { byNamespaceName } from '../model/cluster.js';
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
  IrPort,
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
import { normalizePorts } from './ports.js';
import { walkAgain, type Walked } from './walk.js';

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
  /** The resolver `subjects` and `parts` were last checked against. */
  resolver: PeerResolver;
  subjects: Selected;
  readonly tier: 'admin' | 'networkPolicies' | 'baseline';
  /** Compiled on first need: a policy selecting no endpoint in scope is never compiled. */
  parts?: Parts;
  /** The subjects in scope, for the scope of `scopeKey` and these subjects. */
  selected?: {
    readonly scopeKey: string;
    readonly from: readonly Pod[];
    readonly pods: readonly Pod[];
  };
}

type AnyPolicy = NetworkPolicy | ClusterNetworkPolicy;

interface LastCompile {
  readonly peers: PeerResolver;
  readonly scopeKey: string;
  readonly scoped: boolean;
  /** Every policy, and the entry of each that adds to the IR. */
  readonly walked: Walked<AnyPolicy, Compiled>;
}

/**
 * Compiles one cluster after another, reusing what did not change: a policy
 * object seen before keeps its compiled IR (the same objects, so later stages
 * can skip them by identity) while what it selects stays the same. After a
 * pod change, only the selections the changed pods can affect are resolved
 * again, and only the policies using them are compiled again. A change to
 * namespaces or nodes starts afresh, with every distinct selector resolved
 * once.
 */
export class PolicyCompiler {
  private world: { readonly inputs: SelectionInputs; readonly peers: PeerResolver } | undefined;
  private compiled = new WeakMap<AnyPolicy, Compiled>();
  /** Endpoints of the last compile: an endpoint whose policies did not change stays the same object. */
  private endpoints = new Map<string, Endpoint>();
  /** The last compile's policies, resolver and scope: an unchanged policy is not looked at again. */
  private last: LastCompile | undefined;

  compile(cluster: Cluster, scope?: CompileScope): PolicyIr {
    const peers = this.resolver(cluster);
    const endpoints = new Map<string, MutableEndpoint>();
    // By key: a selection may hold an earlier version of a pod (see PeerResolver).
    // namespace → names: a membership test without building a key per pod.
    const inScope = new Map<string, Set<string>>();
    for (const pod of peers.sel.pods) {
      if (scope && !scope(pod)) continue;
      endpoints.set(podKey(pod), newEndpoint(pod, peers));
      let names = inScope.get(pod.namespace);
      if (!names) inScope.set(pod.namespace, (names = new Set()));
      names.add(pod.name);
    }
    const scopeKey = [...endpoints.keys()].join(' ');
    const policies = new Map<string, IrPolicy>();
    const sets = new Map<SetId, IrSet>();
    const all: readonly AnyPolicy[] = [
      ...cluster.networkPolicies,
      ...cluster.clusterNetworkPolicies,
    ];
    const scoped = scope !== undefined;
    const l = this.last;
    const last =
      l?.peers === peers && l.scopeKey === scopeKey && l.scoped === scoped ? l : undefined;
    const walked = walkAgain(all, last?.walked, (object) => {
      const c = this.entry(object, peers);
      if (c.selected?.scopeKey !== scopeKey || c.selected.from !== c.subjects.pods) {
        // A NetworkPolicy selects pods of its own namespace only.
        const pods =
          object.kind === 'NetworkPolicy' && !inScope.has(object.namespace)
            ? []
            : c.subjects.pods.filter((p) => inScope.get(p.namespace)?.has(p.name) === true);
        c.selected = { scopeKey, from: c.subjects.pods, pods };
      }
      // Without a scope, every policy is compiled (`weft policy ir` shows them all).
      return c.selected.pods.length === 0 && scope ? undefined : c;
    });
    this.last = { peers, scopeKey, scoped, walked };
    walked.answers.forEach((c, j) => {
      if (!c) return;
      c.parts ??= compileParts(all[j] as AnyPolicy, c.subjects, peers);
      for (const p of c.parts.policies) {
        policies.set(p.id, p);
        for (const pod of c.selected?.pods ?? [])
          endpoints.get(podKey(pod))?.[p.direction][c.tier].push(p.id);
      }
      for (const s of c.parts.sets) sets.set(s.id, s);
    });
    return { endpoints: this.reuseEndpoints(endpoints), policies, sets };
  }

  /** The last resolver while namespaces, nodes and pods stay the same; else its next one, or a new one. */
  private resolver(cluster: Cluster): PeerResolver {
    const inputs = selectionInputs(cluster);
    let w = this.world;
    if (!w || !sameNamespacesAndNodes(w.inputs, inputs)) {
      w = { inputs, peers: new PeerResolver(cluster) };
      this.compiled = new WeakMap();
    } else if (!samePods(w.inputs.pods, inputs.pods)) {
      w = { inputs, peers: w.peers.next(cluster, changedPods(w.inputs.pods, inputs.pods)) };
    }
    this.world = w;
    return w.peers;
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

  /**
   * The policy's entry, checked against the current resolver: after a pod
   * change, a policy whose selections and peers are all the same objects as
   * before keeps its IR objects; any other is compiled again.
   */
  private entry(object: AnyPolicy, peers: PeerResolver): Compiled {
    const subjectsOf = () =>
      object.kind === 'NetworkPolicy'
        ? peers.podsIn(object.namespace, object.podSelector)
        : peers.cnpSubjects(object.subject);
    let c = this.compiled.get(object);
    if (!c) {
      const tier =
        object.kind === 'NetworkPolicy'
          ? 'networkPolicies'
          : object.tier === 'Admin'
            ? 'admin'
            : 'baseline';
      c = { resolver: peers, subjects: subjectsOf(), tier };
      this.compiled.set(object, c);
    } else if (c.resolver !== peers) {
      c.resolver = peers;
      c.subjects = subjectsOf();
      if (c.parts) {
        const fresh = compileParts(object, c.subjects, peers);
        if (!sameDeps(fresh.deps, c.parts.deps)) c.parts = fresh;
      }
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

const same = <T>(x: readonly T[], y: readonly T[], eq: (p: T, q: T) => boolean) =>
  x.length === y.length && x.every((v, i) => eq(v, y[i] as T));

function sameNamespacesAndNodes(a: SelectionInputs, b: SelectionInputs): boolean {
  return (
    same(a.nodes, b.nodes, (p, q) => p === q) &&
    same(a.namespaces, b.namespaces, (p, q) => p[0] === q[0] && p[1] === q[1])
  );
}

function samePods(a: readonly Pod[], b: readonly Pod[]): boolean {
  return same(a, b, (p, q) => p === q);
}

/**
 * Old and new versions of every pod that appeared, went or changed (objects
 * are replaced, never mutated). Both lists are walked side by side in
 * namespace/name order, as the sources keep them, so an unchanged pod costs
 * one identity check. Any order gives a correct answer: a pod not matched by
 * identity is always listed, at worst with unchanged ones (more work, never
 * a missed change).
 */
function changedPods(before: readonly Pod[], after: readonly Pod[]): Pod[] {
  const out: Pod[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length && j < after.length) {
    const o = before[i] as Pod;
    const p = after[j] as Pod;
    if (o === p) {
      i++;
      j++;
      continue;
    }
    const order = byNamespaceName(o, p);
    if (order === 0) {
      out.push(p, o);
      i++;
      j++;
    } else if (order < 0) {
      out.push(o);
      i++;
    } else {
      out.push(p);
      j++;
    }
  }
  for (; i < before.length; i++) out.push(before[i] as Pod);
  for (; j < after.length; j++) out.push(after[j] as Pod);
  return out;
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

/**
 * A policy's IR, and what it was built from: the selections and resolved
 * peers (objects the resolver keeps while they do not change), in order.
 */
interface Parts {
  readonly policies: readonly IrPolicy[];
  readonly sets: readonly IrSet[];
  readonly deps: readonly unknown[];
}

function sameDeps(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function compileParts(object: AnyPolicy, subjects: Selected, peers: PeerResolver): Parts {
  const out = {
    policies: [] as IrPolicy[],
    sets: [] as IrSet[],
    deps: [subjects.pods] as unknown[],
  };
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
        return irRule(r, rule.ports, subjects, peers, out);
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
      return irRule(r, rule.ports, subjects, peers, out);
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
  out: { sets: IrSet[]; deps: unknown[] },
): IrRule {
  const { id, origin, resolved } = r;
  const sets = out.sets;
  // What the rule's IR reads of its peers: the parts (the same array while
  // the addresses do not change); named ports below add what they read.
  out.deps.push(resolved.parts);
  let peer: IrRule['peer'] = { kind: 'any' };
  if (!resolved.any) {
    const set = `${id}/peers` as SetId;
    // The merged addresses are read by traces, not by a sync: computed on first read.
    sets.push({
      kind: 'addresses',
      id: set,
      get cidrs() {
        return resolved.cidrs;
      },
      origin,
      parts: resolved.parts,
    });
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
      ports: normalizePorts(
        spec.ports.map((p, i): IrPort => {
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
              out.deps.push(entries);
              sets.push({ kind: 'ports', id: set, name: p.name, entries, origin });
              return { kind: 'named', name: p.name, set };
            }
            default:
              return assertNever(p);
          }
        }),
      ),
    };
  }
  return { id, origin, action: r.action, peer, ports };
}
