/**
 * Random but valid clusters for differential tests: namespaces, pods with
 * labels and (named) ports, NetworkPolicies and ClusterNetworkPolicies using
 * every peer and port form. Deterministic for a seed. Output is YAML text
 * (JSON documents), so it goes through the same parser as user manifests.
 */
export interface RandomClusterOptions {
  readonly seed: number;
  readonly namespaces?: number;
  readonly pods?: number;
  readonly policies?: number;
  readonly clusterPolicies?: number;
  /** Pod addresses are 10.77.<ns>.<n>; ipBlocks are drawn inside 10.77.0.0/16. */
  readonly withIps?: boolean;
  /**
   * The first two octets of the network ipBlocks are drawn from (default
   * `10.77`, where withIps puts pods); a lab passes `10.244`, its pod range.
   */
  readonly blockNet?: string;
}

export const RANDOM_PORTS: readonly {
  port: number;
  protocol: 'TCP' | 'UDP';
  names: readonly string[];
}[] = [
  { port: 80, protocol: 'TCP', names: ['http', 'web'] },
  { port: 8080, protocol: 'TCP', names: ['http', 'alt'] },
  { port: 53, protocol: 'UDP', names: ['dns'] },
  { port: 9000, protocol: 'UDP', names: ['stats', 'web'] },
];

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed * 2654435761) >>> 0 || 1;
  }
  next(): number {
    // xorshift32
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const LABEL_VALUES = { app: ['a', 'b', 'c'], tier: ['x', 'y'] } as const;

/** The /16 that ipBlocks are drawn from, for the cluster being generated. */
let net = '10.77';

export function randomCluster(o: RandomClusterOptions): string {
  const r = new Rng(o.seed);
  const nsCount = o.namespaces ?? 3;
  const docs: unknown[] = [];
  for (let n = 0; n < nsCount; n++) {
    const labels: Record<string, string> = {};
    if (r.chance(0.7)) labels['team'] = r.pick(['red', 'blue']);
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns${n}`, labels } });
  }
  const podCount = o.pods ?? 6;
  for (let i = 0; i < podCount; i++) docs.push(randomPod(r, i, i % nsCount, o.withIps ?? true));
  net = o.blockNet ?? '10.77';
  for (let p = 0; p < (o.policies ?? 3); p++) docs.push(randomNetworkPolicy(r, p, nsCount));
  for (let p = 0; p < (o.clusterPolicies ?? 1); p++) docs.push(randomClusterPolicy(r, p));
  return docs.map((d) => JSON.stringify(d)).join('\n---\n');
}

function randomLabels(r: Rng): Record<string, string> {
  const labels: Record<string, string> = {};
  if (r.chance(0.8)) labels['app'] = r.pick(LABEL_VALUES.app);
  if (r.chance(0.5)) labels['tier'] = r.pick(LABEL_VALUES.tier);
  return labels;
}

function randomPod(r: Rng, i: number, ns: number, withIp: boolean): unknown {
  const ports: unknown[] = [];
  const usedNames = new Set<string>();
  for (const p of RANDOM_PORTS) {
    if (!r.chance(0.6)) continue;
    const name = r.pick([...p.names, undefined]);
    const entry: Record<string, unknown> = { containerPort: p.port, protocol: p.protocol };
    if (name && !usedNames.has(name)) {
      usedNames.add(name);
      entry['name'] = name;
    }
    ports.push(entry);
  }
  const ip = `10.77.${ns}.${i + 1}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: `ns${ns}`, name: `pod${i}`, labels: randomLabels(r) },
    spec: { containers: [{ name: 'c', image: 'i', ports }] },
    ...(withIp ? { status: { podIP: ip, podIPs: [{ ip }] } } : {}),
  };
}

function randomSelector(r: Rng): unknown {
  const k = r.int(5);
  if (k === 0) return {};
  if (k === 1) return { matchLabels: { app: r.pick(LABEL_VALUES.app) } };
  if (k === 2) return { matchLabels: { tier: r.pick(LABEL_VALUES.tier) } };
  if (k === 3)
    return {
      matchExpressions: [
        { key: 'app', operator: r.pick(['In', 'NotIn']), values: [r.pick(LABEL_VALUES.app)] },
      ],
    };
  return { matchExpressions: [{ key: 'tier', operator: r.pick(['Exists', 'DoesNotExist']) }] };
}

function randomNsSelector(r: Rng): unknown {
  const k = r.int(3);
  if (k === 0) return {};
  if (k === 1) return { matchLabels: { team: r.pick(['red', 'blue']) } };
  return { matchLabels: { 'kubernetes.io/metadata.name': `ns${r.int(3)}` } };
}

