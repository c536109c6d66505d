/**
 * A packet walked through nftables tables as the kernel walks it: the base
 * chains of one hook (of every table of the packet's family) in priority
 * order, each rule's expressions in order, jumps, gotos and returns, named
 * sets (intervals and concatenations), anonymous sets and verdict maps, mark
 * statements that change the packet on its way, and at the end of a base
 * chain its policy. An accept ends one base chain (the next one still sees
 * the packet); a drop ends the walk. The answer names every rule that
 * matched, in order, with its comment: tests trace packets through a
 * component's table instead of reading its text (kube-proxy's
 * nftablesTracer is the model).
 *
 * NAT as the kernel does it: nat chains see only a connection's first
 * packet (conntrack state new, original direction); `dnat` rewrites the
 * destination and `masquerade` the source of the traced packet, each ends
 * its base chain as an accept, and once one nat chain of a hook has
 * rewritten the packet the hook's later nat chains are not walked. `reject`
 * drops and says how it answers. `update @set` writes the packet's key into
 * a SetMemory (kept by the caller, with expiry times), which lookups of that
 * set read. `numgen random` takes Packet.random; `jhash` is the kernel's.
 *
 * What a walk cannot know is the caller's to say: the host's own addresses
 * (`fib … type` is `local` for them, `unicast` for any other), the packet's
 * conntrack state, the address masquerade gives it, and its time. A `limit`
 * is passed as if under its rate (the answer lists where), a `log` is
 * recorded with its prefix.
 */
import type {
  NftChain,
  NftDatatype,
  NftExpr,
  NftHook,
  NftMap,
  NftNumberSource,
  NftRejectWith,
  NftRule,
  NftSelector,
  NftSet,
  NftTable,
  NftVerdict,
} from './model.js';
import { SELECTOR_TYPES } from './model.js';
import { priorityValue } from './names.js';
import {
  matchesKey,
  PacketState,
  TraceError,
  type Field,
  type Packet,
  type Values,
} from './packet.js';
import { ruleText } from './text.js';
import { readElement } from './validate.js';
import { jhashOf } from './jhash.js';
import { DynamicSets, type SetMemory } from './set-memory.js';

export { TraceError, type CtState, type Packet } from './packet.js';

/** A rule the packet matched (every match expression held). */
export interface MatchedRule {
  /** `FAMILY NAME` of its table. */
  readonly table: string;
  readonly chain: string;
  /** Its index in the chain, from 0. */
  readonly index: number;
  readonly comment: string;
  /** As text.ts renders it. */
  readonly text: string;
}

/** An address (and port) NAT rewrote, and the rule that did it. */
export type NatRewrite =
  | {
      readonly kind: 'dnat';
      readonly address: string;
      readonly port?: number;
      readonly rule: MatchedRule;
    }
  | { readonly kind: 'masquerade'; readonly address: string; readonly rule: MatchedRule };

export interface TraceResult {
  readonly verdict: 'accept' | 'drop';
  /** A `reject` ended the walk (the verdict is drop): how the sender is answered. */
  readonly rejected?: { readonly with: NftRejectWith; readonly rule: MatchedRule };
  /** NAT done to the packet, in order. */
  readonly nat: readonly NatRewrite[];
  /** The packet after the walk: NAT applied, marks as the rules left them. */
  readonly packet: Packet;
  /** Every rule matched, in order; a base chain's policy is not a rule. */
  readonly matched: readonly MatchedRule[];
  /** `log` statements reached, in order. */
  readonly logs: readonly { readonly prefix: string; readonly group: number }[];
  /** Rules whose `limit` the packet passed (as if under the rate). */
  readonly limits: readonly MatchedRule[];
  /** Named counters the packet added to (`table` as `FAMILY NAME`), in order. */
  readonly counters: readonly { readonly table: string; readonly name: string }[];
  /** The base chains whose policy gave their verdict (`FAMILY NAME CHAIN`). */
  readonly policies: readonly string[];
  /** meta mark and ct mark after the walk. */
  readonly mark: number;
  readonly ctMark: number;
}

