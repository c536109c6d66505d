import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManifestCache } from './load.js';

test('ManifestCache reparses only changed files and forgets deleted ones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`;
  writeFileSync(join(dir, 'a.yaml'), ns('a'));
  writeFileSync(join(dir, 'b.yaml'), ns('b'));
  const cache = new ManifestCache();
  const first = (await cache.load([dir])).cluster;
  assert.deepEqual([...first.namespaces.keys()].sort(), ['a', 'b']);

  // Replace b the way the lab does (temp file + rename): a new inode.
  writeFileSync(join(dir, '.b.tmp'), ns('b2'));
  renameSync(join(dir, '.b.tmp'), join(dir, 'b.yaml'));
  const second = (await cache.load([dir])).cluster;
  assert.deepEqual([...second.namespaces.keys()].sort(), ['a', 'b2']);
  assert.equal(
    second.namespaces.get('a'),
    first.namespaces.get('a'),
    'the unchanged file was not parsed again',
  );

  unlinkSync(join(dir, 'a.yaml'));
  const third = (await cache.load([dir])).cluster;
  assert.deepEqual([...third.namespaces.keys()], ['b2']);
});
