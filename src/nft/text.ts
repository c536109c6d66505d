/**
 * NftTable → nft syntax: the whole table (for reading and for a full sync)
 * and the transactions the sync applies with one `nft -f -`. Pure text; the
 * runner executes it, the validator decides whether it is worth executing.
 */
import type {
  NftBaseHook,
  NftChain,
  NftCounter,
  NftMap,
  NftMapElement,
  NftSet,
  NftTable,
} from './model.js';
import { TABLE_FAMILY, TABLE_NAME } from './model.js';

/** nft refuses comments longer than this many bytes (UTF-8). */
export const COMMENT_MAX_BYTES = 128;
/** Elements per `add element`/`delete element` statement, to keep each statement well under 1 MB. */
export const ELEMENT_CHUNK = 4000;

const TABLE = `${TABLE_FAMILY} ${TABLE_NAME}`;
const ELLIPSIS = '…';
/** Elements stay on the `elements = { … }` line while it fits in this many characters. */
const ONE_LINE_ELEMENTS = 100;

function utf8Bytes(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

/**
 * A comment nft always accepts: `"` becomes `'` (nft strings have no
 * escapes), control characters (newlines, tabs) become spaces, a lone UTF-16
 * surrogate becomes U+FFFD, and the result is cut on a character boundary to
 * at most 128 UTF-8 bytes, ending with `…` when cut. Idempotent.
 */
export function clampComment(s: string): string {
  const chars: string[] = [];
  let bytes = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    const clean =
      ch === '"'
        ? "'"
        : cp < 0x20 || cp === 0x7f
          ? ' '
          : cp >= 0xd800 && cp <= 0xdfff
            ? '\uFFFD'
            : ch;
    chars.push(clean);
    bytes += utf8Bytes(clean.codePointAt(0) ?? 0);
  }
  if (bytes <= COMMENT_MAX_BYTES) return chars.join('');
  const budget = COMMENT_MAX_BYTES - utf8Bytes(ELLIPSIS.codePointAt(0) ?? 0);
  let kept = '';
  let used = 0;
  for (const ch of chars) {
    const n = utf8Bytes(ch.codePointAt(0) ?? 0);
    if (used + n > budget) break;
    kept += ch;
    used += n;
  }
  return kept + ELLIPSIS;
}

/** ` comment "…"`, or nothing for an empty comment. */
function commentSuffix(comment: string): string {
  const c = clampComment(comment);
  return c === '' ? '' : ` comment "${c}"`;
}

