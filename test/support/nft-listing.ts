/**
 * `nft list table` output made comparable (see normalize); used by the
 * real-kernel nft tests.
 */
import assert from 'node:assert/strict';
import { NftError } from '../../src/nft/runner.js';

function elementsLine(lines: readonly string[]): string {
  const body = lines
    .join(' ')
    .replace(/^elements = \{/, '')
    .replace(/\}$/, '');
  const items = body
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  return `elements = { ${items.sort().join(', ')} }`;
}

/** nft's priority names (ip, ip6 and inet families) and the hooks nft spells them on. */
const PRIORITIES: readonly { name: string; value: number; hooks?: readonly string[] }[] = [
  { name: 'raw', value: -300 },
  { name: 'mangle', value: -150 },
  { name: 'dstnat', value: -100, hooks: ['prerouting'] },
  { name: 'filter', value: 0 },
  { name: 'security', value: 50 },
  { name: 'srcnat', value: 100, hooks: ['postrouting'] },
];

/** A priority as nft lists it: by a name within 10 of it (`filter - 10`), else as a number. */
function priorityAsNft(hook: string, given: string): string {
  const m = /^(\w+|-?\d+)(?: ([-+]) (\d+))?$/.exec(given);
  if (!m) return given;
  const base = PRIORITIES.find((p) => p.name === m[1])?.value ?? Number(m[1]);
  const value = base + (m[2] === '-' ? -1 : 1) * Number(m[3] ?? 0);
  for (const p of PRIORITIES) {
    const offset = value - p.value;
    if ((p.hooks && !p.hooks.includes(hook)) || Math.abs(offset) > 10) continue;
    return offset === 0 ? p.name : `${p.name} ${offset < 0 ? '-' : '+'} ${Math.abs(offset)}`;
  }
  return `${value}`;
}

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/**
 * One line, spelled one way where nft lists what it was given in its own
 * words: `meta l4proto tcp th dport` as `tcp dport`, `reject with icmpx
 * port-unreachable` as `reject`, an anonymous counter
 * with its packets and bytes, a priority as nft names it (`-10` as `filter - 10`), a comparison
 * under a prefix mask as a prefix (`ct mark & 0xffff0000 == V` as
 * `ct mark V/16`), and a mark statement `& A | B` as `& (A|B) | B` (the
 * same result, which is how the kernel keeps it).
 */
function oneSpelling(line: string): string {
  return line
    .replace(/\bmeta l4proto (tcp|udp|sctp) th (sport|dport)\b/g, '$1 $2')
    .replace(/\bcounter packets \d+ bytes \d+/g, 'counter')
    .replace(/\breject with icmpx port-unreachable\b/g, 'reject')
    .replace(
      /\b(meta mark|ct mark) & 0x([0-9a-f]{8}) == (0x[0-9a-f]{8})/g,
      (all, field: string, mask: string, value: string) => {
        const ones = /^(1*)0*$/.exec(parseInt(mask, 16).toString(2).padStart(32, '0'));
        return ones ? `${field} ${value}/${ones[1]?.length ?? 0}` : all;
      },
    )
    .replace(
      /\b(meta mark|ct mark) set \1 & (0x[0-9a-f]{8}) \| (0x[0-9a-f]{8})/g,
      (_, field: string, and: string, or: string) =>
        `${field} set ${field} & ${hex(Number(and) | Number(or))} | ${or}`,
    )
    .replace(
      /\bhook (\w+) priority ([^;]+);/,
      (_, hook: string, priority: string) =>
        `hook ${hook} priority ${priorityAsNft(hook, priority)};`,
    );
}

/**
 * `nft list table` with its blocks sorted by header and each element list
 * sorted: the kernel lists objects in creation order and hash-set elements
 * in hash order, neither of which is part of the table's meaning. Rule order
 * is kept: it is. A named counter's packets and bytes are left out, and a
 * few things nft respells are spelled one way (oneSpelling), so the fake's
 * listing (text.ts's spelling) compares with the kernel's.
 */
export function normalize(listing: string): string {
  const blocks: string[] = [];
  let block: string[] | undefined;
  let elements: string[] | undefined;
  for (const raw of listing.split('\n')) {
    const line = oneSpelling(raw.trim());
    if (block === undefined) {
      if (/^(set|map|chain|counter) \S+ \{$/.test(line)) block = [line];
      continue;
    }
    if (/^packets \d+ bytes \d+$/.test(line)) continue;
    if (elements === undefined && line.startsWith('elements = {')) elements = [];
    if (elements !== undefined) {
      elements.push(line);
      if (line.endsWith('}')) {
        block.push(elementsLine(elements));
        elements = undefined;
      }
      continue;
    }
    if (raw === '\t}') {
      blocks.push(block.join('\n'));
      block = undefined;
    } else block.push(line);
  }
  assert.equal(block, undefined, `unterminated block in listing:\n${listing}`);
  return blocks.sort().join('\n\n');
}

/** What became of a transaction: applied, or refused with nft's message. */
export async function outcome(apply: () => Promise<void>): Promise<string> {
  try {
    await apply();
    return 'applied';
  } catch (e) {
    if (!(e instanceof NftError)) throw e;
    return `refused: ${e.location?.message ?? e.message}`;
  }
}

/** The errno nft reports for a refusal the kernel made (`Could not process rule: ERRNO`). */
export const errno = (o: string) => /Could not process rule: ([^(;]+)/.exec(o)?.[1]?.trim();
