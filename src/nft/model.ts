/**
 * nftables as typed data: a table (sets, maps, counters, chains of rules),
 * each rule a list of typed expressions, and the transactions that change a
 * table. Components (policy, next services) build these values; validate.ts
 * checks them, text.ts renders them to nft syntax once, at the edge, and the
 * strict fake (fake.ts) applies them in memory. Nothing here knows a
 * component: a table's family and name are its own.
 */

export type NftFamily = 'inet' | 'ip' | 'ip6';

/** Which table: every transaction and listing names one. */
export interface NftTableId {
  readonly family: NftFamily;
  readonly name: string;
}

/** Key and element datatypes weft uses (nft's names). */
export type NftDatatype =
  | 'ipv4_addr'
  | 'ipv6_addr'
  | 'inet_proto'
  | 'inet_service'
  | 'mark'
  | 'ifname'
  | 'ct_state'
  | 'ct_dir'
  | 'icmp_type'
  | 'icmpv6_type'
  | 'fib_addrtype';

/** A packet, connection or routing field a rule reads. */
export type NftSelector =
  | 'ip saddr'
  | 'ip daddr'
  | 'ip6 saddr'
  | 'ip6 daddr'
  | 'meta l4proto'
  | 'th sport'
  | 'th dport'
  | 'meta mark'
  | 'ct mark'
  | 'ct state'
  | 'ct direction'
  | 'icmp type'
  | 'icmpv6 type'
  | 'fib saddr type'
  | 'fib daddr type'
  | 'iifname'
  | 'oifname';

/** The datatype of each selector: what a literal, a set key or a map key must be. */
export const SELECTOR_TYPES: Readonly<Record<NftSelector, NftDatatype>> = {
  'ip saddr': 'ipv4_addr',
  'ip daddr': 'ipv4_addr',
  'ip6 saddr': 'ipv6_addr',
  'ip6 daddr': 'ipv6_addr',
  'meta l4proto': 'inet_proto',
  'th sport': 'inet_service',
  'th dport': 'inet_service',
  'meta mark': 'mark',
  'ct mark': 'mark',
  'ct state': 'ct_state',
  'ct direction': 'ct_dir',
  'icmp type': 'icmp_type',
  'icmpv6 type': 'icmpv6_type',
  'fib saddr type': 'fib_addrtype',
  'fib daddr type': 'fib_addrtype',
  iifname: 'ifname',
  oifname: 'ifname',
};

/** A verdict: ends the rule (and, but for jump, the chain). */
export type NftVerdict =
  | { readonly kind: 'accept' | 'drop' | 'return' | 'continue' }
  | { readonly kind: 'jump' | 'goto'; readonly chain: string };

export type NftMarkField = 'meta mark' | 'ct mark';

/** A number a rule computes for each packet, to choose by (`number-vmap`). */
export type NftNumberSource =
  /** `numgen random mod N`: a random number from 0 to N-1. */
  | { readonly kind: 'numgen'; readonly mod: number }
  /**
   * `jhash FIELDS mod N seed S`: the kernel's jhash of the fields with the
   * seed, scaled into 0 to N-1: the same packet fields, the same number, on
   * every host.
   */
  | {
      readonly kind: 'jhash';
      readonly fields: readonly NftSelector[];
      readonly mod: number;
      /** 32 bits; weft always gives one (without, the kernel picks one at random). */
      readonly seed: number;
    };

/** One entry of an anonymous verdict map of numbers: `FROM : VERDICT` or `FROM-TO : VERDICT`. */
export interface NftNumberMapElement {
  readonly from: number;
  /** The last number of a range (absent: just `from`). */
  readonly to?: number;
  readonly value: NftVerdict;
}

/**
 * How `reject` answers: ICMP or ICMPv6 port unreachable, as the packet's
 * family asks (nft lists it as a bare `reject`), or a TCP reset.
 */
export type NftRejectWith = 'icmpx port-unreachable' | 'tcp reset';

