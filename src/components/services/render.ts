/**
 * A node's Service model → the services table (SERVICE_TABLE), following
 * kube-proxy's nftables proxier:
 *
 * - `nat_prerouting` and `nat_output` jump to `services`, which finds a
 *   connection's frontend in one lookup: `service_ips4/6` keyed by
 *   `daddr . l4proto . dport` (ClusterIPs, external and load balancer IPs),
 *   `node_ports4/6` keyed by `l4proto . dport` for this node's addresses
 *   (`node_ips4/6`). Each entry goes to the Service port's chains
 *   (port-chains.ts), which DNAT to an endpoint, or refuse, or drop.
 * - `filter_prerouting` and `filter_output`, after every proxy's DNAT, jump
 *   to `service_checks` with a new connection: one still addressed to a
 *   ClusterIP (on a port it does not serve) is refused at once (TCP reset,
 *   else ICMP port unreachable); any other address of the service range is
 *   dropped. A Service another proxy serves is that proxy's to translate.
 * - `nat_postrouting` masquerades connections marked for it, and only those.
 *
 * Pure: the same model and options give the same table. ServiceRenderer
 * keeps each Service port's objects while the port is unchanged, so a sync
 * after a small change finds the rest identical.
 */
import { formatCidr, mergeCidrs } from '../../core/net/cidr.js';
import type { Cidr, IpFamily } from '../../core/net/types.js';
import type { ServiceModel, ServicePortModel } from '../../core/services/types.js';
import { cmp, drop, lookup, rule } from '../../nft/build.js';
import type {
  NftChain,
  NftExpr,
  NftMap,
  NftMapElement,
  NftRule,
  NftSet,
  NftTable,
} from '../../nft/model.js';
import { daddr, podRangesSet, portObjects, type PortObjects } from './port-chains.js';
import { baseChainSpec, MASQUERADE_MARK, SERVICE_TABLE } from './table.js';

export interface ServiceTableOptions {
  /** Where the cluster's pods have their addresses: connections from them come from a pod. */
  readonly podCidrs: readonly Cidr[];
  /** The service ranges: an address of them that no Service has is dropped. */
  readonly serviceCidrs: readonly Cidr[];
}

/** A frontend two Service ports claim: the first (in model order) keeps it. */
export interface FrontendConflict {
  readonly key: string;
  readonly kept: string;
  readonly dropped: string;
}

export interface RenderedServices {
  readonly table: NftTable;
  readonly conflicts: readonly FrontendConflict[];
}

const FAMILIES: readonly IpFamily[] = [4, 6];
const addrType = (f: IpFamily) => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');

function baseChain(name: string, rules: readonly NftRule[]): NftChain {
  const { reason, type, hook, priority, policy } = baseChainSpec(name);
  return { name, comment: reason, base: { type, hook, priority, policy }, rules };
}

const markBits = (op: '==' | '!=', value: number): NftExpr => ({
  kind: 'bits',
  left: 'meta mark',
  mask: MASQUERADE_MARK,
  op,
  value,
});

const BASE_CHAINS: readonly NftChain[] = [
  baseChain('nat_prerouting', [
    rule([{ kind: 'verdict', verdict: { kind: 'jump', chain: 'services' } }], 'Service frontends'),
  ]),
  baseChain('nat_output', [
    rule([{ kind: 'verdict', verdict: { kind: 'jump', chain: 'services' } }], 'Service frontends'),
  ]),
  ...['filter_prerouting', 'filter_output'].map((name) =>
    baseChain(name, [
      rule(
        [
          cmp(['ct state'], 'new'),
          { kind: 'verdict', verdict: { kind: 'jump', chain: 'service_checks' } },
        ],
        'a new connection, after every DNAT',
      ),
    ]),
  ),
  baseChain('nat_postrouting', [
    rule(
      [markBits('==', 0), { kind: 'verdict', verdict: { kind: 'return' } }],
      'not marked for masquerade: the source stays',
    ),
    rule(
      [{ kind: 'set-mark', target: 'meta mark', and: ~MASQUERADE_MARK >>> 0 }],
      'the mark is spent here: it does not follow the packet on',
    ),
    rule(
      [{ kind: 'masquerade', fullyRandom: true }],
      "marked by a Service's rules: the source becomes this node's address",
    ),
  ]),
];

/** The `services` chain: one lookup per frontend kind. */
function servicesChain(): NftChain {
  const rules: NftRule[] = [];
  for (const f of FAMILIES) {
    const v = `IPv${f}`;
    rules.push(
      rule(
        [{ kind: 'vmap', left: [daddr(f), 'meta l4proto', 'th dport'], map: `service_ips${f}` }],
        `ClusterIPs, external and load balancer IPs (${v})`,
      ),
      rule(
        [
          lookup([daddr(f)], `node_ips${f}`),
          { kind: 'vmap', left: ['meta l4proto', 'th dport'], map: `node_ports${f}` },
        ],
        `node ports on this node's addresses (${v})`,
      ),
    );
  }
  return {
    name: 'services',
    comment: 'finds the Service port of a new connection by its destination',
    rules,
  };
}

const SERVICES_CHAIN = servicesChain();

/**
 * `service_checks`, after every proxy's DNAT: a ClusterIP on a port no
 * Service port of it serves is refused at once; any other address of the
 * service range is dropped.
 */
