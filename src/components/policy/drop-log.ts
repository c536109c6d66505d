/**
 * Drops are logged to NFLOG before they happen, one log rule in front of
 * every drop of an endpoint chain, rate-limited per endpoint, direction and
 * reason (a `limit` in its own rule: over the limit only the log is skipped,
 * never the drop). The log prefix says which endpoint chain dropped and why;
 * the agent's flow pipeline reads it back and asks the evaluator which
 * policy and rule decided.
 */
import { createHash } from 'node:crypto';
import type { Direction } from '../../core/model/types.js';
import type { NftCounter, NftExpr } from '../../nft/model.js';

export interface DropLogOptions {
  /** NFLOG group the agent listens on. */
  readonly group: number;
  /** Logged drops per second per endpoint, direction and reason (burst: twice that). */
  readonly ratePerSecond: number;
}

/** Why an endpoint chain drops: the Admin tier denied, NetworkPolicies isolate, the Baseline tier denied. */
export type DropReason = 'admin' | 'isolated' | 'baseline';

const REASON_CODE: Record<DropReason, string> = { admin: 'a', isolated: 'n', baseline: 'b' };

/** A short, stable id for an endpoint (pod key): what the log prefix carries. */
export function endpointTag(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** `weft drop i 1a2b3c4d5e6f n`: at most 28 bytes (nft allows 127). */
export function dropLogPrefix(key: string, direction: Direction, reason: DropReason): string {
  return `weft drop ${direction === 'ingress' ? 'i' : 'e'} ${endpointTag(key)} ${REASON_CODE[reason]}`;
}

export interface ParsedDropPrefix {
  readonly tag: string;
  readonly direction: Direction;
  readonly reason: DropReason;
}

/** The inverse of dropLogPrefix; undefined for a prefix weft did not write. */
export function parseDropLogPrefix(prefix: string): ParsedDropPrefix | undefined {
  const m = /^weft drop ([ie]) ([0-9a-f]{12}) ([anb])$/.exec(prefix.replace(/\0+$/, ''));
  if (!m) return undefined;
  const reason = (Object.keys(REASON_CODE) as DropReason[]).find((r) => REASON_CODE[r] === m[3]);
  if (!reason) return undefined;
  return { tag: m[2] as string, direction: m[1] === 'i' ? 'ingress' : 'egress', reason };
}

/**
 * What logs, placed just before the drop after the same condition.
 * `queue-threshold 1` hands each packet to the reader at once (without it
 * the kernel batches until its flush timeout, about a second).
 */
export function dropLogExprs(prefix: string, log: DropLogOptions): NftExpr[] {
  const [wanted, sent] = DROP_LOG_COUNTERS;
  return [
    { kind: 'counter', name: wanted.name },
    { kind: 'limit', rate: log.ratePerSecond, per: 'second', burst: log.ratePerSecond * 2 },
    { kind: 'counter', name: sent.name },
    { kind: 'log', prefix, group: log.group, queueThreshold: 1 },
  ];
}

/**
 * What the rate limit keeps out of the log is counted where it happens: every
 * log rule adds each packet to the first counter before its limit, and to the
 * second after it (a `limit` that refuses ends the rule there). Their
 * difference is the drops that were not logged; the agent reads both.
 */
export const DROP_LOG_COUNTERS: readonly [NftCounter, NftCounter] = [
  {
    name: 'drop_log_wanted',
    comment:
      'drops to log, before the rate limit (minus drop_log_sent: drops the limit kept out of the log)',
  },
  { name: 'drop_log_sent', comment: 'drops the rate limit let through to the NFLOG group' },
];
