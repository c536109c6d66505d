/**
 * One pass over a list that is mostly the list of the last pass: an item
 * that is the same object as there keeps the answer it had, and only the
 * others are checked again. Going along both lists side by side finds the
 * unchanged items when a few were replaced, added or removed; whatever the
 * change, an item not found there is checked, never given another's answer.
 */
export interface Walked<T, A> {
  readonly items: readonly T[];
  /** Per item, what `check` said of it (undefined: nothing). */
  readonly answers: readonly (A | undefined)[];
}

export function walkAgain<T, A>(
  items: readonly T[],
  last: Walked<T, A> | undefined,
  check: (item: T) => A | undefined,
): Walked<T, A> {
  const before = last?.items ?? [];
  const answers = new Array<A | undefined>(items.length);
  let i = 0;
  for (let j = 0; j < items.length; j++) {
    const item = items[j] as T;
    if (before[i] !== item && i + 1 < before.length && before[i + 1] === item) i++; // before[i] went
    if (i < before.length && before[i] === item) {
      answers[j] = last?.answers[i];
      i++;
      continue;
    }
    answers[j] = check(item);
    // Replaced in place (before[i] is gone) unless `item` was inserted before it.
    if (j + 1 >= items.length || before[i] !== items[j + 1]) i++;
  }
  return { items, answers };
}
