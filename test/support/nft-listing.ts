/**
 * `nft list table` output made comparable (see normalize); used by the
 * real-kernel nft tests.
 */
import assert from 'node:assert/strict';

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

/**
 * `nft list table` with its blocks sorted by header and each element list
 * sorted: the kernel lists objects in creation order and hash-set elements
 * in hash order, neither of which is part of the table's meaning. Rule order
 * is kept: it is.
 */
export function normalize(listing: string): string {
  const blocks: string[] = [];
  let block: string[] | undefined;
  let elements: string[] | undefined;
  for (const raw of listing.split('\n')) {
    const line = raw.trim();
    if (block === undefined) {
      if (/^(set|map|chain) \S+ \{$/.test(line)) block = [line];
      continue;
    }
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
