/**
 * One table as a transaction changes it in the fake (fake.ts): each
 * operation applied in order, with the checks nft and the kernel make at
 * that point; a Refusal carries nft's words. Objects the transaction does
 * not touch stay the committed ones, so a transaction costs what it changes.
 */
import type {
  NftBaseHook,
  NftChain,
  NftChainDecl,
  NftCounter,
  NftDatatype,
  NftMap,
  NftMapDecl,
  NftMapElement,
  NftRule,
  NftSelector,
  NftSet,
  NftSetDecl,
  NftTable,
  NftTableId,
  NftVerdict,
} from './model.js';
import { ErrorCodes } from '../core/errors.js';
import { SELECTOR_TYPES } from './model.js';
import type { LiteralValue } from './literals.js';
import { nameProblems, priorityProblem, priorityValue } from './names.js';
import { numberMapTargets, updateProblems } from './statements.js';
import { chainsInOrder, clampComment, countersOf, verdictText } from './text.js';
import { readElement, ruleProblems, ruleReferences } from './validate.js';

/** nft refused an operation; the message is nft's (an errno's text, or its parser's complaint). */
export class Refusal extends Error {
  /** What the kernel's refusal would carry (see NftError). */
  readonly code = ErrorCodes.NFT_REFUSED;

  constructor(message: string) {
    super(message);
    this.name = 'Refusal';
  }
}

const ENOENT = 'No such file or directory';
const EEXIST = 'File exists';
const EBUSY = 'Device or resource busy';
const EOPNOTSUPP = 'Operation not supported';

/** The kernel refused (`Could not process rule: ERRNO`); `why` says what the fake found. */
function kernel(errno: string, why: string): never {
  throw new Refusal(`Could not process rule: ${errno} (${why})`);
}

/** nft itself refused, before the kernel saw anything. */
function parser(why: string): never {
  throw new Refusal(why);
}

/** Hooks each chain type may use (the kernel: Operation not supported elsewhere). */
const HOOKS_OF_TYPE: Readonly<Record<NftBaseHook['type'], readonly string[]>> = {
  filter: ['prerouting', 'input', 'forward', 'output', 'postrouting'],
  nat: ['prerouting', 'input', 'output', 'postrouting'],
  route: ['output'],
};