/** Nested jumps the kernel allows (its jump stack), and rules one walk may read before it gives up. */
const JUMP_STACK = 16;
const MAX_STEPS = 100_000;

/** Parsed values, once per expression, set and map object. */
const cmpValues = new WeakMap<NftExpr, Values[]>();
const setValues = new WeakMap<NftSet | NftMap, Values[]>();

function readAll(
  what: string,
  types: readonly NftDatatype[],
  keys: readonly string[],
  interval: boolean,
): Values[] {
  return keys.map((k) => {
    const r = readElement(types, k, interval);
    if (r.problems.length > 0 || r.values.some((v) => v === undefined))
      throw new TraceError(
        `${what}: cannot read ${k} (${r.problems.join('; ') || 'a name nft resolves'})`,
      );
    return r.values;
  });
}

interface Walk {
  steps: number;
  readonly nat: NatRewrite[];
  rejected?: { with: NftRejectWith; rule: MatchedRule };
  readonly matched: MatchedRule[];
  readonly logs: { prefix: string; group: number }[];
  readonly limits: MatchedRule[];
  readonly counters: { table: string; name: string }[];
  readonly policies: string[];
}

/** What one rule did: go on with the next rule, or a verdict. */
type Outcome = { readonly kind: 'next' } | NftVerdict;
const NEXT: Outcome = { kind: 'next' };

class Tracer {
  constructor(
    private readonly p: PacketState,
    private readonly w: Walk,
    private readonly memory: SetMemory,
    private readonly time: number,
  ) {}

  /** A key of the packet's fields; undefined when it lacks one. */
  private fields(left: readonly NftSelector[]): Field[] | undefined {
    const fields = left.map((x) => this.p.field(x));
    return fields.some((f) => f === undefined) ? undefined : fields;
  }

  /** Walks one base chain: its verdict, or its policy. */
  base(t: NftTable, c: NftChain): 'accept' | 'drop' {
    const table = `${t.family} ${t.name}`;
    const stack: { chain: NftChain; next: number }[] = [];
    let chain = c;
    let i = 0;
    const policy = (): 'accept' | 'drop' => {
      this.w.policies.push(`${table} ${c.name}`);
      return c.base?.policy ?? 'accept';
    };
    for (;;) {
      if (++this.w.steps > MAX_STEPS)
        throw new TraceError(`more than ${MAX_STEPS} rules read: a goto loop?`);
      const rule = chain.rules[i];
      if (rule === undefined) {
        const back = stack.pop(); // the end of a chain returns
        if (!back) return policy();
        ({ chain, next: i } = back);
        continue;
      }
      const out = this.rule(t, table, chain, i, rule);
      switch (out.kind) {
        case 'next':
        case 'continue':
          i++;
          break;
        case 'accept':
        case 'drop':
          return out.kind;
        case 'return': {
          const back = stack.pop();
          if (!back) return policy();
          ({ chain, next: i } = back);
          break;
        }
        case 'jump':
        case 'goto': {
          const target = t.chains.get(out.chain);
          if (!target) throw new TraceError(`${table}: ${out.kind} to missing chain ${out.chain}`);
          if (out.kind === 'jump') {
            if (stack.length >= JUMP_STACK)
              throw new TraceError(`${table}: jumps nested deeper than ${JUMP_STACK}`);
            stack.push({ chain, next: i + 1 });
          }
          chain = target;
          i = 0;
          break;
        }
      }
    }
  }

  /** The number a `numgen` or `jhash` gives this packet. */
  private number(s: NftNumberSource): number {
    if (s.kind === 'numgen') return (this.p.now().random ?? 0) % s.mod;
    const fields = s.fields.map((sel) => {
      const value = this.p.field(sel);
      if (value === undefined) throw new TraceError(`jhash reads ${sel}, which the packet lacks`);
      return { sel, value };
    });
    try {
      return jhashOf(fields, s.mod, s.seed);
    } catch (e) {
      throw new TraceError(e instanceof Error ? e.message : String(e));
    }
  }

