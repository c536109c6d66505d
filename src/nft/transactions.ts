/**
 * What a sync sends: the transaction that replaces a table whole, and the
 * one that turns exactly what the kernel holds into the next table, touching
 * only what changed. Typed operations; text.ts renders them.
 */
import type {
  NftBaseHook,
  NftChain,
  NftMap,
  NftMapElement,
  NftOp,
  NftSet,
  NftTable,
  NftTransaction,
} from './model.js';
import {
  chainsInOrder,
  clampComment,
  countersOf,
  ELEMENT_CHUNK,
  ruleText,
  verdictText,
} from './text.js';

function byName<T extends { readonly name: string }>(m: ReadonlyMap<string, T>): T[] {
  return [...m.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const tableId = (t: NftTable) => ({ family: t.family, name: t.name });

/**
 * Replaces the table, whatever was there, in one atomic step: `add table`
 * (so the delete cannot fail on a fresh machine), `delete table`, then the
 * whole table. The old rules enforce until the new ones do. Elements past
 * the first chunk of a set or map follow as added elements.
 */
export function fullTransaction(t: NftTable): NftTransaction {
  const firstChunk = <T extends NftSet | NftMap>(x: T): T =>
    x.elements.length <= ELEMENT_CHUNK ? x : { ...x, elements: x.elements.slice(0, ELEMENT_CHUNK) };
  const contents: NftTable = {
    ...t,
    sets: new Map(byName(t.sets).map((s) => [s.name, firstChunk(s)])),
    maps: new Map(byName(t.maps).map((m) => [m.name, firstChunk(m)])),
  };
  const rest: NftOp[] = [...byName(t.sets), ...byName(t.maps)]
    .filter((x) => x.elements.length > ELEMENT_CHUNK)
    .map((x) => ({
      op: 'add',
      kind: 'elements',
      set: x.name,
      elements: x.elements.slice(ELEMENT_CHUNK) as readonly string[] | readonly NftMapElement[],
    }));
  return {
    table: tableId(t),
    ops: [
      { op: 'add', kind: 'table' },
      { op: 'delete', kind: 'table' },
      { op: 'add', kind: 'table-contents', table: contents },
      ...rest,
    ],
  };
}

function sameBase(a: NftBaseHook | undefined, b: NftBaseHook | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.type === b.type && a.hook === b.hook && a.priority === b.priority && a.policy === b.policy
  );
}

const sameType = (a: readonly string[], b: readonly string[]) =>
  a === b || (a.length === b.length && a.every((x, i) => x === b[i]));

/**
 * Whether `prev` can become `next` in place. A set's type, flags, size or
 * timeout, a map's
 * type, a chain's hook or policy, and any comment of a set, map or chain are
 * fixed once created (nft silently ignores a new comment on `add chain` or
 * `add set`), so a change there needs a full sync; so does a name that moves
 * between a set and a map.
 */
function updatableInPlace(prev: NftTable, next: NftTable): boolean {
  if (prev.family !== next.family || prev.name !== next.name) return false;
  const sameComment = (a: string, b: string) => a === b || clampComment(a) === clampComment(b);
  // Sets and maps share one namespace in the kernel: a name cannot move from one to the other.
  for (const name of next.sets.keys()) if (prev.maps.has(name)) return false;
  for (const name of next.maps.keys()) if (prev.sets.has(name)) return false;
  // A counter goes with the rules that name it: the whole table is replaced.
  for (const c of countersOf(prev)) if (!next.counters?.has(c.name)) return false;
  for (const s of next.sets.values()) {
    const p = prev.sets.get(s.name);
    if (p === s) continue;
    if (
      p &&
      (!sameType(p.type, s.type) ||
        p.interval !== s.interval ||
        p.dynamic !== s.dynamic ||
        p.size !== s.size ||
        p.timeout !== s.timeout ||
        !sameComment(p.comment, s.comment))
    )
      return false;
  }
  for (const m of next.maps.values()) {
    const p = prev.maps.get(m.name);
    if (p && (!sameType(p.key, m.key) || !sameComment(p.comment, m.comment))) return false;
  }
  for (const c of next.chains.values()) {
    const p = prev.chains.get(c.name);
    if (p === c) continue;
    if (p && (!sameBase(p.base, c.base) || !sameComment(p.comment, c.comment))) return false;
  }
  return true;
}

/** Equal rules: the same expressions (compared as nft reads them) and comment. */
function sameRules(a: NftChain, b: NftChain): boolean {
  return (
    a.rules === b.rules ||
    (a.rules.length === b.rules.length &&
      a.rules.every((r, i) => {
        const o = b.rules[i];
        return (
          o !== undefined && (r === o || (r.comment === o.comment && ruleText(r) === ruleText(o)))
        );
      }))
  );
}

/** Elements of `next` not in `prev` (added) and of `prev` not in `next` (removed). */
function setDelta(prev: readonly string[], next: readonly string[]) {
  if (prev === next) return { added: [], removed: [] };
  const p = new Set(prev);
  const n = new Set(next);
  return { added: next.filter((e) => !p.has(e)), removed: prev.filter((e) => !n.has(e)) };
}

/** Keys to delete (gone or revalued) and elements to add (new or revalued). */
function mapDelta(prev: readonly NftMapElement[], next: readonly NftMapElement[]) {
  if (prev === next) return { added: [], removed: [] };
  const p = new Map(prev.map((e) => [e.key, verdictText(e.value)]));
  const n = new Map(next.map((e) => [e.key, verdictText(e.value)]));
  return {
    added: next.filter((e) => p.get(e.key) !== verdictText(e.value)),
    removed: prev.filter((e) => n.get(e.key) !== verdictText(e.value)).map((e) => e.key),
  };
}

/**
 * The transaction that turns exactly `prev` (what the kernel holds) into
 * `next`, touching only what changed; no operations when nothing did,
 * undefined when only a full sync can do it (see updatableInPlace).
 * Everything that removes runs before anything that adds, so no
 * intermediate state holds a jump loop or a conflicting interval: declare
 * new sets, maps and chains; delete elements; flush changed and removed
 * chains; add elements; add rules; delete removed maps, then chains (now
 * unreferenced), then sets. With `ignoreChain`, a change to that chain's
 * rules alone counts as no change.
 */
export function partialTransaction(
  prev: NftTable,
  next: NftTable,
  ignoreChain?: string,
): NftTransaction | undefined {
  if (!updatableInPlace(prev, next)) return undefined;
  const nextSets = byName(next.sets);
  const nextMaps = byName(next.maps);
  const nextChains = chainsInOrder(next);
  const newSets = nextSets.filter((s) => !prev.sets.has(s.name));
  const newMaps = nextMaps.filter((m) => !prev.maps.has(m.name));
  const newChains = nextChains.filter((c) => !prev.chains.has(c.name));
  const changedChains = nextChains.filter((c) => {
    const p = prev.chains.get(c.name);
    return p !== undefined && p !== c && !sameRules(p, c);
  });
  const goneChains = chainsInOrder(prev).filter((c) => !next.chains.has(c.name));
  const sets = nextSets.map((s) => ({
    name: s.name,
    ...setDelta(prev.sets.get(s.name)?.elements ?? [], s.elements),
  }));
  const maps = nextMaps.map((m) => ({
    name: m.name,
    ...mapDelta(prev.maps.get(m.name)?.elements ?? [], m.elements),
  }));
  const elements = [...sets, ...maps];
  const table = tableId(next);
  const onlyIgnored =
    ignoreChain !== undefined &&
    changedChains.every((c) => c.name === ignoreChain) &&
    newSets.length + newMaps.length + newChains.length + goneChains.length === 0 &&
    countersOf(next).every((c) => prev.counters?.has(c.name)) &&
    elements.every((d) => d.added.length + d.removed.length === 0) &&
    [...prev.sets.keys()].every((n) => next.sets.has(n)) &&
    [...prev.maps.keys()].every((n) => next.maps.has(n));
  if (onlyIgnored) return { table, ops: [] };
  const ops: NftOp[] = [
    ...countersOf(next)
      .filter((c) => !prev.counters?.has(c.name))
      .map((counter): NftOp => ({ op: 'add', kind: 'counter', counter })),
    ...newSets.map(({ elements: _, ...set }): NftOp => ({ op: 'add', kind: 'set', set })),
    ...newMaps.map(({ elements: _, ...map }): NftOp => ({ op: 'add', kind: 'map', map })),
    ...newChains.map(({ rules: _, ...chain }): NftOp => ({ op: 'add', kind: 'chain', chain })),
    ...elements
      .filter((d) => d.removed.length > 0)
      .map((d): NftOp => ({ op: 'delete', kind: 'elements', set: d.name, elements: d.removed })),
    ...[...changedChains, ...goneChains].map((c): NftOp => ({
      op: 'flush',
      kind: 'chain',
      name: c.name,
    })),
    ...elements
      .filter((d) => d.added.length > 0)
      .map((d): NftOp => ({
        op: 'add',
        kind: 'elements',
        set: d.name,
        elements: d.added as readonly string[] | readonly NftMapElement[],
      })),
    ...[...changedChains, ...newChains].flatMap((c) =>
      c.rules.map((rule): NftOp => ({ op: 'add', kind: 'rule', chain: c.name, rule })),
    ),
    ...byName(prev.maps)
      .filter((m) => !next.maps.has(m.name))
      .map((m): NftOp => ({ op: 'delete', kind: 'map', name: m.name })),
    ...goneChains.map((c): NftOp => ({ op: 'delete', kind: 'chain', name: c.name })),
    ...byName(prev.sets)
      .filter((s) => !next.sets.has(s.name))
      .map((s): NftOp => ({ op: 'delete', kind: 'set', name: s.name })),
  ];
  return { table, ops };
}
