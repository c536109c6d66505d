import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes, WeftError } from '../../core/errors.js';
import { loadManifests, parseManifestText } from './load.js';

const MULTI = `# a leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: prod
---
---
# an empty document, only a comment
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: prod
  labels:
    app: web
spec:
  containers:
    - name: c
      ports:
        - containerPort: 80
          name: http
---

apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-web
  namespace: prod
spec:
  podSelector: {}
`;

test('multi-document YAML: one object per document, empty documents skipped, origins on the first line', () => {
  const out = parseManifestText(MULTI, 'all.yaml');
  assert.deepEqual(out.issues, []);
  assert.deepEqual(
    out.objects.map((o) => [o.kind, o.name, o.origin]),
    [
      ['Namespace', 'prod', { file: 'all.yaml', line: 2 }],
      ['Pod', 'web-1', { file: 'all.yaml', line: 16 }],
      ['NetworkPolicy', 'allow-web', { file: 'all.yaml', line: 31 }],
    ],
  );
  assert.deepEqual(out.skipped, ['Deployment prod/web (all.yaml:10)']);
});

test('issues name the object with file:line and the field', () => {
  const text = `apiVersion: v1
kind: Pod
metadata:
  name: ok
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: bad
  namespace: prod
spec:
  podSelector: {}
  ingress:
    - ports:
        - port: 80
          endPort: 79
`;
  const out = parseManifestText(text, 'p.yaml');
  assert.deepEqual(
    out.issues.map((i) => [i.code, i.object, i.field]),
    [
      [
        ErrorCodes.INVALID_FIELD,
        'NetworkPolicy prod/bad (p.yaml:6)',
        'spec.ingress[0].ports[0].endPort',
      ],
    ],
  );
  assert.deepEqual(
    out.objects.map((o) => o.name),
    ['ok'],
  );
});

test('YAML syntax errors are WEFT_MANIFEST_SYNTAX at file:line; other documents are still read', () => {
  const text = `apiVersion: v1
kind: Namespace
metadata:
  name: a
---
apiVersion: v1
kind: Pod
metadata:
  name: [unclosed
  namespace: x
---
apiVersion: v1
kind: Namespace
metadata:
  name: b
`;
  const out = parseManifestText(text, 'broken.yaml');
  assert.ok(out.issues.length >= 1);
  for (const i of out.issues) assert.equal(i.code, ErrorCodes.MANIFEST_SYNTAX);
  assert.match(out.issues[0]?.object ?? '', /^broken\.yaml:(9|10|11)$/);
  assert.deepEqual(
    out.objects.map((o) => o.name),
    ['a', 'b'],
  );
  const dup = parseManifestText('apiVersion: v1\nkind: Namespace\nkind: Pod\n', 'dup.yaml');
  assert.deepEqual(
    dup.issues.map((i) => [i.code, i.object]),
    [[ErrorCodes.MANIFEST_SYNTAX, 'dup.yaml:3']],
  );
});

test('a document that is not an object is an error naming file:line', () => {
  const out = parseManifestText(
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n- just\n- a list\n',
    'l.yaml',
  );
  assert.deepEqual(
    out.issues.map((i) => [i.code, i.object]),
    [[ErrorCodes.INVALID_FIELD, 'manifest (l.yaml:5)']],
  );
});

test('kind: List expands its items, each with its own line', () => {
  const text = `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
  - apiVersion: v1
    kind: Pod
    metadata:
      name: a
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: cfg
  - apiVersion: v1
    kind: Pod
    metadata:
      name: Bad_Name
`;
  const out = parseManifestText(text, 'list.yaml');
  assert.deepEqual(
    out.objects.map((o) => [o.name, o.origin]),
    [['a', { file: 'list.yaml', line: 6 }]],
  );
  assert.deepEqual(out.skipped, ['ConfigMap default/cfg (list.yaml:10)']);
  assert.deepEqual(
    out.issues.map((i) => [i.object, i.field]),
    [['Pod default/Bad_Name (list.yaml:14)', 'metadata.name']],
  );
});

test('YAML 1.1 booleans, as Kubernetes reads them: an unquoted yes is not a string label', () => {
  const text = `apiVersion: v1
kind: Pod
metadata:
  name: p
  labels:
    enabled: yes
`;
  const out = parseManifestText(text, 'b.yaml');
  assert.deepEqual(
    out.issues.map((i) => [i.code, i.field, i.fix]),
    [[ErrorCodes.INVALID_FIELD, 'metadata.labels.enabled', 'quote the value']],
  );
});

