// The chart's ValidatingAdmissionPolicy for the agent's Node writes, as the
// manifest ships it: its CEL expressions, run with a CEL evaluator over the
// update requests an API server would hand it. The agent's own patch of its
// own Node passes; another Node, another annotation, a label or a spec field
// is refused; other users are not matched at all.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, type CelInput } from '@bufbuild/cel';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../src/testing/paths.js';

type Obj = Record<string, unknown>;

interface Policy {
  matchConditions: { expression: string }[];
  variables: { name: string; expression: string }[];
  validations: { expression: string; message: string }[];
}

function shipped(): Policy {
  const text = readFileSync(join(repoRoot(), 'deploy/manifests/weft.yaml'), 'utf8');
  const objects = parseAllDocuments(text).map((d) => d.toJS() as Obj);
  const vap = objects.find((o) => o?.['kind'] === 'ValidatingAdmissionPolicy');
  assert.ok(vap, 'the manifest has the ValidatingAdmissionPolicy');
  const binding = objects.find((o) => o?.['kind'] === 'ValidatingAdmissionPolicyBinding');
  assert.deepEqual((binding?.['spec'] as Obj)['validationActions'], ['Deny']);
  assert.equal((vap['spec'] as Obj)['failurePolicy'], 'Fail');
  return vap['spec'] as unknown as Policy;
}

/** JSON as CEL sees Kubernetes objects: maps with string keys. */
function cel(v: unknown): CelInput {
  if (Array.isArray(v)) return v.map(cel);
  if (v !== null && typeof v === 'object')
    return new Map(Object.entries(v).map(([k, x]) => [k, cel(x)]));
  return v as CelInput;
}

const AGENT = 'system:serviceaccount:kube-system:weft';

function node(name: string, annotations?: Obj, labels?: Obj, spec: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      ...(annotations ? { annotations } : {}),
      ...(labels ? { labels } : {}),
    },
    spec,
  };
}

/** What the API server answers: not matched, admitted, or the message of the first failed validation. */
function admit(p: Policy, user: string, podNode: string | undefined, old: Obj, now: Obj): string {
  const request = cel({
    userInfo: {
      username: user,
      extra: podNode ? { 'authentication.kubernetes.io/node-name': [podNode] } : {},
    },
  });
  const base = { request, object: cel(now), oldObject: cel(old) };
  if (!p.matchConditions.every((c) => run(c.expression, base) === true)) return 'not matched';
  const variables = new Map(
    p.variables.map((v) => [v.name, run(v.expression, base) as CelInput] as const),
  );
  for (const v of p.validations)
    if (run(v.expression, { ...base, variables }) !== true) return v.message;
  return 'admitted';
}

const OWN = 'node-1';
const before = node(
  OWN,
  { 'weft.dev/vtep': '02:00:00:00:00:01', 'kubeadm.alpha/cri': 'x' },
  {
    'kubernetes.io/os': 'linux',
  },
);

test("the agent's own Node: weft.dev/ annotations set, changed or removed are admitted", () => {
  const p = shipped();
  const ann = before['metadata'] as { annotations: Obj; labels: Obj };
  for (const annotations of [
    { ...ann.annotations, 'weft.dev/observe-url': 'http://192.0.2.1:9963' },
    { ...ann.annotations, 'weft.dev/vtep': '02:00:00:00:00:02' },
    { 'kubeadm.alpha/cri': 'x' },
  ])
    assert.equal(admit(p, AGENT, OWN, before, node(OWN, annotations, ann.labels)), 'admitted');
  // A Node with no annotations yet.
  const bare = node(OWN, undefined, ann.labels);
  assert.equal(
    admit(p, AGENT, OWN, bare, node(OWN, { 'weft.dev/vtep': 'v' }, ann.labels)),
    'admitted',
  );
});

test('another Node, another annotation, a label or the spec: refused with a message that says so', () => {
  const p = shipped();
  const ann = before['metadata'] as { annotations: Obj; labels: Obj };
  const other = node('node-2', ann.annotations, ann.labels);
  const otherAfter = node('node-2', { ...ann.annotations, 'weft.dev/vtep': 'v' }, ann.labels);
  assert.equal(
    admit(p, AGENT, OWN, other, otherAfter),
    "weft's agent may write only the Node its own pod runs on",
  );
  assert.equal(
    admit(
      p,
      AGENT,
      undefined,
      before,
      node(OWN, { ...ann.annotations, 'weft.dev/vtep': 'v' }, ann.labels),
    ),
    "weft's agent may write only the Node its own pod runs on",
    'a token without a node name',
  );
  for (const annotations of [
    { ...ann.annotations, 'kubeadm.alpha/cri': 'changed' },
    { 'weft.dev/vtep': '02:00:00:00:00:01' },
    { ...ann.annotations, 'example.com/new': 'y' },
  ])
    assert.equal(
      admit(p, AGENT, OWN, before, node(OWN, annotations, ann.labels)),
      "weft's agent may change only weft.dev/ annotations of its Node",
      JSON.stringify(annotations),
    );
  assert.equal(
    admit(p, AGENT, OWN, before, node(OWN, ann.annotations, { ...ann.labels, role: 'x' })),
    "weft's agent may not change a Node's labels or spec",
  );
  assert.equal(
    admit(p, AGENT, OWN, before, node(OWN, ann.annotations, ann.labels, { unschedulable: true })),
    "weft's agent may not change a Node's labels or spec",
  );
});

test('other users are not matched: the kubelet and operators keep their own rules', () => {
  const p = shipped();
  const after = node('node-2', { x: 'y' }, { role: 'x' }, { unschedulable: true });
  for (const user of [
    'system:node:node-2',
    'kubernetes-admin',
    'system:serviceaccount:kube-system:weft-other',
  ])
    assert.equal(admit(p, user, undefined, node('node-2'), after), 'not matched', user);
});