/**
 * One expression or statement of a rule, in the order nft reads them.
 *
 * - `cmp`: `LEFT VALUE`, `LEFT != VALUE`, `LEFT { A, B }` — the left side a
 *   selector or a concatenation of them, the values literals of its datatype
 *   in nft syntax (`10.0.0.0/8`, `tcp`, `8000-8080`, `reply`).
 * - `lookup`: `LEFT @set` (a named set of the left side's type).
 * - `bits`: `meta mark & MASK == VALUE`.
 * - `vmap`: `LEFT vmap @map` (a verdict map keyed by the left side).
 * - `set-mark`: `meta mark set meta mark & AND | OR` (either part optional).
 * - `counter`, `limit`, `log`: as nft's statements of those names.
 * - `number-vmap`: `numgen random mod N vmap { 0 : goto a, 1 : goto b }` or
 *   `jhash FIELDS mod N seed S vmap { … }`, an anonymous verdict map keyed
 *   by a number the rule computes.
 * - `update`: `update @set { LEFT }` (adds the packet's key to a dynamic
 *   set, or renews its timeout).
 * - `dnat`: `dnat ip to ADDR:PORT` (nat chains of prerouting and output;
 *   the port needs a `meta l4proto` match before it; `ip`/`ip6` is required
 *   in an inet table, left out in the others).
 * - `masquerade`: the source becomes the address of the interface the
 *   packet leaves by (nat chains of postrouting).
 * - `reject`: drops the packet and answers it (input, forward, output and
 *   prerouting; `tcp reset` needs a `meta l4proto tcp` match before it).
 * - `verdict`: last in its rule; so are `vmap`, `number-vmap`, `dnat`,
 *   `masquerade` and `reject`, which end it too.
 */
export type NftExpr =
  | {
      readonly kind: 'cmp';
      readonly left: readonly NftSelector[];
      readonly op: '==' | '!=';
      /** One value, or several (an anonymous set: any of them). */
      readonly values: readonly string[];
    }
  | {
      readonly kind: 'lookup';
      readonly left: readonly NftSelector[];
      readonly op: '==' | '!=';
      readonly set: string;
    }
  | {
      readonly kind: 'bits';
      readonly left: NftMarkField;
      readonly mask: number;
      readonly op: '==' | '!=';
      readonly value: number;
    }
  | { readonly kind: 'vmap'; readonly left: readonly NftSelector[]; readonly map: string }
  | {
      readonly kind: 'set-mark';
      readonly target: NftMarkField;
      /** Keep only these bits of the current value. */
      readonly and?: number;
      /** Then set these bits. */
      readonly or?: number;
    }
  | { readonly kind: 'counter'; readonly name?: string }
  | {
      readonly kind: 'limit';
      readonly rate: number;
      readonly per: 'second' | 'minute';
      readonly burst: number;
    }
  | {
      readonly kind: 'log';
      readonly prefix: string;
      readonly group: number;
      /** Packets the kernel gathers before handing them to the reader. */
      readonly queueThreshold?: number;
    }
  | {
      readonly kind: 'number-vmap';
      readonly source: NftNumberSource;
      /** Sorted by `from`, not overlapping. */
      readonly elements: readonly NftNumberMapElement[];
    }
  | { readonly kind: 'update'; readonly set: string; readonly left: readonly NftSelector[] }
  | {
      readonly kind: 'dnat';
      readonly family?: 'ip' | 'ip6';
      readonly address: string;
      readonly port?: number;
    }
  | { readonly kind: 'masquerade'; readonly fullyRandom?: boolean }
  | { readonly kind: 'reject'; readonly with: NftRejectWith }
  | { readonly kind: 'verdict'; readonly verdict: NftVerdict };

export interface NftRule {
  readonly exprs: readonly NftExpr[];
  /** The Kubernetes object (and rule) it came from; at most 128 bytes. */
  readonly comment: string;
}

export interface NftSet {
  readonly name: string;
  /** The key: one datatype, or a concatenation (`ipv4_addr . inet_proto . inet_service`). */
  readonly type: readonly NftDatatype[];
  /** `flags interval` (CIDR and range elements). */
  readonly interval: boolean;
  /** Names the Kubernetes object the set came from (at most 128 bytes). */
  readonly comment: string;
  /** Elements in nft syntax (`10.0.0.0/8`, `10.0.0.1 . tcp . 80`), sorted, unique. */
  readonly elements: readonly string[];
  /** `flags dynamic`: rules add elements (`update @set`) as packets pass; needs `size`. */
  readonly dynamic?: boolean;
  /** `size N`: the most elements the set holds. */
  readonly size?: number;
  /** `timeout`: whole seconds an element stays after it was last added or renewed. */
  readonly timeout?: number;
}

