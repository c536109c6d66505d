/**
 * What one table may cost the kernel. The kernel finds a set by name with a
 * linear walk, so a transaction that creates very many sets takes time that
 * grows with their square, and every other nft command in the namespace waits
 * behind it. A table past the budget is refused before anything is sent: the
 * kernel keeps enforcing the rules it has, and the error names the counts,
 * the limits and the chains and sets that cost the most.
 */
import type { NftTable } from './model.js';
import { ErrorCodes } from '../core/errors.js';

export interface TableBudget {
  readonly sets: number;
  readonly rules: number;
  readonly elements: number;
  /** The transaction script, in bytes. */
  readonly scriptBytes: number;
}

export const DEFAULT_BUDGET: TableBudget = {
  sets: 20_000,
  rules: 200_000,
  elements: 2_000_000,
  scriptBytes: 64 * 1024 * 1024,
};

export class NftBudgetError extends Error {
  readonly code = ErrorCodes.NFT_BUDGET;
  constructor(readonly problems: readonly string[]) {
    super(`the policy set is too large for one nftables transaction: ${problems.join('; ')}`);
    this.name = 'NftBudgetError';
  }
}

const n = (x: number) => x.toLocaleString('en-US');

/** The largest `count` entries of `[comment, size]`, as text. */
function largest(entries: [string, number][], count: number, unit: string): string {
  return entries
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([what, size]) => `${what} (${n(size)} ${unit})`)
    .join(', ');
}

/** Why `table` (and its script of `scriptBytes`) is over `budget`; empty when it is not. */
export function budgetProblems(
  table: NftTable,
  scriptBytes: number,
  budget: TableBudget = DEFAULT_BUDGET,
): string[] {
  const problems: string[] = [];
  const sets = table.sets.size + table.maps.size;
  let rules = 0;
  let elements = 0;
  for (const c of table.chains.values()) rules += c.rules.length;
  for (const s of table.sets.values()) elements += s.elements.length;
  for (const m of table.maps.values()) elements += m.elements.length;
  if (sets > budget.sets) {
    // The breakdowns are built only for a table over budget: every sync checks it.
    const bySets = new Map<string, number>();
    for (const s of table.sets.values()) bySets.set(s.comment, (bySets.get(s.comment) ?? 0) + 1);
    problems.push(
      `${n(sets)} sets (at most ${n(budget.sets)}); most from: ${largest([...bySets], 3, 'sets')}`,
    );
  }
  const byRules = (): [string, number][] =>
    [...table.chains.values()].map((c) => [c.comment, c.rules.length]);
  if (rules > budget.rules)
    problems.push(
      `${n(rules)} rules (at most ${n(budget.rules)}); most in: ${largest(byRules(), 3, 'rules')}`,
    );
  if (elements > budget.elements) {
    const byElements: [string, number][] = [...table.sets.values()].map((s) => [
      s.comment,
      s.elements.length,
    ]);
    problems.push(
      `${n(elements)} set elements (at most ${n(budget.elements)}); most in: ${largest(byElements, 3, 'elements')}`,
    );
  }
  if (scriptBytes > budget.scriptBytes)
    problems.push(
      `a ${(scriptBytes / (1 << 20)).toFixed(1)} MiB script (at most ${budget.scriptBytes / (1 << 20)} MiB)`,
    );
  return problems;
}