function randomBlock(r: Rng): unknown {
  const cidr = r.pick([
    '10.77.0.0/16',
    `10.77.${r.int(3)}.0/24`,
    '0.0.0.0/0',
    `10.77.${r.int(3)}.0/30`,
  ]);
  const except = r.chance(0.5) ? [`10.77.${r.int(3)}.${r.pick([0, 4])}/30`] : [];
  const valid = except.filter(
    (e) =>
      cidr === '10.77.0.0/16' ||
      cidr === '0.0.0.0/0' ||
      (cidr.endsWith('/24') && cidr.split('.')[2] === e.split('.')[2]),
  );
  return { ipBlock: { cidr, ...(valid.length ? { except: valid } : {}) } };
}

function randomPeer(r: Rng): unknown {
  switch (r.int(4)) {
    case 0:
      return { podSelector: randomSelector(r) };
    case 1:
      return { namespaceSelector: randomNsSelector(r) };
    case 2:
      return { namespaceSelector: randomNsSelector(r), podSelector: randomSelector(r) };
    default:
      return randomBlock(r);
  }
}

function randomNpPorts(r: Rng): unknown[] | undefined {
  if (r.chance(0.3)) return undefined;
  const out: unknown[] = [];
  for (let k = 0; k <= r.int(2); k++) {
    const p = r.pick(RANDOM_PORTS);
    switch (r.int(4)) {
      case 0:
        out.push({
          port: p.port,
          ...(p.protocol === 'TCP' && r.chance(0.5) ? {} : { protocol: p.protocol }),
        });
        break;
      case 1:
        out.push({ port: r.pick(p.names), protocol: p.protocol });
        break;
      case 2:
        out.push({ protocol: p.protocol, port: p.port - 10, endPort: p.port + r.int(2) * 20 });
        break;
      default:
        out.push({ protocol: p.protocol });
    }
  }
  return out;
}

function randomNpRule(r: Rng, key: 'from' | 'to'): unknown {
  const rule: Record<string, unknown> = {};
  if (!r.chance(0.2)) rule[key] = Array.from({ length: 1 + r.int(2) }, () => randomPeer(r));
  const ports = randomNpPorts(r);
  if (ports) rule['ports'] = ports;
  return rule;
}

function randomNetworkPolicy(r: Rng, p: number, nsCount: number): unknown {
  const types = r.pick([undefined, ['Ingress'], ['Egress'], ['Ingress', 'Egress']]);
  const spec: Record<string, unknown> = { podSelector: randomSelector(r) };
  if (types) spec['policyTypes'] = types;
  if (r.chance(0.8))
    spec['ingress'] = Array.from({ length: r.int(3) }, () => randomNpRule(r, 'from'));
  if (r.chance(0.6)) spec['egress'] = Array.from({ length: r.int(3) }, () => randomNpRule(r, 'to'));
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: `ns${r.int(nsCount)}`, name: `np${p}` },
    spec,
  };
}

function randomCnpPeer(r: Rng, egress: boolean): unknown {
  const k = r.int(egress ? 3 : 2);
  if (k === 0) return { namespaces: randomNsSelector(r) };
  if (k === 1)
    return { pods: { namespaceSelector: randomNsSelector(r), podSelector: randomSelector(r) } };
  return {
    networks: [
      r.pick([`${net}.0.0/16`, `${net}.${r.int(3) + (net === '10.77' ? 0 : 1)}.0/24`, '0.0.0.0/0']),
    ],
  };
}

function randomCnpRule(r: Rng, egress: boolean): unknown {
  const peers = Array.from({ length: 1 + r.int(2) }, () => randomCnpPeer(r, egress));
  const hasNetworks = peers.some((p) => typeof p === 'object' && p !== null && 'networks' in p);
  const rule: Record<string, unknown> = {
    action: r.pick(['Accept', 'Deny', 'Pass']),
    [egress ? 'to' : 'from']: peers,
  };
  if (r.chance(0.6)) {
    const p = r.pick(RANDOM_PORTS);
    const proto = p.protocol.toLowerCase();
    const k = r.int(3);
    if (k === 0 || (k === 2 && hasNetworks))
      rule['protocols'] = [{ [proto]: { destinationPort: { number: p.port } } }];
    else if (k === 1)
      rule['protocols'] = [
        { [proto]: { destinationPort: { range: { start: p.port - 5, end: p.port + 5 } } } },
      ];
    else rule['protocols'] = [{ destinationNamedPort: r.pick(p.names) }];
  }
  return rule;
}

function randomClusterPolicy(r: Rng, p: number): unknown {
  const spec: Record<string, unknown> = {
    tier: r.pick(['Admin', 'Baseline']),
    priority: r.int(5),
    subject: r.chance(0.5)
      ? { namespaces: randomNsSelector(r) }
      : { pods: { namespaceSelector: randomNsSelector(r), podSelector: randomSelector(r) } },
  };
  if (r.chance(0.7))
    spec['ingress'] = Array.from({ length: 1 + r.int(2) }, () => randomCnpRule(r, false));
  if (r.chance(0.5))
    spec['egress'] = Array.from({ length: 1 + r.int(2) }, () => randomCnpRule(r, true));
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: `cnp${p}` },
    spec,
  };
}
