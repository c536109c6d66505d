/**
 * What nft and the kernel refuse in the statements a Service proxy needs:
 * `dnat`, `masquerade`, `reject`, `update @set` and the anonymous verdict
 * maps of `numgen` and `jhash`. Each was checked with nft 1.0.6 on Linux
 * 6.x; validate.ts and the fake (fake-table.ts) both ask here.
 */
import type {
  NftBaseHook,
  NftExpr,
  NftFamily,
  NftHook,
  NftRule,
  NftSet,
  NftTable,
  NftVerdict,
} from './model.js';
import { parseLiteral } from './literals.js';

/** Protocols with ports: a port mapping needs a match on one of them first. */
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'dccp', 'udplite']);

const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/** Chains an anonymous verdict map of numbers jumps or goes to. */
export function numberMapTargets(e: NftExpr): string[] {
  if (e.kind !== 'number-vmap') return [];
  return e.elements.flatMap((x) =>
    x.value.kind === 'jump' || x.value.kind === 'goto' ? [x.value.chain] : [],
  );
}

/**
 * What is wrong with one of these statements on its own. `strict` adds what
 * nft takes but weft never means (a map key no number reaches, a family
 * word nft drops from an ip or ip6 table).
 */
export function statementProblems(e: NftExpr, family: NftFamily, strict: boolean): string[] {
  const out: string[] = [];
  switch (e.kind) {
    case 'number-vmap': {
      const s = e.source;
      // The kernel: "Numerical result out of range".
      if (!u32(s.mod) || s.mod < 1) out.push(`${s.kind} mod ${s.mod} is not 1 to 4294967295`);
      if (s.kind === 'jhash') {
        if (s.fields.length === 0) out.push('jhash has no fields');
        if (!u32(s.seed)) out.push(`jhash seed ${s.seed} is not 32-bit unsigned`);
      }
      if (e.elements.length === 0) out.push(`${s.kind} vmap has no elements`);
      let last = -1;
      for (const x of e.elements) {
        const to = x.to ?? x.from;
        if (!u32(x.from) || !u32(to) || to < x.from)
          out.push(`${s.kind} vmap key ${x.from}-${to} is not a range of 32-bit numbers`);
        else if (x.from <= last)
          out.push(`${s.kind} vmap keys overlap or are out of order at ${x.from}`);
        else if (strict && to >= s.mod)
          out.push(`${s.kind} vmap key ${to} is never reached (mod ${s.mod})`);
        last = Math.max(last, to);
      }
      break;
    }
    case 'dnat': {
      const f = e.family ?? (family === 'ip6' ? 'ip6' : family === 'ip' ? 'ip' : undefined);
      if (f === undefined) out.push('ip or ip6 must be specified with address for inet tables');
      else {
        if (strict && e.family !== undefined && family !== 'inet')
          out.push(`dnat ${e.family}: write dnat without ip/ip6 in a table of family ${family}`);
        const lit = parseLiteral(f === 'ip' ? 'ipv4_addr' : 'ipv6_addr', e.address);
        if (lit.problem !== undefined || lit.interval)
          out.push(`dnat ${f} to ${e.address}: not one IPv${f === 'ip' ? 4 : 6} address`);
      }
      if (e.port !== undefined && (!Number.isInteger(e.port) || e.port < 0 || e.port > 65535))
        out.push(`dnat port ${e.port} is out of range 0-65535`);
      break;
    }
    default:
      break;
  }
  return out;
}

/** Whether an expression matches a transport protocol with ports (`meta l4proto tcp`). */
function portProtocolMatch(e: NftExpr, only?: string): boolean {
  if (e.kind !== 'cmp' || e.op !== '==' || e.left.length !== 1 || e.left[0] !== 'meta l4proto')
    return false;
  return e.values.every((v) => (only === undefined ? PORT_PROTOCOLS.has(v) : v === only));
}

/** What is wrong with these statements where they stand in their rule. */
export function placementProblems(r: NftRule, strict: boolean): string[] {
  const out: string[] = [];
  r.exprs.forEach((e, i) => {
    const before = r.exprs.slice(0, i);
    if (e.kind === 'dnat' && e.port !== undefined && !before.some((b) => portProtocolMatch(b)))
      out.push('transport protocol mapping is only valid after transport protocol match');
    // nft adds `meta l4proto tcp` on its own, and then lists it: weft writes it.
    if (
      strict &&
      e.kind === 'reject' &&
      e.with === 'tcp reset' &&
      !before.some((b) => portProtocolMatch(b, 'tcp'))
    )
      out.push('reject with tcp reset needs meta l4proto tcp before it');
    const terminal =
      e.kind === 'dnat' ||
      e.kind === 'masquerade' ||
      e.kind === 'reject' ||
      e.kind === 'number-vmap';
    if (strict && terminal && i !== r.exprs.length - 1)
      out.push(`${e.kind} ends the packet's way through the chain: it must end the rule`);
  });
  return out;
}

