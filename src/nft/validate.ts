/**
 * A strict check of an NftTable against what nft and the kernel would refuse,
 * run before anything touches the kernel: a table that passes here applies.
 * Every problem is a sentence naming the set, map, chain or rule at fault.
 */
import { ErrorCodes } from '../core/errors.js';
import {
  SELECTOR_TYPES,
  type NftChain,
  type NftDatatype,
  type NftExpr,
  type NftMap,
  type NftRule,
  type NftSet,
  type NftTable,
  type NftVerdict,
} from './model.js';
import { clampComment, COMMENT_MAX_BYTES, ruleText } from './text.js';
import { elementParts, parseLiteral, type LiteralValue } from './literals.js';
import { isIdentifier, nameProblems, priorityProblem } from './names.js';
import {
  hookProblems,
  numberMapTargets,
  placementProblems,
  setDeclProblems,
  statementProblems,
  updateProblems,
} from './statements.js';

/** Nested jumps from a base chain the kernel accepts (NFT_JUMP_STACK_SIZE 16; measured on 6.x). */
export const MAX_JUMP_DEPTH = 15;

/** A table that failed validateTable; nothing was sent to the kernel. */
export class NftValidationError extends Error {
  readonly code = ErrorCodes.NFT_INVALID;
  constructor(readonly problems: readonly string[]) {
    super(`invalid nftables table: ${problems.join('; ')}`);
    this.name = 'NftValidationError';
  }
}

function checkName(kind: string, key: string, name: string, problems: string[]): void {
  if (key !== name) problems.push(`${kind} ${name} is filed under the name ${key}`);
  problems.push(...nameProblems(kind, name));
}

function checkComment(what: string, comment: string, problems: string[]): void {
  if (clampComment(comment) === comment) return;
  const bytes = new TextEncoder().encode(comment).length;
  problems.push(
    bytes > COMMENT_MAX_BYTES
      ? `${what}: comment is ${bytes} bytes; nft allows ${COMMENT_MAX_BYTES} (use clampComment)`
      : `${what}: comment holds a quote or control character (use clampComment)`,
  );
}

/** An element or map key read against its key type. */
export interface ElementReading {
  /** What nft would refuse in it (empty: it is valid). */
  readonly problems: readonly string[];
  /** Its parts as nft lists them, joined by ` . `: equal texts, equal elements. */
  readonly text: string;
  /** What each part stands for (see Literal). */
  readonly values: readonly (LiteralValue | undefined)[];
}

/** Reads one element or map key of a set or map of `types` (with `flags interval` or not). */
export function readElement(
  types: readonly NftDatatype[],
  key: string,
  interval: boolean,
): ElementReading {
  const parts = elementParts(key);
  if (parts.length !== types.length)
    return {
      problems: [`element ${key} has ${parts.length} parts; type has ${types.length}`],
      text: key,
      values: [],
    };
  const problems: string[] = [];
  const texts: string[] = [];
  const values: (LiteralValue | undefined)[] = [];
  parts.forEach((part, i) => {
    const c = parseLiteral(types[i] as NftDatatype, part);
    if (c.problem !== undefined) {
      problems.push(c.problem);
      texts.push(part);
      values.push(undefined);
      return;
    }
    if (c.interval && !interval)
      problems.push(`element ${key} is a prefix or range; needs flags interval`);
    texts.push(c.text);
    values.push(c.value);
  });
  return { problems, text: texts.join(' . '), values };
}

const isAddress = (t: NftDatatype | undefined) => t === 'ipv4_addr' || t === 'ipv6_addr';

/** Checks keys against a key type; returns address ranges of single-field keys. */
function checkKeys(
  what: string,
  types: readonly NftDatatype[],
  keys: readonly string[],
  interval: boolean,
  problems: string[],
  duplicates: 'refuse' | 'allow' = 'refuse',
): { key: string; lo: bigint; hi: bigint }[] {
  const ranges: { key: string; lo: bigint; hi: bigint }[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key) && duplicates === 'refuse')
      problems.push(`${what}: duplicate element ${key}`);
    seen.add(key);
    const read = readElement(types, key, interval);
    for (const p of read.problems) problems.push(`${what}: ${p}`);
    const value = read.values[0];
    if (types.length === 1 && isAddress(types[0]) && value?.kind === 'range')
      ranges.push({ key, lo: value.lo, hi: value.hi });
  }
  return ranges;
}