type Values = readonly (LiteralValue | undefined)[];
const typesText = (types: readonly string[]) => types.join(' . ');
const sameTypes = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);
const clamped = <T extends { readonly comment: string }>(x: T): T =>
  clampComment(x.comment) === x.comment ? x : { ...x, comment: clampComment(x.comment) };
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class FakeTable {
  private readonly counters: Map<string, NftCounter>;
  /** Declarations; a set's elements are the committed ones until setElements holds it. */
  private readonly sets: Map<string, NftSet>;
  private readonly maps: Map<string, NftMap>;
  private readonly chains: Map<string, NftChain>;
  /** Elements of the sets this transaction changed: text as nft lists it → values. */
  private readonly setElements = new Map<string, Map<string, Values>>();
  private readonly mapElements = new Map<string, Map<string, NftMapElement>>();
  private readonly chainRules = new Map<string, NftRule[]>();
  /** Named counters deleted by this transaction: their packets start again from 0. */
  readonly deletedCounters = new Set<string>();

  constructor(
    readonly id: NftTableId,
    from?: NftTable,
  ) {
    this.counters = new Map(from?.counters ?? []);
    this.sets = new Map(from?.sets ?? []);
    this.maps = new Map(from?.maps ?? []);
    this.chains = new Map(from?.chains ?? []);
  }

  /** The table as it stands (set and map elements sorted by their text). */
  table(): NftTable {
    const sets = new Map<string, NftSet>();
    for (const [name, s] of this.sets) {
      const edited = this.setElements.get(name);
      sets.set(name, edited ? { ...s, elements: [...edited.keys()].sort(byText) } : s);
    }
    const maps = new Map<string, NftMap>();
    for (const [name, m] of this.maps) {
      const edited = this.mapElements.get(name);
      const elements = edited && [...edited.values()].sort((a, b) => byText(a.key, b.key));
      maps.set(name, elements ? { ...m, elements } : m);
    }
    const chains = new Map<string, NftChain>();
    for (const [name, c] of this.chains) {
      const rules = this.chainRules.get(name);
      chains.set(name, rules ? { ...c, rules } : c);
    }
    return {
      family: this.id.family,
      name: this.id.name,
      ...(this.counters.size > 0 ? { counters: new Map(this.counters) } : {}),
      sets,
      maps,
      chains,
    };
  }

  /** A whole `table F N { … }` block, in the order nft expands it: chains, counters, sets and maps, rules. */
  addContents(t: NftTable): void {
    // A declaration reads only its own fields: the rules and elements follow.
    for (const c of chainsInOrder(t)) this.addChain(c);
    for (const c of countersOf(t)) this.addCounter(c);
    for (const s of t.sets.values()) {
      this.addSet(s);
      if (s.elements.length > 0) this.addElements(s.name, s.elements);
    }
    for (const m of t.maps.values()) {
      this.addMap(m);
      if (m.elements.length > 0) this.addElements(m.name, m.elements);
    }
    for (const c of chainsInOrder(t)) for (const r of c.rules) this.addRule(c.name, r);
  }

  addCounter(c: NftCounter): void {
    checkName('counter', c.name);
    // nft keeps an existing counter as it is, comment included.
    if (!this.counters.has(c.name)) this.counters.set(c.name, clamped(c));
  }

  addSet(decl: NftSetDecl): void {
    checkName('set', decl.name);
    if (decl.type.length === 0) parser(`set ${decl.name} has no key type`);
    if (this.maps.has(decl.name)) kernel(EEXIST, `${decl.name} is a map`);
    const old = this.sets.get(decl.name);
    if (old) {
      // A new comment, size or timeout is ignored; a new type or flags refused.
      const flags = (x: NftSetDecl) =>
        `${x.interval} ${x.dynamic === true} ${x.timeout !== undefined}`;
      if (!sameTypes(old.type, decl.type) || flags(old) !== flags(decl))
        kernel(EEXIST, `set ${decl.name} exists with another type or flags`);
      return;
    }
    this.sets.set(decl.name, { ...clamped(decl), elements: [] });
    this.setElements.set(decl.name, new Map());
  }

  addMap(decl: NftMapDecl): void {
    checkName('map', decl.name);
    if (decl.key.length === 0) parser(`map ${decl.name} has no key type`);
    if (this.sets.has(decl.name)) kernel(EEXIST, `${decl.name} is a set`);
    const old = this.maps.get(decl.name);
    if (old) {
      if (!sameTypes(old.key, decl.key)) kernel(EEXIST, `map ${decl.name} exists with another key`);
      return;
    }
    this.maps.set(decl.name, { ...clamped(decl), elements: [] });
    this.mapElements.set(decl.name, new Map());
  }

  addChain(decl: NftChainDecl): void {
    checkName('chain', decl.name);
    const base = decl.base;
    const priority = base && priorityProblem(base.hook, base.priority);
    if (priority) parser(priority);
    const old = this.chains.get(decl.name);
    if (!old) {
      if (base && !HOOKS_OF_TYPE[base.type].includes(base.hook))
        kernel(EOPNOTSUPP, `a ${base.type} chain cannot hook ${base.hook}`);
      this.chains.set(decl.name, { ...clamped(decl), rules: [] });
      this.chainRules.set(decl.name, []);
      return;
    }
    // A declaration without a hook leaves a base chain as it is; a new comment is ignored.
    if (!base) return;
    if (!old.base) kernel(EOPNOTSUPP, `chain ${decl.name} exists as a regular chain`);
    if (old.base.type !== base.type)
      kernel(EEXIST, `chain ${decl.name} is of type ${old.base.type}`);
    if (
      old.base.hook !== base.hook ||
      priorityValue(old.base.priority) !== priorityValue(base.priority)
    )
      kernel(
        EOPNOTSUPP,
        `chain ${decl.name} hooks ${old.base.hook} at priority ${old.base.priority}`,
      );
    // The kernel updates the policy of an existing base chain.
    if (old.base.policy !== base.policy)
      this.chains.set(decl.name, { ...old, base: { ...old.base, policy: base.policy } });
  }

  flushChain(name: string): void {
    if (!this.chains.has(name)) kernel(ENOENT, `no chain ${name}`);
    this.chainRules.set(name, []);
  }

  deleteChain(name: string): void {
    if (!this.chains.has(name)) kernel(ENOENT, `no chain ${name}`);
    const user = this.chainUser(name);
    if (user) kernel(EBUSY, `chain ${name} is the target of ${user}`);
    this.chains.delete(name);
    this.chainRules.delete(name);
  }

  /** `delete set` and `delete map` alike: the kernel finds either by name. */
  deleteSetOrMap(name: string): void {
    if (!this.sets.has(name) && !this.maps.has(name)) kernel(ENOENT, `no set or map ${name}`);
    const user = this.findRule((r) => {
      const refs = ruleReferences(r);
      return refs.sets.includes(name) || refs.maps.includes(name);
    });
    if (user) kernel(EBUSY, `${name} is used by ${user}`);
    this.sets.delete(name);
    this.maps.delete(name);
    this.setElements.delete(name);
    this.mapElements.delete(name);
  }

  deleteCounter(name: string): void {
    if (!this.counters.has(name)) kernel(ENOENT, `no counter ${name}`);
    const user = this.findRule((r) => r.exprs.some((e) => e.kind === 'counter' && e.name === name));
    if (user) kernel(EBUSY, `counter ${name} is used by ${user}`);
    this.counters.delete(name);
    this.deletedCounters.add(name);
  }

  addRule(chain: string, rule: NftRule): void {
    if (!this.chains.has(chain)) kernel(ENOENT, `no chain ${chain}`);
    for (const e of rule.exprs)
      if (e.kind === 'number-vmap' && !(e.source.mod >= 1))
        kernel('Numerical result out of range', `${e.source.kind} mod ${e.source.mod}`);
    const problem = ruleProblems(rule, this.id.family, 'nft')[0];
    if (problem !== undefined) parser(problem);
    for (const e of rule.exprs) {
      if (e.kind === 'lookup') {
        // A lookup may name a map too: it matches the map's keys.
        const s = this.sets.get(e.set) ?? this.maps.get(e.set);
        if (!s) kernel(ENOENT, `no set ${e.set}`);
        this.sameKey(e.left, 'type' in s ? s.type : s.key, `@${e.set}`);
      } else if (e.kind === 'vmap') {
        const m = this.maps.get(e.map);
        if (!m) {
          if (this.sets.has(e.map)) parser(`Expression is not a map (@${e.map} is a set)`);
          kernel(ENOENT, `no map ${e.map}`);
        }
        this.sameKey(e.left, m.key, `@${e.map}`);
      } else if (e.kind === 'counter' && e.name !== undefined && !this.counters.has(e.name))
        kernel(ENOENT, `no counter ${e.name}`);
      else if (e.kind === 'verdict') this.checkTarget(e.verdict);
      else if (e.kind === 'number-vmap')
        for (const target of numberMapTargets(e)) this.checkTarget({ kind: 'jump', chain: target });
      else if (e.kind === 'update') {
        const s = this.sets.get(e.set);
        if (!s) kernel(ENOENT, `no set ${e.set}`);
        const [problem] = updateProblems(
          e,
          s,
          e.left.map((x) => SELECTOR_TYPES[x]),
        );
        // nft would take a set that is not dynamic, and make it so: weft never asks it to.
        if (problem !== undefined) parser(`datatype mismatch or not dynamic: ${problem}`);
      }
    }
    this.rulesOf(chain).push(clamped(rule));
  }

  /** Adds set elements (strings) or map elements; nft adds what exists already, unchanged. */
  addElements(name: string, elements: readonly string[] | readonly NftMapElement[]): void {
    const s = this.sets.get(name);
    if (s) {
      const texts = elements.map((e) =>
        typeof e === 'string' ? e : parser(`set ${name} takes no verdicts`),
      );
      this.addSetElements(s, texts);
      return;
    }
    const m = this.maps.get(name);
    if (!m) kernel(ENOENT, `no set or map ${name}`);
    const current = this.elementsOfMap(name);
    for (const e of elements) {
      if (typeof e === 'string') parser(`map ${name} element ${e} has no verdict`);
      const key = this.read(m.key, e.key, false, `map ${name}`).text;
      this.checkTarget(e.value);
      const had = current.get(key);
      if (had && verdictText(had.value) !== verdictText(e.value))
        kernel(EEXIST, `map ${name} has ${key} : ${verdictText(had.value)}`);
      current.set(key, { key, value: e.value });
    }
  }

  deleteElements(name: string, keys: readonly string[]): void {
    const s = this.sets.get(name);
    const m = this.maps.get(name);
    if (!s && !m) kernel(ENOENT, `no set or map ${name}`);
    for (const given of keys) {
      const key = s
        ? this.read(s.type, given, s.interval, `set ${name}`).text
        : this.read((m as NftMap).key, given, false, `map ${name}`).text;
      const current = s ? this.elementsOfSet(s) : this.elementsOfMap(name);
      if (!current.delete(key)) kernel(ENOENT, `${name} has no element ${given}`);
    }
  }

  private addSetElements(s: NftSet, given: readonly string[]): void {
    // nft takes them, each with an expiry it then lists: the fake keeps no such elements.
    if (s.timeout !== undefined && given.length > 0)
      parser(`set ${s.name} has a timeout: the fake takes no fixed elements in it`);
    const fresh = new Map<string, Values>();
    for (const e of given) {
      const read = this.read(s.type, e, s.interval, `set ${s.name}`);
      fresh.set(read.text, read.values);
    }
    const current = this.elementsOfSet(s);
    if (s.interval && s.type.length === 1) {
      const clash = overlap([...fresh], []);
      if (clash) parser(`conflicting intervals specified (${clash})`);
      const old = [...current].filter(([text]) => !fresh.has(text));
      const against = overlap(
        [...fresh].filter(([text]) => !current.has(text)),
        old,
      );
      if (against) parser(`interval overlaps with an existing one (${against})`);
    }
    for (const [text, values] of fresh) current.set(text, values);
  }

  /** One element or key, as nft reads it; refused with nft's complaint. */
  private read(types: readonly NftDatatype[], key: string, interval: boolean, what: string) {
    const r = readElement(types, key, interval);
    const problem = r.problems[0];
    if (problem !== undefined) parser(`${what}: ${problem}`);
    if (r.values.some((v) => v === undefined))
      parser(`${what}: ${key} names a service; the fake reads port numbers only`);
    return r;
  }

  private sameKey(left: readonly NftSelector[], key: readonly NftDatatype[], what: string): void {
    const want = left.map((x) => SELECTOR_TYPES[x]);
    if (!sameTypes(want, key))
      parser(`datatype mismatch: ${what} expects ${typesText(key)}, not ${typesText(want)}`);
  }

  /** A jump or goto must name an existing regular chain. */
  private checkTarget(v: NftVerdict): void {
    if (v.kind !== 'jump' && v.kind !== 'goto') return;
    const c = this.chains.get(v.chain);
    if (!c) kernel(ENOENT, `no chain ${v.chain}`);
    if (c.base) kernel(EOPNOTSUPP, `${v.kind} to base chain ${v.chain}`);
  }

  private rulesOf(chain: string): NftRule[] {
    let rules = this.chainRules.get(chain);
    if (!rules) this.chainRules.set(chain, (rules = [...(this.chains.get(chain)?.rules ?? [])]));
    return rules;
  }

  private elementsOfSet(s: NftSet): Map<string, Values> {
    let current = this.setElements.get(s.name);
    if (!current) {
      current = new Map(s.elements.map((e) => [e, readElement(s.type, e, s.interval).values]));
      this.setElements.set(s.name, current);
    }
    return current;
  }

  private elementsOfMap(name: string): Map<string, NftMapElement> {
    let current = this.mapElements.get(name);
    if (!current) {
      current = new Map((this.maps.get(name)?.elements ?? []).map((e) => [e.key, e]));
      this.mapElements.set(name, current);
    }
    return current;
  }

  /** The first rule `is` holds for, as `chain NAME rule N`. */
  private findRule(is: (r: NftRule) => boolean): string | undefined {
    for (const [name, c] of this.chains) {
      const i = (this.chainRules.get(name) ?? c.rules).findIndex(is);
      if (i >= 0) return `chain ${name} rule ${i + 1}`;
    }
    return undefined;
  }

  /** What jumps or goes to a chain: a rule (its own included) or a verdict map element. */
  private chainUser(name: string): string | undefined {
    const rule = this.findRule((r) => ruleReferences(r).chains.includes(name));
    if (rule) return rule;
    for (const [map, m] of this.maps) {
      const elements = this.mapElements.get(map)?.values() ?? m.elements;
      for (const e of elements)
        if ((e.value.kind === 'jump' || e.value.kind === 'goto') && e.value.chain === name)
          return `map ${map} element ${e.key}`;
    }
    return undefined;
  }
}

function checkName(kind: string, name: string): void {
  const problem = nameProblems(kind, name)[0];
  if (problem !== undefined) parser(`syntax error: ${problem}`);
}

/** Two intervals of `a` that overlap, or one of `a` overlapping one of `b`, as text; else undefined. */
function overlap(
  a: readonly (readonly [string, Values])[],
  b: readonly (readonly [string, Values])[],
): string | undefined {
  const ranges = [...a.map((x) => ({ x, mine: true })), ...b.map((x) => ({ x, mine: false }))]
    .flatMap(({ x: [text, values], mine }) => {
      const v = values[0];
      return v?.kind === 'range' ? [{ text, lo: v.lo, hi: v.hi, mine }] : [];
    })
    .sort((p, q) => (p.lo < q.lo ? -1 : p.lo > q.lo ? 1 : 0));
  let reach: (typeof ranges)[number] | undefined;
  for (const r of ranges) {
    if (reach && r.lo <= reach.hi && (r.mine || reach.mine)) return `${reach.text} and ${r.text}`;
    if (!reach || r.hi > reach.hi) reach = r;
  }
  return undefined;
}