export interface NftMapElement {
  /** In nft syntax, of the map's key type. */
  readonly key: string;
  readonly value: NftVerdict;
}

/** A verdict map. */
export interface NftMap {
  readonly name: string;
  readonly key: readonly NftDatatype[];
  readonly comment: string;
  /** Sorted by key, keys unique. */
  readonly elements: readonly NftMapElement[];
}

export type NftHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

export interface NftBaseHook {
  readonly type: 'filter' | 'nat' | 'route';
  readonly hook: NftHook;
  /** nft priority expression, e.g. `filter`, `dstnat` or `-10`. */
  readonly priority: string;
  readonly policy: 'accept' | 'drop';
}

export interface NftChain {
  readonly name: string;
  readonly comment: string;
  /** Present for base chains. */
  readonly base?: NftBaseHook;
  readonly rules: readonly NftRule[];
}

/** A named counter: rules add to it with `counter name "NAME"`; the agent reads it. */
export interface NftCounter {
  readonly name: string;
  /** What it counts and why (at most 128 bytes). */
  readonly comment: string;
}

export interface NftTable extends NftTableId {
  /** Named counters (absent: none). */
  readonly counters?: ReadonlyMap<string, NftCounter>;
  readonly sets: ReadonlyMap<string, NftSet>;
  readonly maps: ReadonlyMap<string, NftMap>;
  readonly chains: ReadonlyMap<string, NftChain>;
}

/** A set, map or chain as declared, without its elements or rules. */
export type NftSetDecl = Omit<NftSet, 'elements'>;
export type NftMapDecl = Omit<NftMap, 'elements'>;
export type NftChainDecl = Omit<NftChain, 'rules'>;

/**
 * One operation of a transaction, on the transaction's table. `add` of an
 * existing table, chain, set, map or counter keeps the existing one: a new
 * comment is ignored, a base chain's new policy replaces the old, and a
 * different type, flags, hook or priority is refused (as is a set or map
 * under the other's name). `delete` of an absent object, or of one still
 * referred to, is refused. fake.ts lists every refusal.
 */
export type NftOp =
  | { readonly op: 'add' | 'delete'; readonly kind: 'table' }
  /** The table with all its contents, as nft's `table F N { … }` block: adds every object in it. */
  | { readonly op: 'add'; readonly kind: 'table-contents'; readonly table: NftTable }
  | { readonly op: 'add'; readonly kind: 'counter'; readonly counter: NftCounter }
  | { readonly op: 'add'; readonly kind: 'set'; readonly set: NftSetDecl }
  | { readonly op: 'add'; readonly kind: 'map'; readonly map: NftMapDecl }
  | { readonly op: 'add'; readonly kind: 'chain'; readonly chain: NftChainDecl }
  | { readonly op: 'flush'; readonly kind: 'chain'; readonly name: string }
  | {
      readonly op: 'delete';
      readonly kind: 'chain' | 'set' | 'map' | 'counter';
      readonly name: string;
    }
  /** Appends a rule to a chain. */
  | { readonly op: 'add'; readonly kind: 'rule'; readonly chain: string; readonly rule: NftRule }
  | {
      readonly op: 'add';
      readonly kind: 'elements';
      /** A set's name with its elements, or a map's with its elements. */
      readonly set: string;
      readonly elements: readonly string[] | readonly NftMapElement[];
    }
  | {
      readonly op: 'delete';
      readonly kind: 'elements';
      readonly set: string;
      /** Set elements, or map keys. */
      readonly elements: readonly string[];
    };

/** What one `nft -f` applies atomically: all of it, or none. */
export interface NftTransaction {
  readonly table: NftTableId;
  readonly ops: readonly NftOp[];
}

/** One base chain of a component's table: where it hooks in, and why it is there. */
export interface NftBaseChainSpec extends NftBaseHook {
  readonly name: string;
  /** One line: what traffic it sees and what it does with it (the chain's comment). */
  readonly reason: string;
}

/**
 * A component's table described as data: its family and name and its base
 * chains (kube-proxy's nftablesBaseChains is the model). A component owns
 * its table alone; no other component's sync touches it.
 */
export interface NftTableSpec extends NftTableId {
  readonly baseChains: readonly NftBaseChainSpec[];
}
