/**
 * A typed picture of weft's nftables table: what the renderer builds from the
 * policy IR, what the differ compares, what becomes one `nft -f -` transaction.
 * Rule bodies are nft syntax; everything else is data.
 */

export const TABLE_FAMILY = 'inet';
export const TABLE_NAME = 'weft';

export interface NftSet {
  readonly name: string;
  /** nft type, e.g. `ipv4_addr` or `ipv4_addr . inet_proto . inet_service`. */
  readonly type: string;
  /** `flags interval` (CIDR elements). */
  readonly interval: boolean;
  /** Names the Kubernetes object the set came from (at most 128 bytes). */
  readonly comment: string;
  /** Elements in nft syntax (`10.0.0.0/8`, `10.0.0.1 . tcp . 80`), sorted, unique. */
  readonly elements: readonly string[];
}

export interface NftMapElement {
  readonly key: string;
  /** A verdict, e.g. `jump ep_1a2b3c_ingress`. */
  readonly value: string;
}

export interface NftMap {
  readonly name: string;
  /** e.g. `ipv4_addr : verdict` */
  readonly type: string;
  readonly comment: string;
  /** Sorted by key, keys unique. */
  readonly elements: readonly NftMapElement[];
}

export interface NftRule {
  /** The rule in nft syntax, without its comment. */
  readonly text: string;
  /** The Kubernetes object (and rule) it came from; at most 128 bytes. */
  readonly comment: string;
}

export interface NftBaseHook {
  readonly type: 'filter';
  readonly hook: 'forward' | 'input' | 'output' | 'prerouting' | 'postrouting';
  /** nft priority expression, e.g. `filter` or `-10`. */
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

export interface NftTable {
  /** Named counters (absent: none). */
  readonly counters?: ReadonlyMap<string, NftCounter>;
  readonly sets: ReadonlyMap<string, NftSet>;
  readonly maps: ReadonlyMap<string, NftMap>;
  readonly chains: ReadonlyMap<string, NftChain>;
}
