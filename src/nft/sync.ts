/**
 * Keeps one component's table in the kernel equal to its latest NftTable
 * (each component has its own TableSync and its own table, so one
 * component's sync never rewrites another's). The first
 * apply (agent start) is a full sync that atomically replaces whatever an
 * earlier agent left, so the old rules enforce until the new ones do; later
 * applies are partial (set elements, single chains), each one atomic. Any
 * failure makes the next apply full again.
 */
import { performance } from 'node:perf_hooks';
import type { NftTable } from './model.js';
import type { NftRunner } from './runner.js';
import { transactionText } from './text.js';
import { fullTransaction, partialTransaction } from './transactions.js';
import { NftValidationError, validateTable } from './validate.js';
import { budgetProblems, DEFAULT_BUDGET, NftBudgetError, type TableBudget } from './budget.js';

export interface SyncResult {
  readonly kind: 'full' | 'partial' | 'noop';
  /** Time spent building and applying the transaction. */
  readonly ms: number;
  /** Size of the script given to nft (0 for a noop). */
  readonly bytes: number;
}

export class TableSync {
  /** What the kernel holds, as far as we know: the last table applied successfully. */
  private applied: NftTable | undefined;
  private dirty = true;
  /** Applies run one after another, never interleaved. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly runner: NftRunner,
    private readonly validate = true,
    private readonly budget: TableBudget = DEFAULT_BUDGET,
  ) {}

  /** Makes the next apply a full sync (e.g. after something else may have changed the table). */
  markDirty(): void {
    this.dirty = true;
  }

  /**
   * Makes the kernel hold `next`. Throws NftValidationError (before touching
   * the kernel) when `next` is invalid, NftError when nft refuses it. With
   * `unlessOnly`, a table that differs from the kernel's only in that chain's
   * rules is not applied (a noop; the kernel keeps its version).
   */
  apply(next: NftTable, unlessOnly?: string): Promise<SyncResult> {
    const result = this.queue.then(() => this.applyNow(next, unlessOnly));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private withinBudget(problems: string[]): void {
    if (problems.length === 0) return;
    this.dirty = true;
    throw new NftBudgetError(problems);
  }

  private async applyNow(next: NftTable, unlessOnly?: string): Promise<SyncResult> {
    const start = performance.now();
    if (this.validate) {
      const problems = validateTable(next);
      if (problems.length > 0) throw new NftValidationError(problems);
    }
    const partial =
      this.dirty || this.applied === undefined
        ? undefined
        : partialTransaction(this.applied, next, unlessOnly);
    if (partial?.ops.length === 0) {
      // With unlessOnly, the kernel may hold another version of that chain: keep knowing it.
      if (unlessOnly === undefined) this.applied = next;
      return { kind: 'noop', ms: performance.now() - start, bytes: 0 };
    }
    const kind = partial === undefined ? 'full' : 'partial';
    // Over budget: refused before the kernel sees it, which keeps its rules.
    this.withinBudget(budgetProblems(next, 0, this.budget));
    const tx = partial ?? fullTransaction(next);
    const script = transactionText(tx);
    this.withinBudget(budgetProblems(next, Buffer.byteLength(script), this.budget));
    try {
      await this.runner.apply(tx, script);
    } catch (e) {
      this.dirty = true;
      throw e;
    }
    this.applied = next;
    this.dirty = false;
    return { kind, ms: performance.now() - start, bytes: Buffer.byteLength(script) };
  }
}
