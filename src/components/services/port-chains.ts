/**
 * One Service port (of one IP family) → its chains, sets and frontend map
 * entries, as kube-proxy's nftables proxier lays them out:
 *
 * - a plan chain per kind of traffic: `svc_…` for the ClusterIP, `ext_…`
 *   for node ports, external and load balancer IPs, each the model's
 *   TrafficPlan in order (from pods, from this node, from anywhere; mark for
 *   masquerade or not; to the cluster or local endpoints, or reject, or
 *   drop); `fw_…` first for load balancer IPs with loadBalancerSourceRanges;
 * - a selection chain per endpoint set (`clu_…`, `loc_…`): a client with
 *   ClientIP affinity goes back to its endpoint, else one lookup picks one
 *   (numgen random, or jhash over the connection into a Maglev table);
 * - a chain per endpoint (`ep_…`): masquerade when the endpoint reaches
 *   itself (hairpin), remember the client for affinity, DNAT.
 *
 * Every chain, rule and set names the Service port (`shop/web:http/TCP`).
 */
import { formatCidr } from '../../core/net/cidr.js';
import { formatIp } from '../../core/net/ip.js';
import type { IpFamily } from '../../core/net/types.js';
import { maglevTable } from '../../core/services/maglev.js';
import type {
  Backend,
  Frontend,
  ServicePortModel,
  TrafficPlan,
  TrafficStep,
} from '../../core/services/types.js';
import { cmp, drop, lookup, rule, verdict } from '../../nft/build.js';
import type {
  NftChain,
  NftExpr,
  NftMapElement,
  NftNumberMapElement,
  NftRule,
  NftSelector,
  NftSet,
  NftVerdict,
} from '../../nft/model.js';
import { nftName } from '../../nft/names.js';
import { MASQUERADE_MARK } from './table.js';

/** The jhash seed of Maglev selection: the same on every node, so every node picks alike. */
export const MAGLEV_SEED = 0x77656674;
/** Most clients one endpoint's affinity set remembers. */
export const AFFINITY_SET_SIZE = 65535;

/** What one Service port adds to the table. */
export interface PortObjects {
  readonly chains: readonly NftChain[];
  readonly sets: readonly NftSet[];
  /** Elements of service_ips4/6: `ADDR . PROTO . PORT` → the plan (or firewall) chain. */
  readonly serviceIps: readonly NftMapElement[];
  /** Elements of node_ports4/6: `PROTO . PORT` → the external plan chain. */
  readonly nodePorts: readonly NftMapElement[];
  /** Its ClusterIPs and the node addresses its node ports listen on. */
  readonly clusterIps: readonly string[];
  readonly nodeIps: readonly string[];
}

export const ipWord = (f: IpFamily) => (f === 4 ? 'ip' : 'ip6');
export const saddr = (f: IpFamily): NftSelector => (f === 4 ? 'ip saddr' : 'ip6 saddr');
export const daddr = (f: IpFamily): NftSelector => (f === 4 ? 'ip daddr' : 'ip6 daddr');
const thPorts = (f: IpFamily): NftSelector[] => [saddr(f), 'th sport', daddr(f), 'th dport'];
/** The pod address ranges of a family: traffic from them comes from a pod. */
export const podRangesSet = (f: IpFamily) => `pod_ranges${f}`;
const goto = (chain: string): NftVerdict => ({ kind: 'goto', chain });
const markForMasquerade: NftExpr = { kind: 'set-mark', target: 'meta mark', or: MASQUERADE_MARK };
const proto = (p: ServicePortModel) => p.protocol.toLowerCase();

/** `shop/web:http/TCP IPv4`: how every comment names the Service port. */
const label = (p: ServicePortModel) => `${p.id} IPv${p.family}`;
const backendKey = (e: Backend) => `${formatIp(e.ip)}:${e.port}`;
const endpointText = (e: Backend) =>
  `${e.target ?? `endpoint of ${e.slice}`} ${formatIp(e.ip)}:${e.port}`;

interface Names {
  readonly svc: string;
  readonly ext: string;
  readonly fw: string;
  readonly sources: string;
  readonly cluster: string;
  readonly local: string;
  readonly endpoint: (e: Backend) => string;
  readonly affinity: (e: Backend) => string;
}

function namesOf(p: ServicePortModel): Names {
  const id = `${p.id}/${p.family}`;
  const ep = (e: Backend) => `${id}/${formatIp(e.ip)}:${e.port}`;
  return {
    svc: nftName('svc', id),
    ext: nftName('ext', id),
    fw: nftName('fw', id),
    sources: nftName('src', id),
    cluster: nftName('clu', id),
    local: nftName('loc', id),
    endpoint: (e) => nftName('ep', ep(e)),
    affinity: (e) => nftName('aff', ep(e)),
  };
}

