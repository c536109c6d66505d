/** Small constructors for typed rules, so components read close to the nft they make. */
import type { NftExpr, NftRule, NftSelector, NftVerdict } from './model.js';
import { clampComment } from './text.js';

export function rule(exprs: readonly NftExpr[], comment: string): NftRule {
  return { exprs, comment: clampComment(comment) };
}

/** `LEFT VALUE` or `LEFT { A, B }`: the left side equals one of the values. */
export function cmp(left: readonly NftSelector[], ...values: string[]): NftExpr {
  return { kind: 'cmp', left, op: '==', values };
}

/** `LEFT @set`. */
export function lookup(left: readonly NftSelector[], set: string): NftExpr {
  return { kind: 'lookup', left, op: '==', set };
}

export function verdict(v: NftVerdict): NftExpr {
  return { kind: 'verdict', verdict: v };
}

export const accept = verdict({ kind: 'accept' });
export const drop = verdict({ kind: 'drop' });
export const ret = verdict({ kind: 'return' });
export const jump = (chain: string): NftExpr => verdict({ kind: 'jump', chain });
