/**
 * The strict in-memory nft: an NftRunner that holds its tables in memory and
 * applies a transaction as nft and the kernel do, all of it or (throwing
 * NftError) none of it, refusing what they refuse. Each refusal was checked
 * against nft 1.0.6 on Linux 6.x; test/integration/nft-fake.test.ts keeps
 * checking the fake against the kernel.
 *
 * Refused (No such file or directory): any operation on a missing table;
 * deleting or flushing a missing chain, deleting a missing set, map, counter
 * or element; a rule in a missing chain, naming a missing chain, set, map or
 * counter. Refused (File exists): a map element whose key is there with
 * another verdict; a set or map declared again with another type or flags,
 * or under the name of the other kind; a base chain declared again with
 * another type. Refused (Operation not supported): a jump, goto or verdict
 * map element to a base chain; a base chain declared again with another
 * hook or priority, or over a regular chain; a chain type on a hook it cannot
 * use. Refused (Device or resource busy): deleting a chain that a rule (its
 * own too), a map element or an anonymous numgen/jhash map jumps to, a set
 * or map a rule names (`update` too), a counter a rule adds to. Refused
 * (Numerical result out of range): `numgen`/`jhash` `mod 0`. Refused when
 * committing (Too many links): a jump loop, or jumps nested deeper than
 * MAX_JUMP_DEPTH, among the chains a base chain reaches; (Operation not
 * supported): a `dnat` that a base chain other than a nat chain of
 * prerouting or output reaches, a `masquerade` other than from a nat chain
 * of postrouting, a `reject` from postrouting. Refused by nft's parser: a
 * name nft cannot read, an element or literal not of its type or arity, a
 * prefix or range in a set without `flags interval`, overlapping intervals,
 * a lookup or verdict map of another key type, a verdict map that is a set,
 * a priority name on a hook nft 1.0.6 does not read it on (`dstnat` outside
 * prerouting, `srcnat` outside postrouting), and what ruleProblems('nft')
 * finds (a dnat port without a protocol match before it, a dnat without
 * `ip`/`ip6` in an inet table). Refused by the fake alone, where nft would
 * quietly change the set: an `update` of a set not declared dynamic (nft
 * makes it so), fixed elements in a set with a timeout (nft gives each an
 * expiry it lists).
 *
 * Taken as nft takes them: adding what exists with the same declaration (a
 * new comment, or a set's new size or timeout, is ignored; a base chain's
 * new policy replaces the old), an
 * element that is there already (a map's with the same verdict), deleting
 * an interval element written as an equal range, a loop that exists only
 * midway through the transaction. Elements are kept as nft lists them
 * (`10.0.0.0-10.0.0.255` as `10.0.0.0/24`). Service names are refused: nft
 * would resolve them through /etc/services, which the fake does not read.
 */
import type { NftHook, NftOp, NftTable, NftTableId, NftTransaction } from './model.js';
import { FakeTable, Refusal } from './fake-table.js';
import { locateNftError, NftError, type NftRunner } from './runner.js';
import { tableText, transactionText } from './text.js';
import { trace, type Packet, type TraceResult } from './trace.js';
import { tracePath, type PathResult } from './trace-path.js';
import { DynamicSets } from './set-memory.js';
import { hookProblems } from './statements.js';
import { jumpGraphProblems } from './validate.js';

const tableKey = (t: NftTableId) => `${t.family} ${t.name}`;

export class FakeNft implements NftRunner {
  private readonly tables = new Map<string, NftTable>();
  /** Table → named counter → packets it counted. */
  private readonly packets = new Map<string, Map<string, number>>();
  /** Every script given to apply, applied or refused, in order. */
  readonly scripts: string[] = [];
  /** What traced packets wrote into dynamic sets (`update @set`). */
  readonly memory = new DynamicSets();