  /** One rule's expressions in order; statements act as they are reached. */
  private rule(t: NftTable, table: string, chain: NftChain, index: number, r: NftRule): Outcome {
    const at = (): MatchedRule => ({
      table,
      chain: chain.name,
      index,
      comment: r.comment,
      text: ruleText(r),
    });
    const matched = (): MatchedRule => {
      const m = at();
      this.w.matched.push(m);
      return m;
    };
    for (const e of r.exprs) {
      switch (e.kind) {
        case 'cmp': {
          let values = cmpValues.get(e);
          if (!values)
            cmpValues.set(
              e,
              (values = readAll(
                'cmp',
                e.left.map((x) => SELECTOR_TYPES[x]),
                e.values,
                true,
              )),
            );
          const fields = e.left.map((s) => this.p.field(s));
          if (fields.some((f) => f === undefined)) return NEXT;
          const hit = values.some((v) => matchesKey(v, fields));
          if (hit !== (e.op === '==')) return NEXT;
          break;
        }
        case 'lookup': {
          const s = t.sets.get(e.set) ?? t.maps.get(e.set);
          if (!s) throw new TraceError(`${table}: lookup of missing set @${e.set}`);
          const fields = this.fields(e.left);
          if (!fields) return NEXT;
          const hit =
            keysOf(s).some((k) => matchesKey(k, fields)) ||
            ('dynamic' in s &&
              s.dynamic === true &&
              this.memory.has(table, s.name, fields, this.time));
          if (hit !== (e.op === '==')) return NEXT;
          break;
        }
        case 'update': {
          const s = t.sets.get(e.set);
          if (!s) throw new TraceError(`${table}: update of missing set @${e.set}`);
          const fields = this.fields(e.left);
          if (!fields) return NEXT;
          const expires = s.timeout === undefined ? undefined : this.time + s.timeout;
          this.memory.update(table, s.name, fields, expires);
          break;
        }
        case 'number-vmap': {
          const n = this.number(e.source);
          const found = e.elements.find((x) => n >= x.from && n <= (x.to ?? x.from));
          if (!found) return NEXT;
          matched();
          return found.value;
        }
        case 'dnat': {
          if (e.family !== undefined && (e.family === 'ip') !== (this.p.family === 4)) return NEXT; // nft's implicit dependency on the family fails
          this.p.rewriteDestination(e.address, e.port);
          const rule = matched();
          this.w.nat.push({
            kind: 'dnat',
            address: e.address,
            ...(e.port !== undefined ? { port: e.port } : {}),
            rule,
          });
          return { kind: 'accept' };
        }
        case 'masquerade': {
          const address = this.p.now().masqueradeAddress;
          if (address === undefined)
            throw new TraceError(
              `${table}: masquerade of a packet that gives no masqueradeAddress`,
            );
          this.p.rewriteSource(address);
          this.w.nat.push({ kind: 'masquerade', address, rule: matched() });
          return { kind: 'accept' };
        }
        case 'reject':
          this.w.rejected = { with: e.with, rule: matched() };
          return { kind: 'drop' };
        case 'bits': {
          const v = e.left === 'meta mark' ? this.p.mark : this.p.ctMark;
          const equal = (v & e.mask) >>> 0 === e.value >>> 0;
          if (equal !== (e.op === '==')) return NEXT;
          break;
        }
        case 'vmap': {
          const m = t.maps.get(e.map);
          if (!m) throw new TraceError(`${table}: verdict map @${e.map} is missing`);
          const fields = e.left.map((x) => this.p.field(x));
          if (fields.some((f) => f === undefined)) return NEXT;
          const keys = keysOf(m);
          const found = m.elements.find((_, i) => matchesKey(keys[i] as Values, fields));
          if (!found) return NEXT;
          matched();
          return found.value;
        }
        case 'set-mark': {
          const old = e.target === 'meta mark' ? this.p.mark : this.p.ctMark;
          const v = ((old & (e.and ?? 0xffffffff)) | (e.or ?? 0)) >>> 0;
          if (e.target === 'meta mark') this.p.mark = v;
          else this.p.ctMark = v;
          break;
        }
        case 'counter':
          if (e.name !== undefined) this.w.counters.push({ table, name: e.name });
          break;
        case 'limit':
          this.w.limits.push(at());
          break;
        case 'log':
          this.w.logs.push({ prefix: e.prefix, group: e.group });
          break;
        case 'verdict':
          matched();
          return e.verdict;
        default:
          return unknownExpression(e);
      }
    }
    matched();
    return NEXT;
  }
}