function checksChain(serviceCidrs: readonly Cidr[]): NftChain {
  const rules: NftRule[] = [];
  for (const f of FAMILIES) {
    const refused = `a ClusterIP on a port it does not serve is refused (IPv${f})`;
    rules.push(
      rule(
        [
          lookup([daddr(f)], `cluster_ips${f}`),
          cmp(['meta l4proto'], 'tcp'),
          { kind: 'reject', with: 'tcp reset' },
        ],
        refused,
      ),
      rule(
        [lookup([daddr(f)], `cluster_ips${f}`), { kind: 'reject', with: 'icmpx port-unreachable' }],
        refused,
      ),
    );
    const ranges = mergeCidrs(serviceCidrs.filter((c) => c.family === f)).map(formatCidr);
    if (ranges.length > 0)
      rules.push(
        rule(
          [cmp([daddr(f)], ...ranges), drop],
          `an address of the service range that no Service has is dropped (IPv${f})`,
        ),
      );
  }
  return {
    name: 'service_checks',
    comment: 'new connections no proxy translated: refused or dropped',
    rules,
  };
}

function set(
  name: string,
  f: IpFamily,
  comment: string,
  elements: readonly string[],
  interval = false,
): NftSet {
  return {
    name,
    type: [addrType(f)],
    interval,
    comment,
    elements: [...new Set(elements)].sort(),
  };
}

function map(name: string, key: NftMap['key'], comment: string, elements: NftMapElement[]): NftMap {
  return {
    name,
    key,
    comment,
    elements: elements.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
}

/** A Service port's identity and content, as text: equal text, equal objects. */
function portSignature(p: ServicePortModel): string {
  return JSON.stringify(p, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Renders tables, reusing each Service port's objects while its model is unchanged. */
export class ServiceRenderer {
  private memo = new Map<string, PortObjects>();
  private checks: { key: string; chain: NftChain } | undefined;

  render(model: ServiceModel, options: ServiceTableOptions): RenderedServices {
    const next = new Map<string, PortObjects>();
    const parts = model.ports.map((p) => {
      const sig = portSignature(p);
      const objects = next.get(sig) ?? this.memo.get(sig) ?? portObjects(p);
      next.set(sig, objects);
      return { port: p, objects };
    });
    this.memo = next;
    const key = options.serviceCidrs.map(formatCidr).join(',');
    if (this.checks?.key !== key) this.checks = { key, chain: checksChain(options.serviceCidrs) };
    return assemble(parts, options, this.checks.chain);
  }
}

/** The services table of one node (see the module's comment). */
export function renderServiceTable(model: ServiceModel, options: ServiceTableOptions): NftTable {
  return new ServiceRenderer().render(model, options).table;
}

function assemble(
  parts: readonly { port: ServicePortModel; objects: PortObjects }[],
  options: ServiceTableOptions,
  checks: NftChain,
): RenderedServices {
  const chains = new Map<string, NftChain>();
  const sets = new Map<string, NftSet>();
  const maps = new Map<string, NftMap>();
  const conflicts: FrontendConflict[] = [];
  const claimed = new Map<string, string>();
  const elements = {
    serviceIps: new Map<IpFamily, NftMapElement[]>(),
    nodePorts: new Map<IpFamily, NftMapElement[]>(),
  };
  const clusterIps = new Map<IpFamily, string[]>();
  const nodeIps = new Map<IpFamily, string[]>();
  const push = <T>(m: Map<IpFamily, T[]>, f: IpFamily, items: readonly T[]) =>
    m.set(f, [...(m.get(f) ?? []), ...items]);
  for (const { port, objects } of parts) {
    const f = port.family;
    for (const c of objects.chains) chains.set(c.name, c);
    for (const s of objects.sets) sets.set(s.name, s);
    for (const [kind, list] of [
      ['serviceIps', objects.serviceIps],
      ['nodePorts', objects.nodePorts],
    ] as const) {
      const kept = list.filter((e) => {
        const key = `${kind} ${f} ${e.key}`;
        const owner = claimed.get(key);
        if (owner === undefined) {
          claimed.set(key, port.id);
          return true;
        }
        conflicts.push({ key: e.key, kept: owner, dropped: port.id });
        return false;
      });
      push(elements[kind], f, kept);
    }
    push(clusterIps, f, objects.clusterIps);
    push(nodeIps, f, objects.nodeIps);
  }
  for (const f of FAMILIES) {
    const v = `IPv${f}`;
    sets.set(
      `cluster_ips${f}`,
      set(`cluster_ips${f}`, f, `the ClusterIPs of Services (${v})`, clusterIps.get(f) ?? []),
    );
    sets.set(
      `node_ips${f}`,
      set(
        `node_ips${f}`,
        f,
        `this node's addresses, where node ports listen (${v})`,
        nodeIps.get(f) ?? [],
      ),
    );
    const pods = mergeCidrs(options.podCidrs.filter((c) => c.family === f)).map(formatCidr);
    sets.set(
      podRangesSet(f),
      set(
        podRangesSet(f),
        f,
        `the cluster's pod addresses: connections from pods (${v})`,
        pods,
        true,
      ),
    );
    maps.set(
      `service_ips${f}`,
      map(
        `service_ips${f}`,
        [addrType(f), 'inet_proto', 'inet_service'],
        `ClusterIPs, external and load balancer IPs → their Service port (${v})`,
        elements.serviceIps.get(f) ?? [],
      ),
    );
    maps.set(
      `node_ports${f}`,
      map(
        `node_ports${f}`,
        ['inet_proto', 'inet_service'],
        `node ports → their Service port (${v})`,
        elements.nodePorts.get(f) ?? [],
      ),
    );
  }
  for (const c of [...BASE_CHAINS, SERVICES_CHAIN, checks]) chains.set(c.name, c);
  return {
    table: { family: SERVICE_TABLE.family, name: SERVICE_TABLE.name, sets, maps, chains },
    conflicts,
  };
}
