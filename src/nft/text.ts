/**
 * Typed nft values → nft syntax, once, at the edge: a rule, a whole table
 * (for reading and golden files) and a transaction (for `nft -f -`). Pure
 * text; the runner executes it, the validator decides whether it is worth
 * executing, transactions.ts decides what a sync does.
 */
import type {
  NftBaseHook,
  NftChain,
  NftCounter,
  NftExpr,
  NftMap,
  NftMapElement,
  NftOp,
  NftRule,
  NftSet,
  NftTable,
  NftTableId,
  NftTransaction,
  NftVerdict,
} from './model.js';

/** nft refuses comments longer than this many bytes (UTF-8). */
export const COMMENT_MAX_BYTES = 128;
/** Elements per `add element`/`delete element` statement, to keep each statement well under 1 MB. */
export const ELEMENT_CHUNK = 4000;

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

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export function verdictText(v: NftVerdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.chain}` : v.kind;
}

function valuesText(values: readonly string[]): string {
  return values.length === 1 ? (values[0] as string) : `{ ${values.join(', ')} }`;
}

export function exprText(e: NftExpr): string {
  switch (e.kind) {
    case 'cmp':
      return `${e.left.join(' . ')} ${e.op === '!=' ? '!= ' : ''}${valuesText(e.values)}`;
    case 'lookup':
      return `${e.left.join(' . ')} ${e.op === '!=' ? '!= ' : ''}@${e.set}`;
    case 'bits':
      return `${e.left} & ${hex(e.mask)} ${e.op} ${hex(e.value)}`;
    case 'vmap':
      return `${e.left.join(' . ')} vmap @${e.map}`;
    case 'set-mark':
      return (
        `${e.target} set ${e.target}` +
        (e.and === undefined ? '' : ` & ${hex(e.and)}`) +
        (e.or === undefined ? '' : ` | ${hex(e.or)}`)
      );
    case 'counter':
      return e.name === undefined ? 'counter' : `counter name "${e.name}"`;
    case 'limit':
      return `limit rate ${e.rate}/${e.per} burst ${e.burst} packets`;
    case 'log':
      return (
        `log prefix "${e.prefix}" group ${e.group}` +
        (e.queueThreshold === undefined ? '' : ` queue-threshold ${e.queueThreshold}`)
      );
    case 'verdict':
      return verdictText(e.verdict);
  }
}

/** Rule texts, rendered once per rule object (a sync renders unchanged chains to the same objects). */
const ruleTexts = new WeakMap<NftRule, string>();

/** The rule in nft syntax, without its comment. */
export function ruleText(r: NftRule): string {
  let text = ruleTexts.get(r);
  if (text === undefined) ruleTexts.set(r, (text = r.exprs.map(exprText).join(' ')));
  return text;
}

const tableRef = (t: NftTableId) => `${t.family} ${t.name}`;

function byName<T extends { readonly name: string }>(m: ReadonlyMap<string, T>): T[] {
  return [...m.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function mapElementText(e: NftMapElement): string {
  return `${e.key} : ${verdictText(e.value)}`;
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

const setTypeText = (s: { readonly type: readonly string[] }) => s.type.join(' . ');
const mapTypeText = (m: { readonly key: readonly string[] }) => `${m.key.join(' . ')} : verdict`;

function setBlock(s: NftSet): string[] {
  const comment = commentSuffix(s.comment).trim();
  return [
    `\tset ${s.name} {`,
    `\t\ttype ${setTypeText(s)}`,
    ...(s.interval ? ['\t\tflags interval'] : []),
    ...(comment ? [`\t\t${comment}`] : []),
    ...elementsLines(s.elements),
    '\t}',
  ];
}

function mapBlock(m: NftMap): string[] {
  const comment = commentSuffix(m.comment).trim();
  return [
    `\tmap ${m.name} {`,
    `\t\ttype ${mapTypeText(m)}`,
    ...(comment ? [`\t\t${comment}`] : []),
    ...elementsLines(m.elements.map(mapElementText)),
    '\t}',
  ];
}

function chainBlock(c: NftChain): string[] {
  const comment = commentSuffix(c.comment).trim();
  return [
    `\tchain ${c.name} {`,
    ...(comment ? [`\t\t${comment}`] : []),
    ...(c.base ? [`\t\t${hookText(c.base)}`] : []),
    ...c.rules.map((r) => `\t\t${ruleText(r)}${commentSuffix(r.comment)}`),
    '\t}',
  ];
}

/** Regular chains by name, then base chains by name: the entry points read last. */
export function chainsInOrder(t: NftTable): NftChain[] {
  const all = byName(t.chains);
  return [...all.filter((c) => !c.base), ...all.filter((c) => c.base)];
}

function counterBlock(c: NftCounter): string[] {
  const comment = commentSuffix(c.comment).trim();
  return [`\tcounter ${c.name} {`, ...(comment ? [`\t\t${comment}`] : []), '\t}'];
}

export function countersOf(t: NftTable): NftCounter[] {
  return t.counters ? byName(t.counters) : [];
}

/** The whole table in nft syntax, deterministic: counters, sets, maps, then chains, each by name. */
export function tableText(t: NftTable): string {
  const blocks = [
    ...countersOf(t).map(counterBlock),
    ...byName(t.sets).map(setBlock),
    ...byName(t.maps).map(mapBlock),
    ...chainsInOrder(t).map(chainBlock),
  ];
  const body = blocks.map((b) => `${b.join('\n')}\n`).join('\n');
  return `table ${tableRef(t)} {\n${body}}\n`;
}

function declaration(body: readonly string[]): string {
  return body.length === 0 ? '' : ` { ${body.map((l) => `${l};`).join(' ')} }`;
}

/** Statements of one op, in nft syntax, without their newline (elements in chunks of ELEMENT_CHUNK). */
function opLines(table: string, o: Exclude<NftOp, { kind: 'table-contents' }>): string[] {
  const comment = (c: string) => {
    const s = commentSuffix(c).trim();
    return s ? [s] : [];
  };
  if (o.op === 'delete' && o.kind !== 'table' && o.kind !== 'elements')
    return [`delete ${o.kind} ${table} ${o.name}`];
  switch (o.kind) {
    case 'table':
      return [`${o.op} table ${table}`];
    case 'counter':
      return [`add counter ${table} ${o.counter.name}${declaration(comment(o.counter.comment))}`];
    case 'set':
      return [
        `add set ${table} ${o.set.name}${declaration([
          `type ${setTypeText(o.set)}`,
          ...(o.set.interval ? ['flags interval'] : []),
          ...comment(o.set.comment),
        ])}`,
      ];
    case 'map':
      return [
        `add map ${table} ${o.map.name}${declaration([`type ${mapTypeText(o.map)}`, ...comment(o.map.comment)])}`,
      ];
    case 'chain': {
      if (o.op === 'flush') return [`flush chain ${table} ${o.name}`];
      const c = o.chain;
      const hook = c.base ? [hookText(c.base).replace(/;$/, '')] : [];
      return [`add chain ${table} ${c.name}${declaration([...hook, ...comment(c.comment)])}`];
    }
    case 'rule':
      return [`add rule ${table} ${o.chain} ${ruleText(o.rule)}${commentSuffix(o.rule.comment)}`];
    case 'elements': {
      const items = o.elements.map((e) => (typeof e === 'string' ? e : mapElementText(e)));
      const out: string[] = [];
      for (let i = 0; i < items.length; i += ELEMENT_CHUNK)
        out.push(
          `${o.op} element ${table} ${o.set} { ${items.slice(i, i + ELEMENT_CHUNK).join(', ')} }`,
        );
      return out;
    }
  }
}

/** The transaction as one nft script ('' for no operations). */
export function transactionText(tx: NftTransaction): string {
  const table = tableRef(tx.table);
  // Appended piece by piece: a full table's block runs to megabytes, and is
  // never split into lines or copied again.
  let out = '';
  for (const o of tx.ops)
    if (o.kind === 'table-contents') out += tableText(o.table);
    else for (const line of opLines(table, o)) out += `${line}\n`;
  return out;
}