function unknownExpression(e: never): never {
  throw new TraceError(`unknown expression ${JSON.stringify(e)}`);
}

function keysOf(s: NftSet | NftMap): Values[] {
  let values = setValues.get(s);
  if (!values) {
    values =
      'type' in s
        ? readAll(`set ${s.name}`, s.type, s.elements, s.interval)
        : readAll(
            `map ${s.name}`,
            s.key,
            s.elements.map((e) => e.key),
            false,
          );
    setValues.set(s, values);
  }
  return values;
}

const familyOf = (t: NftTable): 4 | 6 | undefined =>
  t.family === 'ip' ? 4 : t.family === 'ip6' ? 6 : undefined;

/**
 * Walks `packet` through the base chains of `hook` in `tables` (one table,
 * or several in creation order). `memory` holds what packets wrote into
 * dynamic sets (default: a fresh one, forgotten after the walk).
 */
export function trace(
  tables: NftTable | readonly NftTable[],
  hook: NftHook,
  packet: Packet,
  memory: SetMemory = new DynamicSets(),
): TraceResult {
  const all = 'chains' in tables ? [tables as NftTable] : (tables as readonly NftTable[]);
  const bases = all
    .filter((t) => familyOf(t) === undefined || familyOf(t) === packet.family)
    .flatMap((t) =>
      [...t.chains.values()].filter((c) => c.base?.hook === hook).map((c) => ({ t, c })),
    )
    // Equal priorities: in the order given (the kernel's: the order the chains were registered).
    .map((b, order) => ({ ...b, order, priority: priorityValue(b.c.base?.priority ?? '') ?? 0 }))
    .sort((a, b) => a.priority - b.priority || a.order - b.order);
  const w: Walk = {
    steps: 0,
    nat: [],
    matched: [],
    logs: [],
    limits: [],
    counters: [],
    policies: [],
  };
  const state = new PacketState(packet);
  const tracer = new Tracer(state, w, memory, packet.time ?? 0);
  // Nat chains see a connection's first packet, until one of them rewrites it.
  let natOpen = packet.ct.state === 'new' && packet.ct.direction === 'original';
  let verdict: 'accept' | 'drop' = 'accept';
  for (const { t, c } of bases) {
    const nat = c.base?.type === 'nat';
    if (nat && !natOpen) continue;
    const rewrites = w.nat.length;
    if ((verdict = tracer.base(t, c)) === 'drop') break;
    if (nat && w.nat.length > rewrites) natOpen = false;
  }
  const { matched, logs, limits, counters, policies, nat, rejected } = w;
  return {
    verdict,
    ...(rejected ? { rejected } : {}),
    nat,
    packet: state.now(),
    matched,
    logs,
    limits,
    counters,
    policies,
    mark: state.mark,
    ctMark: state.ctMark,
  };
}

/** A trace as lines: each matched rule (`table chain[index]: rule # comment`), then the verdict. */
export function traceText(r: TraceResult): string {
  return [
    ...r.matched.map((m) => `${m.table} ${m.chain}[${m.index}]: ${m.text}  # ${m.comment}`),
    ...r.nat.map((n) =>
      n.kind === 'dnat'
        ? `dnat to ${n.address}${n.port === undefined ? '' : ` port ${n.port}`}`
        : `masquerade to ${n.address}`,
    ),
    ...(r.rejected ? [`rejected with ${r.rejected.with}`] : []),
    ...r.logs.map((l) => `log "${l.prefix}" group ${l.group}`),
    ...r.policies.map((p) => `policy of ${p}`),
    `verdict: ${r.verdict}`,
  ].join('\n');
}