test('JSON files are read too', () => {
  const out = parseManifestText(
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'j' } }, null, 2),
    'ns.json',
  );
  assert.deepEqual(out.issues, []);
  assert.deepEqual(out.objects[0]?.origin, { file: 'ns.json', line: 1 });
});

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-manifests-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function write(dir: string, rel: string, text: string): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
const podYaml = (name: string, ip?: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: app\n${ip ? `status:\n  podIP: ${ip}\n` : ''}`;

test('loadManifests reads directories recursively (.yaml, .yml, .json only) and builds the cluster', async (t) => {
  const dir = tempDir(t);
  write(dir, 'b/pods.yml', `${podYaml('p2', '10.0.0.2')}---\n${podYaml('p1', '10.0.0.1')}`);
  write(dir, 'a/deep/ns.yaml', ns('app'));
  write(
    dir,
    'c.json',
    JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } }),
  );
  write(dir, 'README.md', '# not a manifest: [');
  write(dir, 'notes.txt', 'kind: [');
  write(
    dir,
    'cm.yaml',
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n  namespace: app\n',
  );
  write(
    dir,
    'svc.yaml',
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: app\nspec:\n  ports: [{port: 80}]\n',
  );
  const { cluster, skipped } = await loadManifests([dir]);
  assert.deepEqual(
    cluster.pods.map((p) => [p.name, p.origin]),
    [
      ['p1', { file: path.join(dir, 'b/pods.yml'), line: 9 }],
      ['p2', { file: path.join(dir, 'b/pods.yml'), line: 1 }],
    ],
  );
  assert.equal(cluster.namespaces.get('app')?.implicit, false);
  assert.deepEqual(
    cluster.nodes.map((n) => n.name),
    ['n1'],
  );
  assert.deepEqual(skipped, [`ConfigMap app/s (${path.join(dir, 'cm.yaml')}:1)`]);
  assert.deepEqual(
    cluster.services.map((s) => [s.namespace, s.name]),
    [['app', 's']],
  );
});

test('loadManifests accepts files and directories together, each file read once', async (t) => {
  const dir = tempDir(t);
  const file = write(dir, 'ns.yaml', ns('one'));
  write(dir, 'sub/ns2.yaml', ns('two'));
  const { cluster } = await loadManifests([file, dir, path.join(dir, 'sub')]);
  assert.deepEqual([...cluster.namespaces.keys()], ['one', 'two']);
});

test('loadManifests throws one WeftError with every issue of every file', async (t) => {
  const dir = tempDir(t);
  write(dir, 'a.yaml', `${ns('app')}---\n${podYaml('p', '10.0.0.1')}`);
  write(dir, 'b.yaml', `${podYaml('p')}---\n${podYaml('q', '10.0.0.1')}---\nkind: [\n`);
  write(
    dir,
    'c.yaml',
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: x\nspec: {}\n',
  );
  const missing = path.join(dir, 'nope');
  await assert.rejects(loadManifests([dir, missing]), (err: unknown) => {
    assert.ok(err instanceof WeftError);
    const got = err.issues.map((i) => [i.code, i.object.replace(dir + path.sep, ''), i.field]);
    assert.deepEqual(
      got.sort(),
      [
        [ErrorCodes.NOT_FOUND, missing.replace(dir + path.sep, ''), ''],
        [ErrorCodes.MANIFEST_SYNTAX, 'b.yaml:15', ''],
        [ErrorCodes.MISSING_FIELD, 'NetworkPolicy default/x (c.yaml:1)', 'spec.podSelector'],
        [ErrorCodes.DUPLICATE_OBJECT, 'Pod app/p (b.yaml:1)', 'metadata.name'],
        [ErrorCodes.ADDRESS, 'Pod app/q (b.yaml:7)', 'status.podIPs'],
      ].sort(),
    );
    return true;
  });
});

test('loadManifests on an empty directory gives an empty cluster', async (t) => {
  const dir = tempDir(t);
  const { cluster, skipped } = await loadManifests([dir]);
  assert.equal(cluster.pods.length, 0);
  assert.equal(cluster.namespaces.size, 0);
  assert.deepEqual(skipped, []);
});