function byName<T extends { readonly name: string }>(m: ReadonlyMap<string, T>): T[] {
  return [...m.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function mapElementText(e: NftMapElement): string {
  return `${e.key} : ${e.value}`;
}

function elementsLines(items: readonly string[]): string[] {
  if (items.length === 0) return [];
  const oneLine = `\t\telements = { ${items.join(', ')} }`;
  if (oneLine.length <= ONE_LINE_ELEMENTS) return [oneLine];
  return [
    '\t\telements = {',
    ...items.map((e, i) => `\t\t\t${e}${i < items.length - 1 ? ',' : ''}`),
    '\t\t}',
  ];
}

function hookText(b: NftBaseHook): string {
  return `type ${b.type} hook ${b.hook} priority ${b.priority}; policy ${b.policy};`;
}

function setBlock(s: NftSet, limit: number): string[] {
  const comment = commentSuffix(s.comment).trim();
  return [
    `\tset ${s.name} {`,
    `\t\ttype ${s.type}`,
    ...(s.interval ? ['\t\tflags interval'] : []),
    ...(comment ? [`\t\t${comment}`] : []),
    ...elementsLines(s.elements.slice(0, limit)),
    '\t}',
  ];
}

function mapBlock(m: NftMap, limit: number): string[] {
  const comment = commentSuffix(m.comment).trim();
  return [
    `\tmap ${m.name} {`,
    `\t\ttype ${m.type}`,
    ...(comment ? [`\t\t${comment}`] : []),
    ...elementsLines(m.elements.slice(0, limit).map(mapElementText)),
    '\t}',
  ];
}

function chainBlock(c: NftChain): string[] {
  const comment = commentSuffix(c.comment).trim();
  return [
    `\tchain ${c.name} {`,
    ...(comment ? [`\t\t${comment}`] : []),
    ...(c.base ? [`\t\t${hookText(c.base)}`] : []),
    ...c.rules.map((r) => `\t\t${r.text}${commentSuffix(r.comment)}`),
    '\t}',
  ];
}

/** Regular chains by name, then base chains by name: the entry points read last. */
function chainsInOrder(t: NftTable): NftChain[] {
  const all = byName(t.chains);
  return [...all.filter((c) => !c.base), ...all.filter((c) => c.base)];
}

function counterBlock(c: NftCounter): string[] {
  const comment = commentSuffix(c.comment).trim();
  return [`\tcounter ${c.name} {`, ...(comment ? [`\t\t${comment}`] : []), '\t}'];
}

function counters(t: NftTable): NftCounter[] {
  return t.counters ? byName(t.counters) : [];
}

function renderTable(t: NftTable, limit: number): string {
  const blocks = [
    ...counters(t).map(counterBlock),
    ...byName(t.sets).map((s) => setBlock(s, limit)),
    ...byName(t.maps).map((m) => mapBlock(m, limit)),
    ...chainsInOrder(t).map(chainBlock),
  ];
  const body = blocks.map((b) => `${b.join('\n')}\n`).join('\n');
  return `table ${TABLE} {\n${body}}\n`;
}

/** The whole table in nft syntax, deterministic: sets, maps, then chains, each by name. */
export function tableText(t: NftTable): string {
  return renderTable(t, Infinity);
}

function chunked(verb: 'add' | 'delete', name: string, items: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < items.length; i += ELEMENT_CHUNK) {
    const part = items.slice(i, i + ELEMENT_CHUNK);
    out.push(`${verb} element ${TABLE} ${name} { ${part.join(', ')} }`);
  }
  return out;
}

function script(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/**
 * One script that replaces weft's table, whatever was there, in one atomic
 * step: `add table` (so the delete cannot fail on a fresh machine), `delete
 * table`, then the whole table. The old rules enforce until the new ones do.
 * Elements past the first chunk of a set or map follow as `add element`s.
 */
export function fullTransaction(t: NftTable): string {
  const rest = [
    ...byName(t.sets).flatMap((s) => chunked('add', s.name, s.elements.slice(ELEMENT_CHUNK))),
    ...byName(t.maps).flatMap((m) =>
      chunked('add', m.name, m.elements.slice(ELEMENT_CHUNK).map(mapElementText)),
    ),
  ];
  return `add table ${TABLE}\ndelete table ${TABLE}\n${renderTable(t, ELEMENT_CHUNK)}${script(rest)}`;
}

function sameBase(a: NftBaseHook | undefined, b: NftBaseHook | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.type === b.type && a.hook === b.hook && a.priority === b.priority && a.policy === b.policy
  );
}

/**
 * Whether `prev` can become `next` in place. A set's type or flags, a map's
 * type, a chain's hook or policy, and any comment of a set, map or chain are
 * fixed once created (nft silently ignores a new comment on `add chain` or
 * `add set`), so a change there needs a full sync; so does a name that moves
 * between a set and a map.
 */
function updatableInPlace(prev: NftTable, next: NftTable): boolean {
  const sameComment = (a: string, b: string) => a === b || clampComment(a) === clampComment(b);
  // Sets and maps share one namespace in the kernel: a name cannot move from one to the other.
  for (const name of next.sets.keys()) if (prev.maps.has(name)) return false;
  for (const name of next.maps.keys()) if (prev.sets.has(name)) return false;
  // A counter goes with the rules that name it: the whole table is replaced.
  for (const c of counters(prev)) if (!next.counters?.has(c.name)) return false;
  for (const s of next.sets.values()) {
    const p = prev.sets.get(s.name);
    if (p === s) continue;
    if (p && (p.type !== s.type || p.interval !== s.interval || !sameComment(p.comment, s.comment)))
      return false;
  }
  for (const m of next.maps.values()) {
    const p = prev.maps.get(m.name);
    if (p && (p.type !== m.type || !sameComment(p.comment, m.comment))) return false;
  }
  for (const c of next.chains.values()) {
    const p = prev.chains.get(c.name);
    if (p === c) continue;
    if (p && (!sameBase(p.base, c.base) || !sameComment(p.comment, c.comment))) return false;
  }
  return true;
}

function sameRules(a: NftChain, b: NftChain): boolean {
  return (
    a.rules === b.rules ||
    (a.rules.length === b.rules.length &&
      a.rules.every((r, i) => r.text === b.rules[i]?.text && r.comment === b.rules[i]?.comment))
  );
}

function declaration(body: readonly string[]): string {
  return body.length === 0 ? '' : ` { ${body.map((l) => `${l};`).join(' ')} }`;
}

function addSetLine(s: NftSet): string {
  const body = [`type ${s.type}`, ...(s.interval ? ['flags interval'] : [])];
  const comment = commentSuffix(s.comment).trim();
  return `add set ${TABLE} ${s.name}${declaration(comment ? [...body, comment] : body)}`;
}

function addMapLine(m: NftMap): string {
  const comment = commentSuffix(m.comment).trim();
  return `add map ${TABLE} ${m.name}${declaration([`type ${m.type}`, ...(comment ? [comment] : [])])}`;
}

function addChainLine(c: NftChain): string {
  const comment = commentSuffix(c.comment).trim();
  const hook = c.base ? [hookText(c.base).replace(/;$/, '')] : [];
  return `add chain ${TABLE} ${c.name}${declaration([...hook, ...(comment ? [comment] : [])])}`;
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
  const p = new Map(prev.map((e) => [e.key, e.value]));
  const n = new Map(next.map((e) => [e.key, e.value]));
  return {
    added: next.filter((e) => p.get(e.key) !== e.value).map(mapElementText),
    removed: prev.filter((e) => n.get(e.key) !== e.value).map((e) => e.key),
  };
}

/**
 * One script that turns exactly `prev` (what the kernel holds) into `next`,
 * touching only what changed; '' when nothing did, undefined when only a full
 * sync can do it (see updatableInPlace). Everything that removes runs before
 * anything that adds, so no intermediate state holds a jump loop or a
 * conflicting interval: declare new sets, maps and chains; delete elements;
 * flush changed and removed chains; add elements; add rules; delete removed
 * maps, then chains (now unreferenced), then sets. With `ignoreChain`, a
 * change to that chain's rules alone counts as no change ('').
 */
export function partialTransaction(
  prev: NftTable,
  next: NftTable,
  ignoreChain?: string,
): string | undefined {
  if (!updatableInPlace(prev, next)) return undefined;
  const nextSets = byName(next.sets);
  const nextChains = chainsInOrder(next);
  const newSets = nextSets.filter((s) => !prev.sets.has(s.name));
  const newMaps = byName(next.maps).filter((m) => !prev.maps.has(m.name));
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
  const maps = byName(next.maps).map((m) => ({
    name: m.name,
    ...mapDelta(prev.maps.get(m.name)?.elements ?? [], m.elements),
  }));
  const elements = [...sets, ...maps];
  const onlyIgnored =
    ignoreChain !== undefined &&
    changedChains.every((c) => c.name === ignoreChain) &&
    newSets.length + newMaps.length + newChains.length + goneChains.length === 0 &&
    counters(next).every((c) => prev.counters?.has(c.name)) &&
    elements.every((d) => d.added.length + d.removed.length === 0) &&
    [...prev.sets.keys()].every((n) => next.sets.has(n)) &&
    [...prev.maps.keys()].every((n) => next.maps.has(n));
  if (onlyIgnored) return '';
  const chainName = (c: NftChain) => `${TABLE} ${c.name}`;
  return script([
    ...counters(next)
      .filter((c) => !prev.counters?.has(c.name))
      .map(
        (c) => `add counter ${TABLE} ${c.name}${declaration([commentSuffix(c.comment).trim()])}`,
      ),
    ...newSets.map(addSetLine),
    ...newMaps.map(addMapLine),
    ...newChains.map(addChainLine),
    ...elements.flatMap((d) => chunked('delete', d.name, d.removed)),
    ...[...changedChains, ...goneChains].map((c) => `flush chain ${chainName(c)}`),
    ...elements.flatMap((d) => chunked('add', d.name, d.added)),
    ...[...changedChains, ...newChains].flatMap((c) =>
      c.rules.map((r) => `add rule ${chainName(c)} ${r.text}${commentSuffix(r.comment)}`),
    ),
    ...byName(prev.maps)
      .filter((m) => !next.maps.has(m.name))
      .map((m) => `delete map ${TABLE} ${m.name}`),
    ...goneChains.map((c) => `delete chain ${chainName(c)}`),
    ...byName(prev.sets)
      .filter((s) => !next.sets.has(s.name))
      .map((s) => `delete set ${TABLE} ${s.name}`),
  ]);
}