function checkOverlaps(what: string, ranges: { key: string; lo: bigint; hi: bigint }[]) {
  const sorted = [...ranges].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const problems: string[] = [];
  let reach: (typeof sorted)[number] | undefined; // the element reaching highest so far
  for (const b of sorted) {
    if (reach && b.lo <= reach.hi && reach.key !== b.key)
      problems.push(
        `${what}: elements ${reach.key} and ${b.key} overlap (nft: conflicting intervals)`,
      );
    if (!reach || b.hi > reach.hi) reach = b;
  }
  return problems;
}

function checkSet(s: NftSet, problems: string[]): void {
  const what = `set ${s.name}`;
  if (s.type.length === 0) problems.push(`${what}: has no key type`);
  const ranges = checkKeys(what, s.type, s.elements, s.interval, problems);
  if (s.interval) problems.push(...checkOverlaps(what, ranges));
  for (const p of setDeclProblems(s)) problems.push(`${what}: ${p}`);
}

/** A verdict's target chain must exist and must not be a base chain. */
function targetProblem(
  target: string,
  chains: ReadonlyMap<string, { readonly base?: unknown }>,
): string | undefined {
  const c = chains.get(target);
  if (!c) return `jumps to missing chain ${target}`;
  if (c.base) return `jumps to base chain ${target} (kernel: not supported)`;
  return undefined;
}

function checkTarget(what: string, target: string, t: NftTable, problems: string[]): void {
  const p = targetProblem(target, t.chains);
  if (p !== undefined) problems.push(`${what}: ${p}`);
}

function checkMap(m: NftMap, t: NftTable, problems: string[]): void {
  const what = `map ${m.name}`;
  if (m.key.length === 0) problems.push(`${what}: has no key type`);
  checkKeys(
    what,
    m.key,
    m.elements.map((e) => e.key),
    false,
    problems,
  );
  for (const e of m.elements) checkVerdict(`${what} element ${e.key}`, e.value, t, problems);
}

function checkVerdict(what: string, v: NftVerdict, t: NftTable, problems: string[]): void {
  if (v.kind === 'jump' || v.kind === 'goto') checkTarget(what, v.chain, t, problems);
}

const sameTypes = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);
const typesText = (types: readonly string[]) => types.join(' . ');
const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
/** No quote and no control character: text nft takes inside a string as it is. */
const printable = (text: string) =>
  [...text].every((ch) => {
    const c = ch.charCodeAt(0);
    return ch !== '"' && c >= 0x20 && c !== 0x7f;
  });
const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/** Chains a rule jumps or goes to, sets it looks up and maps it dispatches by. */
export function ruleReferences(r: NftRule): { chains: string[]; sets: string[]; maps: string[] } {
  const chains: string[] = [];
  const sets: string[] = [];
  const maps: string[] = [];
  for (const e of r.exprs)
    if (e.kind === 'verdict' && (e.verdict.kind === 'jump' || e.verdict.kind === 'goto'))
      chains.push(e.verdict.chain);
    else if (e.kind === 'lookup' || e.kind === 'update') sets.push(e.set);
    else if (e.kind === 'vmap') maps.push(e.map);
    else if (e.kind === 'number-vmap') chains.push(...numberMapTargets(e));
  return { chains, sets, maps };
}

/** What one expression says on its own: problems that need no table. */
/** How strictly ruleProblems reads a rule (see exprProblems). */
export type RuleCheck = 'strict' | 'nft';

/**
 * What is wrong with one expression on its own. `strict`: also what nft
 * takes but weft never means (a comparison that can never match, a value
 * written twice, a mark statement that changes nothing); `nft`: only what
 * nft refuses.
 */