/** Refused at once, as kube-proxy does: a TCP reset, else ICMP port unreachable. */
function rejectExprs(p: ServicePortModel): NftExpr[] {
  return p.protocol === 'TCP'
    ? [cmp(['meta l4proto'], 'tcp'), { kind: 'reject', with: 'tcp reset' }]
    : [{ kind: 'reject', with: 'icmpx port-unreachable' }];
}

function fromMatch(p: ServicePortModel, from: TrafficStep['from']): NftExpr[] {
  switch (from) {
    case 'pod':
      return [lookup([saddr(p.family)], podRangesSet(p.family))];
    case 'node':
      return [cmp(['fib saddr type'], 'local')];
    case 'any':
      return [];
  }
}

const FROM_TEXT: Readonly<Record<TrafficStep['from'], string>> = {
  pod: 'from pods',
  node: 'from this node',
  any: 'from anywhere else',
};

/** The plan as a chain: each step one rule, the first that matches decides. */
function planChain(
  p: ServicePortModel,
  name: string,
  plan: TrafficPlan,
  what: string,
  n: Names,
): NftChain {
  const rules = plan.steps.map((step, i): NftRule => {
    const head = [...fromMatch(p, step.from), ...(step.masquerade ? [markForMasquerade] : [])];
    const masq = step.masquerade ? 'masqueraded, ' : '';
    const from = step.from === 'any' && i === 0 ? 'from anywhere' : FROM_TEXT[step.from];
    const about = `${label(p)} ${what} (${plan.policy}): ${from}, ${masq}`;
    const v = step.verdict;
    switch (v.kind) {
      case 'endpoints': {
        const endpoints = v.set === 'cluster' ? p.clusterEndpoints : p.localEndpoints;
        // The model never sends traffic to an empty set; if it did, refuse as for no endpoints.
        if (endpoints.length === 0)
          return rule([...head, ...rejectExprs(p)], `${about}no ${v.set} endpoints: refused`);
        const target = v.set === 'cluster' ? n.cluster : n.local;
        return rule([...head, verdict(goto(target))], `${about}to ${v.set} endpoints`);
      }
      case 'reject':
        return rule([...head, ...rejectExprs(p)], `${about}refused: ${v.reason}`);
      case 'drop':
        return rule([...head, drop], `${about}dropped: ${v.reason}`);
    }
  });
  // A chain's comment stays as long as its name does (nft keeps the first): nothing that changes.
  return { name, comment: `${label(p)}: ${what}`, rules };
}

/** Runs of equal targets as ranges: `0-3 : goto a`. */
function numberMap(targets: readonly string[]): NftNumberMapElement[] {
  const out: NftNumberMapElement[] = [];
  targets.forEach((chain, i) => {
    const last = out[out.length - 1];
    if (
      last &&
      last.value.kind === 'goto' &&
      last.value.chain === chain &&
      (last.to ?? last.from) === i - 1
    )
      out[out.length - 1] = { ...last, to: i };
    else out.push({ from: i, value: goto(chain) });
  });
  return out;
}

/** One endpoint of `endpoints` for a new connection: affinity first, then one lookup. */
function selectionChain(
  p: ServicePortModel,
  name: string,
  set: 'cluster' | 'local',
  endpoints: readonly Backend[],
  n: Names,
): NftChain {
  const rules: NftRule[] = [];
  if (p.affinity.kind === 'ClientIP')
    for (const e of endpoints)
      rules.push(
        rule(
          [lookup([saddr(p.family)], n.affinity(e)), verdict(goto(n.endpoint(e)))],
          `${label(p)}: ClientIP affinity, back to ${endpointText(e)}`,
        ),
      );
  const only = endpoints[0];
  if (endpoints.length === 1 && only) {
    rules.push(rule([verdict(goto(n.endpoint(only)))], `${label(p)}: its one ${set} endpoint`));
  } else if (p.loadBalancing === 'maglev') {
    const byKey = new Map(endpoints.map((e) => [backendKey(e), n.endpoint(e)]));
    const table = maglevTable([...byKey.keys()]).map((k) => byKey.get(k) as string);
    const fields = [...thPorts(p.family), 'meta l4proto' as const];
    const source = { kind: 'jhash', fields, mod: table.length, seed: MAGLEV_SEED } as const;
    rules.push(
      rule(
        [{ kind: 'number-vmap', source, elements: numberMap(table) }],
        `${label(p)}: one of ${endpoints.length} ${set} endpoints by Maglev (${table.length} slots)`,
      ),
    );
  } else {
    rules.push(
      rule(
        [
          {
            kind: 'number-vmap',
            source: { kind: 'numgen', mod: endpoints.length },
            elements: endpoints.map((e, i) => ({ from: i, value: goto(n.endpoint(e)) })),
          },
        ],
        `${label(p)}: one of ${endpoints.length} ${set} endpoints at random`,
      ),
    );
  }
  return {
    name,
    comment: `${label(p)}: picks one of its ${set} endpoints for a new connection`,
    rules,
  };
}

