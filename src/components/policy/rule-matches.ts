/**
 * One IR rule → its nft match expressions and the named sets they use.
 *
 * A rule's peers live in one set per address family: every peer it names
 * (pods, namespaces, ipBlocks with their `except` carved out) merged into one
 * interval set, so a packet is matched against all of them by one lookup.
 * The set is named after what the rule selects, so rules that select the
 * same peers share it, and a pod that comes or goes changes elements, not
 * chains. A family the rule cannot match gets no set and no rule. Ports
 * become one anonymous set per protocol (`th dport { 80, 443, 8000-8080 }`).
 */
import { formatCidr } from '../../core/net/cidr.js';
import { formatIp } from '../../core/net/ip.js';
import type { Cidr } from '../../core/net/types.js';
import type { Protocol } from '../../core/model/types.js';
import {
  ruleOriginText,
  type AddressSet,
  type IrPort,
  type IrRule,
  type PolicyIr,
  type PortSet,
  type SetId,
} from '../../core/policy/ir.js';
import type { NftDatatype, NftExpr, NftSelector, NftSet } from '../../nft/model.js';
import { cmp, lookup } from '../../nft/build.js';
import { clampComment } from '../../nft/text.js';
import { nftName } from '../../nft/names.js';

type Family = 4 | 6;

const setName = (id: SetId, f: Family) => `${nftName('set', id).slice(0, 60)}_${f}`;
const peerSetName = (key: string, f: Family) => `${nftName('peers', key).slice(0, 60)}_${f}`;

/** What a rule's peer set selects, as text: equal text, equal set. */
function peerKey(s: AddressSet): string {
  if (!s.parts) return `rule ${s.id}`;
  return [...new Set(s.parts.map((p) => p.text))].sort().join(' | ');
}

const endpointFamilies = new WeakMap<PolicyIr, ReadonlySet<Family>>();

/** Families of the cluster's pod addresses: those a pod selector can match. */
function podFamilies(ir: PolicyIr): ReadonlySet<Family> {
  let hit = endpointFamilies.get(ir);
  if (!hit) {
    const found = new Set<Family>();
    for (const e of ir.endpoints.values()) for (const ip of e.ips) found.add(ip.family);
    endpointFamilies.set(ir, (hit = found.size > 0 ? found : new Set<Family>([4])));
  }
  return hit;
}

/** The families a peer set can match: its blocks' own, and the pods' for pod selectors. */
function familiesOf(ir: PolicyIr, s: AddressSet): Family[] {
  const out = new Set<Family>();
  for (const part of s.parts ?? []) {
    if (part.hosts) for (const f of podFamilies(ir)) out.add(f);
    else for (const c of part.cidrs) out.add(c.family);
  }
  if (!s.parts) for (const c of s.cidrs) out.add(c.family);
  return ([4, 6] as const).filter((f) => out.has(f));
}

function addressSet(ir: PolicyIr, r: IrRule): AddressSet | undefined {
  if (r.peer.kind !== 'set') return undefined;
  const s = ir.sets.get(r.peer.set);
  if (s?.kind !== 'addresses') throw new Error(`IR names missing address set ${r.peer.set}`);
  return s;
}

function portSet(ir: PolicyIr, id: SetId): PortSet {
  const s = ir.sets.get(id);
  if (s?.kind !== 'ports') throw new Error(`IR names missing port set ${id}`);
  return s;
}

/** nft match expressions for one IR rule: the OR of its families × port groups (each a list of expressions ANDed). */
export function matchesOf(ir: PolicyIr, r: IrRule): NftExpr[][] {
  const peerField = r.origin.direction === 'ingress' ? 'saddr' : 'daddr';
  const s = addressSet(ir, r);
  const peers: { f: Family | undefined; match: NftExpr[] }[] = s
    ? familiesOf(ir, s).map((f) => ({
        f,
        match: [lookup([`${ipOf(f)} ${peerField}`], peerSetName(peerKey(s), f))],
      }))
    : [{ f: undefined, match: [] }];
  const out: NftExpr[][] = [];
  for (const { f, match } of peers) {
    if (r.ports.kind === 'any') {
      out.push(match);
      continue;
    }
    for (const group of portGroups(r.ports.ports)) {
      if (group.kind !== 'named') {
        out.push([...match, ...group.match]);
        continue;
      }
      for (const pf of f ? [f] : [...podFamilies(ir)]) {
        const key: NftSelector[] = [`${ipOf(pf)} daddr`, 'meta l4proto', 'th dport'];
        out.push([...match, lookup(key, setName(group.set, pf))]);
      }
    }
  }
  return out;
}

