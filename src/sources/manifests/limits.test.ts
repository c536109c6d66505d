// The manifest source's limits (core/limits.ts): each gives one WEFT_LIMIT
// issue naming the file (and line), the limit and the fix, quickly.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WeftError } from '../../core/errors.js';
import { loadManifests, parseManifestText } from './load.js';

function issuesOf(text: string, file: string) {
  return parseManifestText(text, file).issues.map((i) => [i.code, i.object, i.message, i.fix]);
}

const DEPTH_FIX = 'Kubernetes objects nest far less: check that this is the manifest you meant';

test('100,000 levels of flow nesting: a named limit, not a stack overflow', () => {
  const text = `${'['.repeat(100_000)}${']'.repeat(100_000)}\n`;
  assert.deepEqual(issuesOf(text, 'deep.yaml'), [
    [
      'WEFT_LIMIT',
      'deep.yaml:1',
      'nests maps and lists deeper than weft reads (100 levels)',
      DEPTH_FIX,
    ],
  ]);
});

test('101 levels are refused with the document line; 100 levels are read', () => {
  const nest = (n: number) => `${'{"a": '.repeat(n - 1)}1${'}'.repeat(n - 1)}`;
  const doc = (n: number) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: d}\ndata: ${nest(n)}\n`;
  // The object is level 1; nest(n) is n - 1 maps under data, at levels 2 to n.
  assert.deepEqual(issuesOf(`---\n${doc(100)}`, 'ok.yaml'), []);
  assert.deepEqual(issuesOf(`# two\n---\n${doc(101)}`, 'deep.yaml'), [
    [
      'WEFT_LIMIT',
      'deep.yaml:3',
      'nests maps and lists deeper than weft reads (100 levels)',
      DEPTH_FIX,
    ],
  ]);
});

test('more than 100,000 objects in one file: one issue naming the count and the fix', () => {
  const cm = (i: number) => `---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c${i}}\n`;
  const text = Array.from({ length: 100_001 }, (_, i) => cm(i)).join('');
  assert.deepEqual(issuesOf(text, 'many.yaml'), [
    [
      'WEFT_LIMIT',
      'many.yaml',
      'holds 100001 objects; weft reads at most 100000 per file',
      'split it into several files in one directory (a directory is read whole)',
    ],
  ]);
});

test('a manifest file over 16 MiB is refused before it is read', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-limits-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'big.yaml');
  // A sparse 50 MiB file of NULs: read, it would be a syntax error; its size alone refuses it.
  fs.writeFileSync(file, '# big\n');
  fs.truncateSync(file, 50 * 1024 * 1024);
  await assert.rejects(loadManifests([dir]), (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.deepEqual(
      e.issues.map((i) => [i.code, i.object, i.message, i.fix]),
      [
        [
          'WEFT_LIMIT',
          file,
          'is 50.0 MiB; weft reads manifest files up to 16.0 MiB',
          'split it into several files in one directory (a directory is read whole)',
        ],
      ],
    );
    return true;
  });
});

test("a directory entry that is gone is no issue; a manifest's name linking nowhere is", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-gone-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(
    path.join(dir, 'ns.yaml'),
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n',
  );
  // What a writer's temporary file looks like to a reader that lists it just before the rename.
  fs.symlinkSync(path.join(dir, 'renamed-away'), path.join(dir, '.Pod.a.p.yaml.tmp'));
  const { cluster } = await loadManifests([dir]);
  assert.deepEqual([...cluster.namespaces.keys()], ['a']);
  fs.symlinkSync(path.join(dir, 'nowhere.yaml'), path.join(dir, 'pod.yaml'));
  await assert.rejects(loadManifests([dir]), (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.deepEqual(
      e.issues.map((i) => [i.object, i.message]),
      [[path.join(dir, 'pod.yaml'), 'no such file or directory']],
    );
    return true;
  });
});