function exprProblems(e: NftExpr, family: NftTable['family'], mode: RuleCheck): string[] {
  const strict = mode === 'strict';
  const out: string[] = [];
  const selectors =
    'left' in e && typeof e.left !== 'string'
      ? e.left
      : e.kind === 'number-vmap' && e.source.kind === 'jhash'
        ? e.source.fields
        : [];
  for (const sel of selectors) {
    if (!(sel in SELECTOR_TYPES)) out.push(`unknown selector ${sel}`);
    else if (
      (family === 'ip' && sel.startsWith('ip6 ')) ||
      (family === 'ip6' && sel.startsWith('ip '))
    )
      out.push(`${sel} cannot match in a table of family ${family}`);
  }
  if ('left' in e && selectors.length === 0 && typeof e.left !== 'string')
    out.push(`${e.kind} has no selector`);
  switch (e.kind) {
    case 'cmp': {
      if (e.values.length === 0) out.push('cmp has no values');
      const types = e.left.map((x) => SELECTOR_TYPES[x]);
      const p: string[] = [];
      checkKeys('cmp', types, e.values, true, p, strict ? 'refuse' : 'allow');
      out.push(...p.map((x) => x.replace(/^cmp: /, '')));
      break;
    }
    case 'bits':
      if (!u32(e.mask) || !u32(e.value)) out.push('mask and value must be 32-bit unsigned');
      else if (strict && (e.value & ~e.mask) >>> 0 !== 0)
        out.push(`value ${hex(e.value)} has bits outside mask ${hex(e.mask)}: can never match`);
      break;
    case 'set-mark':
      if (strict && e.and === undefined && e.or === undefined) out.push('set-mark changes nothing');
      if ((e.and !== undefined && !u32(e.and)) || (e.or !== undefined && !u32(e.or)))
        out.push('set-mark bits must be 32-bit unsigned');
      break;
    case 'limit':
      if (!Number.isInteger(e.rate) || e.rate < 1)
        out.push(`limit rate ${e.rate} is not a positive integer`);
      // nft: "packet limit burst must be > 0".
      if (!Number.isInteger(e.burst) || e.burst < 1)
        out.push(`limit burst ${e.burst} is not a positive integer`);
      break;
    case 'log':
      if (new TextEncoder().encode(e.prefix).length > 127 || !printable(e.prefix))
        out.push('log prefix must be at most 127 bytes with no quote or control character');
      if (!Number.isInteger(e.group) || e.group < 0 || e.group > 65535)
        out.push(`log group ${e.group} is out of range 0-65535`);
      break;
    case 'counter':
      if (e.name !== undefined && !isIdentifier(e.name))
        out.push(`counter name ${JSON.stringify(e.name)} is not an identifier`);
      break;
    default:
      out.push(...statementProblems(e, family, strict));
      break;
  }
  return out;
}

/**
 * What nft would refuse in one rule on its own, before looking at the table:
 * its expressions' selectors and literals, and a verdict anywhere but last
 * (`nft`: only what nft refuses; see exprProblems). Its comment is not
 * checked: text.ts clamps it.
 */
export function ruleProblems(
  r: NftRule,
  family: NftTable['family'],
  mode: RuleCheck = 'strict',
): string[] {
  const out: string[] = [];
  if (r.exprs.length === 0) out.push('empty rule');
  r.exprs.forEach((e, j) => {
    out.push(...exprProblems(e, family, mode));
    const last = j === r.exprs.length - 1;
    if ((e.kind === 'verdict' || e.kind === 'vmap') && !last)
      out.push(`${e.kind === 'vmap' ? 'a verdict map' : 'a verdict'} must end the rule`);
  });
  out.push(...placementProblems(r, mode === 'strict'));
  return out;
}

/** Problems of one rule against the table it is in: its references and their types. */
function ruleTableProblems(r: NftRule, t: NftTable): string[] {
  const out: string[] = [];
  for (const e of r.exprs) {
    if (e.kind === 'lookup') {
      const s = t.sets.get(e.set);
      if (!s) out.push(`names missing set @${e.set}`);
      else {
        const want = e.left.map((x) => SELECTOR_TYPES[x]);
        if (!sameTypes(s.type, want))
          out.push(`looks up ${typesText(want)} in set @${e.set} of type ${typesText(s.type)}`);
      }
    } else if (e.kind === 'vmap') {
      const m = t.maps.get(e.map);
      if (!m) out.push(`names missing map @${e.map}`);
      else {
        const want = e.left.map((x) => SELECTOR_TYPES[x]);
        if (!sameTypes(m.key, want))
          out.push(`dispatches ${typesText(want)} by map @${e.map} keyed by ${typesText(m.key)}`);
      }
    } else if (e.kind === 'update') {
      const types = e.left.map((x) => SELECTOR_TYPES[x]);
      out.push(...updateProblems(e, t.sets.get(e.set), types));
    } else if (e.kind === 'counter' && e.name !== undefined && !t.counters?.has(e.name))
      out.push(`names missing counter ${e.name}`);
  }
  return out;
}

/** What a chain's rules say on their own, and what they refer to (checked against the table). */
interface ChainFacts {
  readonly problems: readonly string[];
  readonly rules: readonly {
    what: string;
    rule: NftRule;
    chains: string[];
    sets: string[];
    maps: string[];
  }[];
}

/**
 * Facts of chains and problems of sets, per object: a sync renders unchanged
 * policies to the same objects, so a big table is checked once and each
 * later sync checks only what is new.
 */
const chainFacts = new WeakMap<NftChain, ChainFacts>();
const setProblems = new WeakMap<NftSet, readonly string[]>();

