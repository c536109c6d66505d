import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../testing/random-cluster.js';
import { walkAgain, type Walked } from './walk.js';

interface Item {
  readonly name: string;
  readonly value: number;
}

test('walkAgain: every answer is the one for that very item, after random edits', () => {
  const r = new Rng(11);
  let serial = 0;
  const fresh = (): Item => ({ name: `i${serial}`, value: serial++ % 7 });
  // The answer for an item: its value when odd, nothing when even.
  const expected = (it: Item) => (it.value % 2 === 1 ? it.value : undefined);
  let items: Item[] = Array.from({ length: 50 }, fresh);
  let last: Walked<Item, number> | undefined;
  let singleEdits = 0;
  let reversed = false;
  for (let step = 0; step < 300; step++) {
    const checked: Item[] = [];
    const walked = walkAgain(items, last, (it) => {
      checked.push(it);
      return expected(it);
    });
    assert.deepEqual(walked.answers, items.map(expected), `step ${step}`);
    const changed = items.filter((it) => !(last?.items ?? []).includes(it));
    // After one insertion, removal or replacement, only a new item is checked.
    if (last && !reversed) {
      singleEdits++;
      assert.deepEqual(checked, changed, `step ${step}: only the new item is checked`);
    }
    last = walked;
    const next = [...items];
    const at = r.int(next.length + 1);
    const kind = r.int(5);
    reversed = kind === 3;
    if (kind === 0) next.splice(at, 0, fresh());
    else if (kind === 1 && next.length > 0) next.splice(Math.min(at, next.length - 1), 1);
    else if (kind === 2 && next.length > 0) next[Math.min(at, next.length - 1)] = fresh();
    else if (kind === 3) next.reverse();
    // kind 4: no change
    items = next;
  }
  assert.ok(singleEdits > 100, `single edits: ${singleEdits}`);
});