/** Problems of an `update @set` against the set it names (undefined: no such set). */
export function updateProblems(
  e: Extract<NftExpr, { kind: 'update' }>,
  s: Pick<NftSet, 'type' | 'dynamic' | 'timeout' | 'size'> | undefined,
  types: readonly string[],
): string[] {
  if (!s) return [`names missing set @${e.set}`];
  const out: string[] = [];
  if (s.type.length !== types.length || s.type.some((t, i) => t !== types[i]))
    out.push(`updates set @${e.set} of type ${s.type.join(' . ')} with ${types.join(' . ')}`);
  // nft would make the set dynamic on its own (and list it so): weft declares it.
  if (!s.dynamic) out.push(`updates set @${e.set}, which is not declared dynamic`);
  return out;
}

/** What a set's own declaration gets wrong: a dynamic set gives its size; a timed set holds no fixed elements. */
export function setDeclProblems(s: NftSet): string[] {
  const out: string[] = [];
  if (s.dynamic && s.size === undefined)
    out.push('is dynamic without a size (nft would give it 65535)');
  if (s.size !== undefined && (!Number.isInteger(s.size) || s.size < 1 || s.size > 0xffffffff))
    out.push(`size ${s.size} is not a positive 32-bit number`);
  if (s.timeout !== undefined && (!Number.isInteger(s.timeout) || s.timeout < 1))
    out.push(`timeout ${s.timeout} is not a positive whole number of seconds`);
  if (s.timeout !== undefined && s.elements.length > 0)
    out.push('has a timeout and fixed elements (they would expire)');
  return out;
}

/** The hooks and chain types a statement works in, and how the kernel says so. */
const WHERE: Partial<Record<NftExpr['kind'], { types?: string; hooks: readonly NftHook[] }>> = {
  dnat: { types: 'nat', hooks: ['prerouting', 'output'] },
  masquerade: { types: 'nat', hooks: ['postrouting'] },
  reject: { hooks: ['prerouting', 'input', 'forward', 'output'] },
};

/** Chains each chain reaches in one step (jumps, gotos, verdict maps). */
function edges(t: NftTable): Map<string, string[]> {
  const mapTargets = (name: string) =>
    (t.maps.get(name)?.elements ?? []).flatMap((e) => targetOf(e.value));
  const out = new Map<string, string[]>();
  for (const c of t.chains.values()) {
    const next: string[] = [];
    for (const r of c.rules)
      for (const e of r.exprs) {
        if (e.kind === 'verdict') next.push(...targetOf(e.verdict));
        else if (e.kind === 'vmap') next.push(...mapTargets(e.map));
        else next.push(...numberMapTargets(e));
      }
    out.set(c.name, next);
  }
  return out;
}

function targetOf(v: NftVerdict): string[] {
  return v.kind === 'jump' || v.kind === 'goto' ? [v.chain] : [];
}

/**
 * Statements in chains that a base chain of the wrong type or hook reaches:
 * the kernel refuses them (Operation not supported) when the transaction
 * commits. A chain no base chain reaches is not checked, as in the kernel.
 */
export function hookProblems(t: NftTable): string[] {
  const out: string[] = [];
  const next = edges(t);
  const bases = [...t.chains.values()].filter((c) => c.base);
  for (const b of bases) {
    const base = b.base as NftBaseHook;
    const seen = new Set<string>();
    const todo = [b.name];
    while (todo.length > 0) {
      const name = todo.pop() as string;
      if (seen.has(name)) continue;
      seen.add(name);
      todo.push(...(next.get(name) ?? []));
      t.chains.get(name)?.rules.forEach((r, i) => {
        for (const e of r.exprs) {
          const where = WHERE[e.kind];
          if (!where) continue;
          if ((where.types && base.type !== where.types) || !where.hooks.includes(base.hook))
            out.push(
              `chain ${name} rule ${i + 1}: ${e.kind} works in ${where.types ? `${where.types} chains of ` : ''}` +
                `${where.hooks.join(', ')}; base chain ${b.name} (${base.type} ${base.hook}) reaches it`,
            );
        }
      });
    }
  }
  return [...new Set(out)];
}