const ipOf = (f: Family) => (f === 4 ? 'ip' : 'ip6');

type PortGroup = { kind: 'numeric'; match: NftExpr[] } | { kind: 'named'; set: SetId };

/** Numeric ports as one match per protocol (in the order written); named ports one each. */
function portGroups(ports: readonly IrPort[]): PortGroup[] {
  const byProtocol = new Map<Protocol, string[] | 'all'>();
  const out: (PortGroup | Protocol)[] = [];
  for (const p of ports) {
    if (p.kind === 'named') {
      out.push({ kind: 'named', set: p.set });
      continue;
    }
    const had = byProtocol.get(p.protocol);
    if (had === undefined) out.push(p.protocol);
    if (p.kind === 'protocol') byProtocol.set(p.protocol, 'all');
    else if (had !== 'all') {
      const text = p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`;
      byProtocol.set(p.protocol, [...(had ?? []), text]);
    }
  }
  return out.map((g) => {
    if (typeof g !== 'string') return g;
    const proto = cmp(['meta l4proto'], g.toLowerCase());
    const list = byProtocol.get(g) ?? 'all';
    if (list === 'all') return { kind: 'numeric', match: [proto] };
    return { kind: 'numeric', match: [proto, cmp(['th dport'], ...list)] };
  });
}

function cidrText(c: Cidr): string {
  const host = c.prefix === (c.family === 4 ? 32 : 128);
  return host ? formatIp({ family: c.family, value: c.base }) : formatCidr(c);
}

const addrType = (f: Family): NftDatatype => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');

/** Sets rendered from IR objects, reused while the IR object (and `sig`) is the same. */
const rendered = new WeakMap<object, { sig: string; sets: NftSet[] }>();
function cached(key: object, sig: string, make: () => NftSet[]): NftSet[] {
  const hit = rendered.get(key);
  if (hit && hit.sig === sig) return hit.sets;
  const sets = make();
  rendered.set(key, { sig, sets });
  return sets;
}

/** The named nft sets one rule refers to: its peers' and its named ports'. */
export function setsOf(ir: PolicyIr, r: IrRule): NftSet[] {
  const out: NftSet[] = [];
  const s = addressSet(ir, r);
  if (s) {
    const families = familiesOf(ir, s);
    out.push(...cached(s, families.join(), () => peerSets(s, families)));
  }
  if (r.ports.kind === 'list')
    for (const p of r.ports.ports)
      if (p.kind === 'named') {
        const ps = portSet(ir, p.set);
        const families = [...podFamilies(ir)].sort();
        out.push(...cached(ps, families.join(), () => namedPortSets(ps, families)));
      }
  return out;
}

function peerSets(s: AddressSet, families: readonly Family[]): NftSet[] {
  const key = peerKey(s);
  // Pod addresses alone stay single hosts (merged, they would need intervals);
  // with blocks, everything is merged into disjoint intervals.
  const hostsOnly = s.parts !== undefined && s.parts.every((p) => p.hosts);
  const cidrs = hostsOnly ? (s.parts ?? []).flatMap((p) => p.cidrs) : s.cidrs;
  return families.map((f) => ({
    name: peerSetName(key, f),
    type: [addrType(f)],
    interval: !hostsOnly,
    comment: clampComment(s.parts ? `peers: ${key}` : `${ruleOriginText(s.origin)} peers`),
    elements: [...new Set(cidrs.filter((c) => c.family === f).map(cidrText))].sort(),
  }));
}

/** Named ports resolve to pod addresses: sets for the pods' families only. */
function namedPortSets(s: PortSet, families: readonly Family[]): NftSet[] {
  return families.map((f) => ({
    name: setName(s.id, f),
    type: [addrType(f), 'inet_proto', 'inet_service'],
    interval: false,
    comment: clampComment(`${ruleOriginText(s.origin)} port ${s.name}`),
    elements: [
      ...new Set(
        s.entries
          .filter((e) => e.ip.family === f)
          .map((e) => `${formatIp(e.ip)} . ${e.protocol.toLowerCase()} . ${e.port}`),
      ),
    ].sort(),
  }));
}