  /** Applies `tx` whole, or throws NftError and changes nothing. `script` must be transactionText(tx). */
  async apply(tx: NftTransaction, script: string): Promise<void> {
    this.scripts.push(script);
    if (script !== transactionText(tx))
      throw new Error('FakeNft.apply: the script is not transactionText(tx)');
    const key = tableKey(tx.table);
    const committed = this.tables.get(key);
    let table = committed && new FakeTable(tx.table, committed);
    /** The last operation that could add a jump: where a loop found at commit is reported. */
    let lastJump = tx.ops.length - 1;
    /** The table was deleted along the way: its counters start again from 0. */
    let dropped = false;
    for (const [i, op] of tx.ops.entries()) {
      try {
        if (op.kind === 'table') {
          if (op.op === 'add') table ??= new FakeTable(tx.table);
          else if (!table) throw new Refusal(`No such file or directory (no table ${key})`);
          else {
            table = undefined;
            dropped = true;
          }
          continue;
        }
        if (op.kind === 'table-contents') {
          if (tableKey(op.table) !== key)
            throw new Error(
              `FakeNft.apply: table ${tableKey(op.table)} in a transaction on ${key}`,
            );
          table ??= new FakeTable(tx.table);
          table.addContents(op.table);
          lastJump = i;
          continue;
        }
        if (!table) throw new Refusal(`No such file or directory (no table ${key})`);
        applyOp(table, op);
        if ((op.kind === 'rule' || op.kind === 'elements') && op.op === 'add') lastJump = i;
      } catch (e) {
        if (e instanceof Refusal) throw refused(tx, script, i, e.message);
        throw e;
      }
    }
    const next = table?.table();
    const loop = next && jumpGraphProblems(next, 'base chains')[0];
    if (loop)
      throw refused(tx, script, lastJump, `Could not process rule: Too many links (${loop})`);
    const misplaced = next && hookProblems(next)[0];
    if (misplaced)
      throw refused(
        tx,
        script,
        lastJump,
        `Could not process rule: Operation not supported (${misplaced})`,
      );
    if (next) this.tables.set(key, next);
    else this.tables.delete(key);
    // What packets wrote into a set goes with the set.
    if (dropped || !next) this.memory.forget(key);
    for (const op of tx.ops)
      if (op.op === 'delete' && (op.kind === 'set' || op.kind === 'map'))
        this.memory.forget(key, op.name);
    const counted = this.packets.get(key);
    if (dropped || !next) this.packets.delete(key);
    else for (const name of table?.deletedCounters ?? []) counted?.delete(name);
  }

  /**
   * Walks a packet through the base chains of `hook` in every table (see
   * trace.ts); the named counters it reaches count it.
   */
  trace(hook: NftHook, packet: Packet): TraceResult {
    const r = trace(this.all(), hook, packet, this.memory);
    this.count(r);
    return r;
  }

  /** Walks a packet through this host, hook after hook (see trace-path.ts). */
  tracePath(packet: Packet, origin: 'network' | 'local'): PathResult {
    const r = tracePath(this.all(), packet, origin, this.memory);
    for (const h of r.hooks) this.count(h.result);
    return r;
  }

  private count(r: TraceResult): void {
    for (const c of r.counters) {
      let counted = this.packets.get(c.table);
      if (!counted) this.packets.set(c.table, (counted = new Map()));
      counted.set(c.name, (counted.get(c.name) ?? 0) + 1);
    }
  }

  /** Packets each named counter of a table counted (as RealNft.counterPackets); {} without the table. */
  counterPackets(table: NftTableId): Record<string, number> {
    const counted = this.packets.get(tableKey(table));
    const out: Record<string, number> = {};
    for (const name of this.tables.get(tableKey(table))?.counters?.keys() ?? [])
      out[name] = counted?.get(name) ?? 0;
    return out;
  }

  /** The table in tableText form; '' when there is none. */
  list(table: NftTableId): Promise<string> {
    const t = this.tables.get(tableKey(table));
    return Promise.resolve(t ? tableText(t) : '');
  }

  /** The table as it stands, or undefined. */
  dump(table: NftTableId): NftTable | undefined {
    return this.tables.get(tableKey(table));
  }

  /** Every table, in the order they were created. */
  all(): NftTable[] {
    return [...this.tables.values()];
  }
}

/** One operation on a table that exists. */
function applyOp(t: FakeTable, o: Exclude<NftOp, { kind: 'table' | 'table-contents' }>): void {
  switch (o.kind) {
    case 'counter':
      return o.op === 'add' ? t.addCounter(o.counter) : t.deleteCounter(o.name);
    case 'set':
      return o.op === 'add' ? t.addSet(o.set) : t.deleteSetOrMap(o.name);
    case 'map':
      return o.op === 'add' ? t.addMap(o.map) : t.deleteSetOrMap(o.name);
    case 'chain':
      if (o.op === 'add') return t.addChain(o.chain);
      return o.op === 'flush' ? t.flushChain(o.name) : t.deleteChain(o.name);
    case 'rule':
      return t.addRule(o.chain, o.rule);
    case 'elements':
      return o.op === 'add'
        ? t.addElements(o.set, o.elements)
        : t.deleteElements(o.set, o.elements);
  }
}

/** nft's error for operation `i`: its message, at the script line where that operation starts. */
function refused(tx: NftTransaction, script: string, i: number, message: string): NftError {
  const before = transactionText({ table: tx.table, ops: tx.ops.slice(0, i) });
  const line = before === '' ? 1 : before.split('\n').length;
  const text = script.split('\n')[line - 1] ?? '';
  const stderr = `/dev/stdin:${line}:1-${Math.max(text.length, 1)}: Error: ${message}\n${text}\n`;
  return new NftError(['-f', '-'], 1, stderr, locateNftError(stderr, script));
}
