/**
 * Names and base-chain priorities as nft reads them: what it takes as the
 * name of a set, map, chain or counter, and the number a priority stands for;
 * and the names components give their objects.
 */
import { createHash } from 'node:crypto';

/**
 * Longest set, map or chain name we allow. The kernel's limit is 255 bytes
 * (NFT_NAME_MAXLEN 256 with its NUL); 64 keeps `nft list ruleset` readable.
 */
export const NAME_MAX = 64;

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

/** A name nft reads as one (letters, digits, underscores; not starting with a digit). */
export function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name);
}

const PRIORITY = /^(raw|mangle|dstnat|filter|security|srcnat|[-+]?\d+)(?: ([-+]) (\d+))?$/;
/** nft's priority names in the ip, ip6 and inet families. */
const PRIORITY_NAMES: Readonly<Record<string, number>> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
};

/** A base chain's priority as a number (`filter + 10` is 10); undefined when nft would not read it. */
export function priorityValue(priority: string): number | undefined {
  const m = PRIORITY.exec(priority);
  if (!m) return undefined;
  const base = PRIORITY_NAMES[m[1] as string] ?? Number(m[1]);
  const offset = m[3] === undefined ? 0 : Number(m[3]);
  return m[2] === '-' ? base - offset : base + offset;
}

/** The hooks nft 1.0.6 reads these priority names on (`dstnat` in output is an error there). */
const NAME_HOOKS: Readonly<Record<string, string>> = {
  dstnat: 'prerouting',
  srcnat: 'postrouting',
};

/** Why nft would not read `priority` on `hook`, or undefined when it would. */
export function priorityProblem(hook: string, priority: string): string | undefined {
  if (priorityValue(priority) === undefined)
    return `priority ${priority} is not a number or a known name`;
  const name = /^[a-z]+/.exec(priority)?.[0];
  const only = name === undefined ? undefined : NAME_HOOKS[name];
  if (only !== undefined && only !== hook)
    return `priority ${name} is only valid on hook ${only} (nft: invalid priority expression value in this context; write it as a number)`;
  return undefined;
}

/** What nft would refuse in the name of a set, map, chain or counter. */
export function nameProblems(kind: string, name: string): string[] {
  const problems: string[] = [];
  if (!IDENTIFIER.test(name))
    problems.push(
      `${kind} name ${JSON.stringify(name)} is not an identifier ([A-Za-z_][A-Za-z0-9_]*)`,
    );
  else if (KEYWORDS.has(name)) problems.push(`${kind} name ${name} is an nft keyword`);
  if (name.length > NAME_MAX)
    problems.push(`${kind} name ${name} is ${name.length} characters long; at most ${NAME_MAX}`);
  return problems;
}

/**
 * A readable, unique nft name (kube-proxy's habit): the prefix, a short hash
 * of the whole id, and the id's readable tail, at most NAME_MAX characters.
 */
export function nftName(prefix: string, id: string): string {
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  const tail = id
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(-40);
  return `${prefix}_${hash}_${tail}`.slice(0, NAME_MAX);
}
