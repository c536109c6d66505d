/**
 * A strict check of an NftTable against what nft and the kernel would refuse,
 * run before anything touches the kernel: a table that passes here applies.
 * Every problem is a sentence naming the set, map, chain or rule at fault.
 */
import { parseCidr } from '../core/net/cidr.js';
import { parseIp } from '../core/net/ip.js';
import {
  SELECTOR_TYPES,
  type NftChain,
  type NftDatatype,
  type NftExpr,
  type NftMap,
  type NftRule,
  type NftSet,
  type NftTable,
  type NftVerdict,
} from './model.js';
import { clampComment, COMMENT_MAX_BYTES, ruleText } from './text.js';

/**
 * Longest set, map or chain name we allow. The kernel's limit is 255 bytes
 * (NFT_NAME_MAXLEN 256 with its NUL); 64 keeps `nft list ruleset` readable.
 */
export const NAME_MAX = 64;
/** Nested jumps from a base chain the kernel accepts (NFT_JUMP_STACK_SIZE 16; measured on 6.x). */
export const MAX_JUMP_DEPTH = 15;

/** A table that failed validateTable; nothing was sent to the kernel. */
export class NftValidationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid nftables table: ${problems.join('; ')}`);
    this.name = 'NftValidationError';
  }
}

/**
 * Words nft's scanner reads as keywords (nftables src/scanner.l, all start
 * conditions): such a name is a syntax error where nft expects a name.
 */
const KEYWORDS = new Set(
  `eq ne le lt ge gt lshift rshift xor and or not vmap include define redefine undefine describe
  chains sets tables rules trace hook device devices table chain rule set element map flowtable
  handle ruleset socket transparent wildcard cgroupv2 level tproxy accept drop continue jump goto
  return to inet netdev add replace update create insert delete get list reset flush rename import
  export monitor destroy position index comment constant interval dynamic timeout elements expires
  policy size performance memory flow offload meter meters flowtables limits maps secmarks synproxys
  tunnel tunnels hooks counter name packets bytes last never counters quotas log prefix snaplen
  group queue num bypass fanout limit rate burst second minute week over quota until used hour day
  reject with icmpx snat dnat masquerade redirect random persistent port ll nh th bridge ether saddr
  daddr type typeof vlan id cfi dei pcp arp htype ptype hlen plen operation ip version hdrlength
  dscp ecn length ttl protocol checksum lsrr rr ssrr ra ptr value option options ackseq doff window
  urgptr echo eol maxseg mss nop noop sack sack0 sack1 sack2 sack3 timestamp fastopen mptcp md5sig
  left right count tsval tsecr subtype time icmp icmpv6 gateway code mtu taddr sequence igmp mrt ip6
  priority flowlabel hoplimit nexthdr ah reserved spi esp comp cpi flags udp udplite csumcov sport
  dport vxlan vni geneve gre gretap tcp dccp sctp chunk vtag data init heartbeat abort shutdown
  error ecne cwr asconf tsn stream ssn ppid seqno rt rt0 rt2 srh addr hbh frag reserved2 dst mh meta
  mark iif iifname iiftype oif oifname oiftype skuid skgid nftrace rtclassid ibriport ibrname
  obriport obrname pkttype cpu iifgroup oifgroup cgroup nexthop tag sid classid ct avgpkt l3proto
  zone original reply direction event expectation expiration helper helpers label state status
  numgen inc jhash symhash seed mod offset dup fwd fib check osf synproxy wscale notrack all xml json
  vm exists missing exthdr ipsec reqid spnum in out secmark xt`.split(/\s+/),
);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PRIORITY = /^(raw|mangle|dstnat|filter|security|srcnat|[-+]?\d+)( [-+] \d+)?$/;
/** Values of the datatypes that are names, as nft 1.0.6 knows them (checked with `nft -c`). */
const NAMED_VALUES: Partial<Record<NftDatatype, ReadonlySet<string>>> = {
  ct_state: new Set(['invalid', 'established', 'related', 'new', 'untracked']),
  ct_dir: new Set(['original', 'reply']),
  fib_addrtype: new Set(
    'unspec unicast local broadcast anycast multicast blackhole unreachable prohibit'.split(' '),
  ),
  icmp_type: new Set(
    `echo-reply destination-unreachable source-quench redirect echo-request router-advertisement
    router-solicitation time-exceeded parameter-problem timestamp-request timestamp-reply
    info-request info-reply address-mask-request address-mask-reply`.split(/\s+/),
  ),
  icmpv6_type: new Set(
    `destination-unreachable packet-too-big time-exceeded parameter-problem echo-request
    echo-reply mld-listener-query mld-listener-report mld-listener-done mld-listener-reduction
    nd-router-solicit nd-router-advert nd-neighbor-solicit nd-neighbor-advert nd-redirect
    router-renumbering ind-neighbor-solicit ind-neighbor-advert mld2-listener-report`.split(/\s+/),
  ),
};

function checkName(kind: string, key: string, name: string, problems: string[]): void {
  if (key !== name) problems.push(`${kind} ${name} is filed under the name ${key}`);
  if (!IDENTIFIER.test(name))
    problems.push(
      `${kind} name ${JSON.stringify(name)} is not an identifier ([A-Za-z_][A-Za-z0-9_]*)`,
    );
  else if (KEYWORDS.has(name)) problems.push(`${kind} name ${name} is an nft keyword`);
  if (name.length > NAME_MAX)
    problems.push(`${kind} name ${name} is ${name.length} characters long; at most ${NAME_MAX}`);
}

function checkComment(what: string, comment: string, problems: string[]): void {
  if (clampComment(comment) === comment) return;
  const bytes = new TextEncoder().encode(comment).length;
  problems.push(
    bytes > COMMENT_MAX_BYTES
      ? `${what}: comment is ${bytes} bytes; nft allows ${COMMENT_MAX_BYTES} (use clampComment)`
      : `${what}: comment holds a quote or control character (use clampComment)`,
  );
}

interface PartCheck {
  problem?: string;
  interval: boolean;
  range?: { lo: bigint; hi: bigint };
}

/** An address element as an inclusive range of values, or a problem. */
function addressRange(part: string, family: 4 | 6): PartCheck | string {
  const bits = family === 4 ? 32 : 128;
  if (part.includes('/')) {
    const c = parseCidr(part);
    if (!c || c.cidr.family !== family) return `${part} is not an IPv${family} CIDR`;
    if (c.hadHostBits) return `${part} has host bits set`;
    const size = 1n << BigInt(bits - c.cidr.prefix);
    return { range: { lo: c.cidr.base, hi: c.cidr.base + size - 1n }, interval: true };
  }
  const dash = part.indexOf('-');
  const [a, b] = dash < 0 ? [part, part] : [part.slice(0, dash), part.slice(dash + 1)];
  const lo = parseIp(a);
  const hi = parseIp(b);
  if (lo?.family !== family || hi?.family !== family)
    return `${part} is not an IPv${family} address`;
  if (lo.value > hi.value) return `${part} is an empty range`;
  return { range: { lo: lo.value, hi: hi.value }, interval: dash >= 0 };
}

function serviceRange(part: string, max: number): PartCheck | string {
  if (/^[a-z][a-z0-9-]*$/.test(part)) return { interval: false }; // a named service or protocol
  const m = /^(\d+)(?:-(\d+))?$/.exec(part);
  if (!m) return `${part} is not a number or a range`;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (hi > max || lo > hi) return `${part} is out of range 0-${max}`;
  return { interval: m[2] !== undefined };
}

/** One ` . `-separated part of an element, against its datatype. */
function checkPart(type: NftDatatype, part: string): PartCheck {
  if (part === '' || /[,{}\n;#]/.test(part.replace(/^"[^"]*"$/, '""')))
    return {
      problem: `element part ${JSON.stringify(part)} is not a single value`,
      interval: false,
    };
  const r =
    type === 'ipv4_addr'
      ? addressRange(part, 4)
      : type === 'ipv6_addr'
        ? addressRange(part, 6)
        : type === 'inet_service'
          ? serviceRange(part, 65535)
          : type === 'inet_proto'
            ? serviceRange(part, 255)
            : namedValue(type, part);
  if (typeof r === 'string') return { problem: r, interval: false };
  return r;
}

function namedValue(type: NftDatatype, part: string): PartCheck | string {
  const names = NAMED_VALUES[type];
  if (names && !names.has(part))
    return `${part} is not a ${type} (one of: ${[...names].join(', ')})`;
  if (type === 'mark' && !/^0x[0-9a-f]{1,8}$|^\d+$/.test(part)) return `${part} is not a mark`;
  if (type === 'ifname' && !/^"[^"]{1,15}"$|^[A-Za-z0-9_.-]{1,15}$/.test(part))
    return `${part} is not an interface name`;
  return { interval: false };
}

/** Checks keys against a key type; returns address ranges of single-field keys. */
function checkKeys(
  what: string,
  types: readonly NftDatatype[],
  keys: readonly string[],
  interval: boolean,
  problems: string[],
): { key: string; lo: bigint; hi: bigint }[] {
  const ranges: { key: string; lo: bigint; hi: bigint }[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) problems.push(`${what}: duplicate element ${key}`);
    seen.add(key);
    const parts = key.split(' . ').map((p) => p.trim());
    if (parts.length !== types.length) {
      problems.push(`${what}: element ${key} has ${parts.length} parts; type has ${types.length}`);
      continue;
    }
    parts.forEach((part, i) => {
      const c = checkPart(types[i] as NftDatatype, part);
      if (c.problem) problems.push(`${what}: ${c.problem}`);
      else if (c.interval && !interval)
        problems.push(`${what}: element ${key} is a prefix or range; needs flags interval`);
      if (c.range && types.length === 1) ranges.push({ key, ...c.range });
    });
  }
  return ranges;
}

function checkOverlaps(what: string, ranges: { key: string; lo: bigint; hi: bigint }[]) {
  const sorted = [...ranges].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const problems: string[] = [];
  let reach: (typeof sorted)[number] | undefined; // the element reaching highest so far
  for (const b of sorted) {
    if (reach && b.lo <= reach.hi && reach.key !== b.key)
      problems.push(
        `${what}: elements ${reach.key} and ${b.key} overlap (nft: conflicting intervals)`,
      );
    if (!reach || b.hi > reach.hi) reach = b;
  }
  return problems;
}

function checkSet(s: NftSet, problems: string[]): void {
  const what = `set ${s.name}`;
  if (s.type.length === 0) problems.push(`${what}: has no key type`);
  const ranges = checkKeys(what, s.type, s.elements, s.interval, problems);
  if (s.interval) problems.push(...checkOverlaps(what, ranges));
}

/** A verdict's target chain must exist and must not be a base chain. */
function checkTarget(what: string, target: string, t: NftTable, problems: string[]): void {
  const c = t.chains.get(target);
  if (!c) problems.push(`${what}: jumps to missing chain ${target}`);
  else if (c.base) problems.push(`${what}: jumps to base chain ${target} (kernel: not supported)`);
}

function checkMap(m: NftMap, t: NftTable, problems: string[]): void {
  const what = `map ${m.name}`;
  if (m.key.length === 0) problems.push(`${what}: has no key type`);
  checkKeys(
    what,
    m.key,
    m.elements.map((e) => e.key),
    false,
    problems,
  );
  for (const e of m.elements) checkVerdict(`${what} element ${e.key}`, e.value, t, problems);
}

function checkVerdict(what: string, v: NftVerdict, t: NftTable, problems: string[]): void {
  if (v.kind === 'jump' || v.kind === 'goto') checkTarget(what, v.chain, t, problems);
}

const sameTypes = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);
const typesText = (types: readonly string[]) => types.join(' . ');
const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
/** No quote and no control character: text nft takes inside a string as it is. */
const printable = (text: string) =>
  [...text].every((ch) => {
    const c = ch.charCodeAt(0);
    return ch !== '"' && c >= 0x20 && c !== 0x7f;
  });
const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/** Chains a rule jumps or goes to, sets it looks up and maps it dispatches by. */
export function ruleReferences(r: NftRule): { chains: string[]; sets: string[]; maps: string[] } {
  const chains: string[] = [];
  const sets: string[] = [];
  const maps: string[] = [];
  for (const e of r.exprs)
    if (e.kind === 'verdict' && (e.verdict.kind === 'jump' || e.verdict.kind === 'goto'))
      chains.push(e.verdict.chain);
    else if (e.kind === 'lookup') sets.push(e.set);
    else if (e.kind === 'vmap') maps.push(e.map);
  return { chains, sets, maps };
}

/** What one expression says on its own: problems that need no table. */
function exprProblems(e: NftExpr, family: NftTable['family']): string[] {
  const out: string[] = [];
  const selectors = 'left' in e && typeof e.left !== 'string' ? e.left : [];
  for (const sel of selectors) {
    if (!(sel in SELECTOR_TYPES)) out.push(`unknown selector ${sel}`);
    else if (
      (family === 'ip' && sel.startsWith('ip6 ')) ||
      (family === 'ip6' && sel.startsWith('ip '))
    )
      out.push(`${sel} cannot match in a table of family ${family}`);
  }
  if ('left' in e && selectors.length === 0 && typeof e.left !== 'string')
    out.push(`${e.kind} has no selector`);
  switch (e.kind) {
    case 'cmp': {
      if (e.values.length === 0) out.push('cmp has no values');
      const types = e.left.map((x) => SELECTOR_TYPES[x]);
      const p: string[] = [];
      checkKeys('cmp', types, e.values, true, p);
      out.push(...p.map((x) => x.replace(/^cmp: /, '')));
      break;
    }
    case 'bits':
      if (!u32(e.mask) || !u32(e.value)) out.push('mask and value must be 32-bit unsigned');
      else if ((e.value & ~e.mask) >>> 0 !== 0)
        out.push(`value ${hex(e.value)} has bits outside mask ${hex(e.mask)}: can never match`);
      break;
    case 'set-mark':
      if (e.and === undefined && e.or === undefined) out.push('set-mark changes nothing');
      if ((e.and !== undefined && !u32(e.and)) || (e.or !== undefined && !u32(e.or)))
        out.push('set-mark bits must be 32-bit unsigned');
      break;
    case 'limit':
      if (!Number.isInteger(e.rate) || e.rate < 1)
        out.push(`limit rate ${e.rate} is not a positive integer`);
      if (!Number.isInteger(e.burst) || e.burst < 0)
        out.push(`limit burst ${e.burst} is not an integer ≥ 0`);
      break;
    case 'log':
      if (new TextEncoder().encode(e.prefix).length > 127 || !printable(e.prefix))
        out.push('log prefix must be at most 127 bytes with no quote or control character');
      if (!Number.isInteger(e.group) || e.group < 0 || e.group > 65535)
        out.push(`log group ${e.group} is out of range 0-65535`);
      break;
    case 'counter':
      if (e.name !== undefined && !IDENTIFIER.test(e.name))
        out.push(`counter name ${JSON.stringify(e.name)} is not an identifier`);
      break;
    default:
      break;
  }
  return out;
}

/** Problems of one rule against the table it is in: its references and their types. */
function ruleTableProblems(r: NftRule, t: NftTable): string[] {
  const out: string[] = [];
  for (const e of r.exprs) {
    if (e.kind === 'lookup') {
      const s = t.sets.get(e.set);
      if (!s) out.push(`names missing set @${e.set}`);
      else {
        const want = e.left.map((x) => SELECTOR_TYPES[x]);
        if (!sameTypes(s.type, want))
          out.push(`looks up ${typesText(want)} in set @${e.set} of type ${typesText(s.type)}`);
      }
    } else if (e.kind === 'vmap') {
      const m = t.maps.get(e.map);
      if (!m) out.push(`names missing map @${e.map}`);
      else {
        const want = e.left.map((x) => SELECTOR_TYPES[x]);
        if (!sameTypes(m.key, want))
          out.push(`dispatches ${typesText(want)} by map @${e.map} keyed by ${typesText(m.key)}`);
      }
    } else if (e.kind === 'counter' && e.name !== undefined && !t.counters?.has(e.name))
      out.push(`names missing counter ${e.name}`);
  }
  return out;
}

/** What a chain's rules say on their own, and what they refer to (checked against the table). */
interface ChainFacts {
  readonly problems: readonly string[];
  readonly rules: readonly {
    what: string;
    rule: NftRule;
    chains: string[];
    sets: string[];
    maps: string[];
  }[];
}

/**
 * Facts of chains and problems of sets, per object: a sync renders unchanged
 * policies to the same objects, so a big table is checked once and each
 * later sync checks only what is new.
 */
const chainFacts = new WeakMap<NftChain, ChainFacts>();
const setProblems = new WeakMap<NftSet, readonly string[]>();

function factsOf(c: NftChain, family: NftTable['family']): ChainFacts {
  let facts = chainFacts.get(c);
  if (facts) return facts;
  const problems: string[] = [];
  checkComment(`chain ${c.name}`, c.comment, problems);
  if (c.base && !PRIORITY.test(c.base.priority))
    problems.push(`chain ${c.name}: priority ${c.base.priority} is not a number or a known name`);
  const rules = c.rules.map((r, i) => {
    const what = `chain ${c.name} rule ${i + 1} (${ruleText(r)})`;
    checkComment(what, r.comment, problems);
    if (r.exprs.length === 0) problems.push(`${what}: empty rule`);
    r.exprs.forEach((e, j) => {
      for (const p of exprProblems(e, family)) problems.push(`${what}: ${p}`);
      const last = j === r.exprs.length - 1;
      if ((e.kind === 'verdict' || e.kind === 'vmap') && !last)
        problems.push(
          `${what}: ${e.kind === 'vmap' ? 'a verdict map' : 'a verdict'} must end the rule`,
        );
    });
    return { what, rule: r, ...ruleReferences(r) };
  });
  chainFacts.set(c, (facts = { problems, rules }));
  return facts;
}

function checkChain(c: NftChain, t: NftTable, problems: string[]): void {
  const facts = factsOf(c, t.family);
  problems.push(...facts.problems);
  for (const r of facts.rules) {
    for (const target of r.chains) checkTarget(r.what, target, t, problems);
    for (const p of ruleTableProblems(r.rule, t)) problems.push(`${r.what}: ${p}`);
  }
}

/** Chain → chains it can jump or go to, directly or through a verdict map it names. */
function jumpEdges(t: NftTable): Map<string, Set<string>> {
  const mapTargets = new Map<string, string[]>();
  for (const m of t.maps.values())
    mapTargets.set(
      m.name,
      m.elements.flatMap((e) =>
        e.value.kind === 'jump' || e.value.kind === 'goto' ? [e.value.chain] : [],
      ),
    );
  const edges = new Map<string, Set<string>>();
  for (const c of t.chains.values()) {
    const out = new Set<string>();
    for (const refs of factsOf(c, t.family).rules) {
      for (const target of refs.chains) out.add(target);
      for (const m of refs.maps) for (const target of mapTargets.get(m) ?? []) out.add(target);
    }
    edges.set(c.name, new Set([...out].filter((n) => t.chains.has(n))));
  }
  return edges;
}

/** Jump loops (the kernel refuses them: ELOOP) and jumps nested deeper than MAX_JUMP_DEPTH. */
function checkJumpGraph(t: NftTable, problems: string[]): void {
  const edges = jumpEdges(t);
  const depth = new Map<string, number>(); // longest jump path below a chain, once known
  const onPath: string[] = [];
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const at = onPath.indexOf(name);
    if (at >= 0) {
      problems.push(`jump loop: ${[...onPath.slice(at), name].join(' → ')}`);
      return 0;
    }
    onPath.push(name);
    let d = 0;
    for (const next of [...(edges.get(name) ?? [])].sort()) d = Math.max(d, 1 + visit(next));
    onPath.pop();
    depth.set(name, d);
    return d;
  };
  const chains = [...t.chains.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const c of chains) visit(c.name);
  for (const c of chains) {
    const d = depth.get(c.name) ?? 0;
    if (c.base && d > MAX_JUMP_DEPTH)
      problems.push(
        `base chain ${c.name} nests ${d} jumps deep; the kernel allows ${MAX_JUMP_DEPTH}`,
      );
  }
}

/** Problems nft or the kernel would reject the table for; empty when it applies. */
export function validateTable(t: NftTable): string[] {
  const problems: string[] = [];
  for (const [key, s] of t.sets) {
    checkName('set', key, s.name, problems);
    if (t.maps.has(s.name)) problems.push(`set ${s.name} has the name of a map`);
    let own = setProblems.get(s);
    if (!own) {
      const found: string[] = [];
      checkComment(`set ${s.name}`, s.comment, found);
      checkSet(s, found);
      setProblems.set(s, (own = found));
    }
    problems.push(...own);
  }
  for (const [key, m] of t.maps) {
    checkName('map', key, m.name, problems);
    checkComment(`map ${m.name}`, m.comment, problems);
    checkMap(m, t, problems);
  }
  for (const [key, c] of t.chains) {
    checkName('chain', key, c.name, problems);
    checkChain(c, t, problems);
  }
  checkJumpGraph(t, problems);
  return problems;
}
