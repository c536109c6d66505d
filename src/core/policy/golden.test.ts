// Golden files: manifests under test/golden/NAME/ compile to the IR text in
// test/golden/NAME.ir. Run with WEFT_UPDATE_GOLDEN=1 to rewrite them, then
// read the diff in review.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadManifests } from '../../sources/manifests/load.js';
import { withDefaultAddresses } from '../model/addresses.js';
import { compilePolicies } from './compile.js';
import { formatIr } from './ir-text.js';

const root = join(
  import.meta.dirname ?? new URL('.', import.meta.url).pathname,
  '../../../test/golden',
);

for (const name of readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)) {
  test(`golden IR: ${name}`, async () => {
    const { cluster } = await loadManifests([join(root, name)]);
    const text = formatIr(compilePolicies(withDefaultAddresses(cluster).cluster));
    const file = join(root, `${name}.ir`);
    if (process.env['WEFT_UPDATE_GOLDEN'] === '1') writeFileSync(file, text);
    assert.ok(existsSync(file), `${file} is missing: run with WEFT_UPDATE_GOLDEN=1`);
    assert.equal(text, readFileSync(file, 'utf8'));
  });
}