function endpointChain(p: ServicePortModel, e: Backend, n: Names): NftChain {
  const ip = formatIp(e.ip);
  const rules: NftRule[] = [
    rule(
      [cmp([saddr(p.family)], ip), markForMasquerade],
      `${label(p)}: ${endpointText(e)} reaching itself (hairpin) is masqueraded`,
    ),
  ];
  if (p.affinity.kind === 'ClientIP')
    rules.push(
      rule(
        [{ kind: 'update', set: n.affinity(e), left: [saddr(p.family)] }],
        `${label(p)}: ClientIP affinity remembers the client for ${p.affinity.timeoutSeconds} s`,
      ),
    );
  rules.push(
    rule(
      [
        cmp(['meta l4proto'], proto(p)),
        { kind: 'dnat', family: ipWord(p.family), address: ip, port: e.port },
      ],
      `${label(p)}: to ${endpointText(e)}`,
    ),
  );
  return { name: n.endpoint(e), comment: `${label(p)}: endpoint ${backendKey(e)}`, rules };
}

function affinitySet(p: ServicePortModel, e: Backend, n: Names, timeout: number): NftSet {
  return {
    name: n.affinity(e),
    type: [p.family === 4 ? 'ipv4_addr' : 'ipv6_addr'],
    interval: false,
    comment: `${label(p)}: clients of endpoint ${backendKey(e)} (ClientIP affinity)`,
    elements: [],
    dynamic: true,
    size: AFFINITY_SET_SIZE,
    timeout,
  };
}

/** Load balancer frontends with source ranges: only those sources reach the external plan. */
function firewall(p: ServicePortModel, lb: Frontend, n: Names): { chain: NftChain; set: NftSet } {
  const cidrs = lb.kind === 'LoadBalancer' && lb.sources.kind === 'only' ? lb.sources.cidrs : [];
  return {
    set: {
      name: n.sources,
      type: [p.family === 4 ? 'ipv4_addr' : 'ipv6_addr'],
      interval: true,
      comment: `${label(p)}: loadBalancerSourceRanges`,
      elements: cidrs.map(formatCidr),
    },
    chain: {
      name: n.fw,
      comment: `${label(p)}: load balancer IPs, open to loadBalancerSourceRanges alone`,
      rules: [
        rule(
          [lookup([saddr(p.family)], n.sources), verdict(goto(n.ext))],
          `${label(p)}: a source in loadBalancerSourceRanges`,
        ),
        rule([drop], `${label(p)}: a source not in loadBalancerSourceRanges is dropped`),
      ],
    },
  };
}

/** Everything one Service port puts in the table. */
export function portObjects(p: ServicePortModel): PortObjects {
  const n = namesOf(p);
  const chains: NftChain[] = [planChain(p, n.svc, p.internal, 'to its ClusterIP', n)];
  const sets: NftSet[] = [];
  if (p.external)
    chains.push(planChain(p, n.ext, p.external, 'to its node ports and external IPs', n));
  // Selection and endpoint chains for the sets a plan sends traffic to.
  const used = new Set(
    [p.internal, ...(p.external ? [p.external] : [])].flatMap((plan) =>
      plan.steps.flatMap((s) => (s.verdict.kind === 'endpoints' ? [s.verdict.set] : [])),
    ),
  );
  const endpoints = new Map<string, Backend>();
  for (const set of ['cluster', 'local'] as const) {
    const list = set === 'cluster' ? p.clusterEndpoints : p.localEndpoints;
    if (!used.has(set) || list.length === 0) continue;
    chains.push(selectionChain(p, set === 'cluster' ? n.cluster : n.local, set, list, n));
    for (const e of list) endpoints.set(backendKey(e), e);
  }
  for (const e of endpoints.values()) {
    chains.push(endpointChain(p, e, n));
    if (p.affinity.kind === 'ClientIP') sets.push(affinitySet(p, e, n, p.affinity.timeoutSeconds));
  }
  const serviceIps: NftMapElement[] = [];
  const nodePorts: NftMapElement[] = [];
  const clusterIps: string[] = [];
  const nodeIps: string[] = [];
  let walled = false;
  for (const f of p.frontends) {
    const ip = formatIp(f.ip);
    const key = `${ip} . ${proto(p)} . ${f.port}`;
    if (f.kind === 'ClusterIP') {
      serviceIps.push({ key, value: goto(n.svc) });
      clusterIps.push(ip);
    } else if (f.kind === 'NodePort') {
      nodeIps.push(ip);
      if (nodePorts.length === 0)
        nodePorts.push({ key: `${proto(p)} . ${f.port}`, value: goto(n.ext) });
    } else if (f.kind === 'LoadBalancer' && f.sources.kind === 'only') {
      if (!walled) {
        const fw = firewall(p, f, n);
        chains.push(fw.chain);
        sets.push(fw.set);
        walled = true;
      }
      serviceIps.push({ key, value: goto(n.fw) });
    } else serviceIps.push({ key, value: goto(n.ext) });
  }
  return { chains, sets, serviceIps, nodePorts, clusterIps, nodeIps };
}
