import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomCluster } from '../../testing/random-cluster.js';
import { loadDocumentsFast } from './fast-yaml.js';
import { parseManifestText, parseManifestTextCarefully } from './load.js';

const examples = join(
  import.meta.dirname ?? new URL('.', import.meta.url).pathname,
  '../../../examples',
);

const handwritten = `# leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: a
  labels: {on: "yes"}
---
# a comment-only document

---   {apiVersion: v1, kind: Namespace, metadata: {name: b}}
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: a
  annotations:
    note: |
      a block scalar
        with indentation
spec:
  containers: [{name: c, image: i}]
...
---
apiVersion: v1
kind: Namespace
metadata: {name: c, labels: {enabled: "true"}}
`;

test('the fast path reads exactly what the careful path reads, objects and lines', () => {
  const samples: [string, string][] = [
    ['handwritten.yaml', handwritten],
    ...readdirSync(examples).map((f): [string, string] => [
      f,
      readFileSync(join(examples, f), 'utf8'),
    ]),
    ...[1, 2, 3].map((seed): [string, string] => [
      `random${seed}.yaml`,
      randomCluster({ seed, pods: 5 }),
    ]),
  ];
  for (const [file, text] of samples) {
    assert.ok(loadDocumentsFast(text, true), `${file} takes the fast path`);
    const fast = parseManifestText(text, file);
    const careful = parseManifestTextCarefully(text, file);
    assert.deepEqual(fast, careful, file);
    assert.ok(fast.objects.length > 0, file);
  }
});

test('the fast path gives up on what it cannot place exactly', () => {
  assert.equal(loadDocumentsFast('a: [1, 2\nb: 3\n', true), undefined, 'syntax error');
  assert.equal(loadDocumentsFast('%YAML 1.1\n---\na: 1\n', true), undefined, 'directive');
  assert.equal(
    loadDocumentsFast('apiVersion: v1\nkind: List\nitems: []\n', true),
    undefined,
    'List',
  );
  const bad = parseManifestText(
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: [x\n',
    'bad.yaml',
  );
  assert.equal(bad.issues[0]?.code, 'WEFT_MANIFEST_SYNTAX');
  assert.match(bad.issues[0]?.object ?? '', /^bad\.yaml:\d+$/);
});

test('YAML 1.1 booleans in .yaml files, as Kubernetes reads them; JSON files are YAML 1.2', () => {
  const text = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {x: yes}}\n';
  assert.equal(parseManifestText(text, 'a.yaml').issues[0]?.field, 'metadata.labels.x');
  assert.equal(parseManifestText(text, 'a.json').issues.length, 0);
});