function factsOf(c: NftChain, family: NftTable['family']): ChainFacts {
  let facts = chainFacts.get(c);
  if (facts) return facts;
  const problems: string[] = [];
  checkComment(`chain ${c.name}`, c.comment, problems);
  const priority = c.base && priorityProblem(c.base.hook, c.base.priority);
  if (priority) problems.push(`chain ${c.name}: ${priority}`);
  const rules = c.rules.map((r, i) => {
    const what = `chain ${c.name} rule ${i + 1} (${ruleText(r)})`;
    checkComment(what, r.comment, problems);
    for (const p of ruleProblems(r, family)) problems.push(`${what}: ${p}`);
    return { what, rule: r, ...ruleReferences(r) };
  });
  chainFacts.set(c, (facts = { problems, rules }));
  return facts;
}

function checkChain(c: NftChain, t: NftTable, problems: string[]): void {
  const facts = factsOf(c, t.family);
  problems.push(...facts.problems);
  for (const r of facts.rules) {
    for (const target of r.chains) checkTarget(r.what, target, t, problems);
    for (const p of ruleTableProblems(r.rule, t)) problems.push(`${r.what}: ${p}`);
  }
}

/** Chain → chains it can jump or go to, directly or through a verdict map it names. */
function jumpEdges(t: NftTable): Map<string, Set<string>> {
  const mapTargets = new Map<string, string[]>();
  for (const m of t.maps.values())
    mapTargets.set(
      m.name,
      m.elements.flatMap((e) =>
        e.value.kind === 'jump' || e.value.kind === 'goto' ? [e.value.chain] : [],
      ),
    );
  const edges = new Map<string, Set<string>>();
  for (const c of t.chains.values()) {
    const out = new Set<string>();
    for (const refs of factsOf(c, t.family).rules) {
      for (const target of refs.chains) out.add(target);
      for (const m of refs.maps) for (const target of mapTargets.get(m) ?? []) out.add(target);
    }
    edges.set(c.name, new Set([...out].filter((n) => t.chains.has(n))));
  }
  return edges;
}

/**
 * Jump loops (the kernel refuses them: ELOOP) and jumps nested deeper than
 * MAX_JUMP_DEPTH, among every chain, or (`from: 'base chains'`) only among
 * those a base chain reaches: the kernel checks just these, when a
 * transaction commits, so a loop that no base chain reaches, or one that
 * exists only midway through a transaction, passes there.
 */
export function jumpGraphProblems(
  t: NftTable,
  from: 'every chain' | 'base chains' = 'every chain',
): string[] {
  const problems: string[] = [];
  const edges = jumpEdges(t);
  const depth = new Map<string, number>(); // longest jump path below a chain, once known
  const onPath: string[] = [];
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const at = onPath.indexOf(name);
    if (at >= 0) {
      problems.push(`jump loop: ${[...onPath.slice(at), name].join(' → ')}`);
      return 0;
    }
    onPath.push(name);
    let d = 0;
    for (const next of [...(edges.get(name) ?? [])].sort()) d = Math.max(d, 1 + visit(next));
    onPath.pop();
    depth.set(name, d);
    return d;
  };
  const chains = [...t.chains.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const c of chains) if (from === 'every chain' || c.base) visit(c.name);
  for (const c of chains) {
    const d = depth.get(c.name) ?? 0;
    if (c.base && d > MAX_JUMP_DEPTH)
      problems.push(
        `base chain ${c.name} nests ${d} jumps deep; the kernel allows ${MAX_JUMP_DEPTH}`,
      );
  }
  return problems;
}

/** Problems nft or the kernel would reject the table for; empty when it applies. */
export function validateTable(t: NftTable): string[] {
  const problems: string[] = [];
  for (const [key, s] of t.sets) {
    checkName('set', key, s.name, problems);
    if (t.maps.has(s.name)) problems.push(`set ${s.name} has the name of a map`);
    let own = setProblems.get(s);
    if (!own) {
      const found: string[] = [];
      checkComment(`set ${s.name}`, s.comment, found);
      checkSet(s, found);
      setProblems.set(s, (own = found));
    }
    problems.push(...own);
  }
  for (const [key, m] of t.maps) {
    checkName('map', key, m.name, problems);
    checkComment(`map ${m.name}`, m.comment, problems);
    checkMap(m, t, problems);
  }
  for (const [key, c] of t.chains) {
    checkName('chain', key, c.name, problems);
    checkChain(c, t, problems);
  }
  problems.push(...jumpGraphProblems(t));
  problems.push(...hookProblems(t));
  return problems;
}
