import test from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from '../errors.js';
import { parseObject } from './parse.js';

const { INVALID_FIELD, MISSING_FIELD, UNKNOWN_FIELD, UNKNOWN_KIND } = ErrorCodes;
const origin = { file: 'm.yaml', line: 7 };

function codes(raw: unknown): [string, string, string][] {
  const r = parseObject(raw, origin);
  assert.equal(r.object, undefined);
  return r.issues.map((i) => [i.code, i.object, i.field]);
}

const np = (metadata: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata,
  spec: { podSelector: {} },
  ...extra,
});

test('well-known kinds weft does not read are skipped, not errors', () => {
  const cases: [unknown, string][] = [
    [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: {} },
      'Deployment default/web',
    ],
    [
      { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'api', namespace: 'prod' } },
      'Endpoints prod/api',
    ],
    [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: 'b' } },
      'ConfigMap default/cfg',
    ],
    [
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'r' } },
      'ClusterRole r',
    ],
    [
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: 'c', namespace: 'x' },
      },
      'Certificate x/c',
    ],
    [
      { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i' } },
      'Ingress default/i',
    ],
  ];
  for (const [raw, skipped] of cases) {
    assert.deepEqual(parseObject(raw, origin), { issues: [], skipped });
  }
});

test('a known kind in a wrong apiVersion is an error naming the supported version', () => {
  const r = parseObject(
    { ...np({ name: 'a', namespace: 'prod' }), apiVersion: 'extensions/v1beta1' },
    origin,
  );
  assert.equal(r.object, undefined);
  assert.equal(r.issues.length, 1);
  const [i] = r.issues;
  assert.equal(i?.code, INVALID_FIELD);
  assert.equal(i?.object, 'NetworkPolicy prod/a (m.yaml:7)');
  assert.equal(i?.field, 'apiVersion');
  assert.match(i?.message ?? '', /networking\.k8s\.io\/v1/);
  assert.equal(i?.fix, 'set apiVersion: networking.k8s.io/v1');
  assert.deepEqual(
    codes({
      apiVersion: 'policy.networking.k8s.io/v1alpha1',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'c' },
    }),
    [[INVALID_FIELD, 'ClusterNetworkPolicy c (m.yaml:7)', 'apiVersion']],
  );
  assert.deepEqual(codes({ apiVersion: 'apps/v1', kind: 'Pod', metadata: { name: 'p' } }), [
    [INVALID_FIELD, 'Pod default/p (m.yaml:7)', 'apiVersion'],
  ]);
});

test('unknown kinds in the API groups weft reads are errors (likely typos); superseded policy kinds too', () => {
  assert.deepEqual(
    codes({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicies', metadata: { name: 'a' } }),
    [[UNKNOWN_KIND, 'NetworkPolicies a (m.yaml:7)', 'kind']],
  );
  assert.deepEqual(codes({ apiVersion: 'v1', kind: 'Pods', metadata: { name: 'a' } }), [
    [UNKNOWN_KIND, 'Pods a (m.yaml:7)', 'kind'],
  ]);
  const anp = parseObject(
    {
      apiVersion: 'policy.networking.k8s.io/v1alpha1',
      kind: 'AdminNetworkPolicy',
      metadata: { name: 'a' },
    },
    origin,
  );
  assert.equal(anp.issues[0]?.code, UNKNOWN_KIND);
  assert.match(anp.issues[0]?.fix ?? '', /ClusterNetworkPolicy.*tier: Admin/);
});

test('a document must be an object with apiVersion and kind', () => {
  assert.deepEqual(codes('just text'), [[INVALID_FIELD, 'manifest (m.yaml:7)', '']]);
  assert.deepEqual(codes([1, 2]), [[INVALID_FIELD, 'manifest (m.yaml:7)', '']]);
  assert.deepEqual(codes({ metadata: { name: 'x' } }), [
    [MISSING_FIELD, 'manifest (m.yaml:7)', 'kind'],
    [MISSING_FIELD, 'manifest (m.yaml:7)', 'apiVersion'],
  ]);
  assert.deepEqual(codes({ apiVersion: 'v1', kind: 3 }), [
    [INVALID_FIELD, 'manifest (m.yaml:7)', 'kind'],
  ]);
  assert.deepEqual(
    parseObject({ apiVersion: 'v1', kind: 'List', items: [] }, origin).issues[0]?.code,
    UNKNOWN_KIND,
  );
});

test('metadata.name is required and must be a DNS-1123 subdomain of at most 253 characters', () => {
  assert.deepEqual(codes(np(undefined)), [
    [MISSING_FIELD, 'NetworkPolicy default/<unnamed> (m.yaml:7)', 'metadata.name'],
  ]);
  assert.deepEqual(codes(np({ namespace: 'prod' })), [
    [MISSING_FIELD, 'NetworkPolicy prod/<unnamed> (m.yaml:7)', 'metadata.name'],
  ]);
  assert.deepEqual(codes(np({ name: 'Allow_Web' })), [
    [INVALID_FIELD, 'NetworkPolicy default/Allow_Web (m.yaml:7)', 'metadata.name'],
  ]);
  assert.deepEqual(
    codes(np({ name: 'a'.repeat(254) })).map((x) => x[2]),
    ['metadata.name'],
  );
  const long = parseObject(
    np({ name: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}` }),
    origin,
  );
  assert.deepEqual(long.issues, []);
  assert.deepEqual(
    codes(np({ name: 7 })).map((x) => [x[0], x[2]]),
    [[INVALID_FIELD, 'metadata.name']],
  );
});

test('metadata.namespace defaults to "default" and must be a DNS-1123 label', () => {
  const r = parseObject(np({ name: 'a' }), origin);
  assert.equal(r.object?.kind === 'NetworkPolicy' && r.object.namespace, 'default');
  assert.deepEqual(codes(np({ name: 'a', namespace: 'Prod.ns' })), [
    [INVALID_FIELD, 'NetworkPolicy Prod.ns/a (m.yaml:7)', 'metadata.namespace'],
  ]);
});

test('server-populated metadata is tolerated; unknown metadata and top-level fields are not', () => {
  const server = {
    name: 'a',
    namespace: 'prod',
    uid: 'f00',
    resourceVersion: '12',
    generation: 3,
    creationTimestamp: '2024-01-01T00:00:00Z',
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
    finalizers: ['x/y'],
    ownerReferences: [],
    generateName: 'a-',
    deletionTimestamp: '2024-01-02T00:00:00Z',
    deletionGracePeriodSeconds: 30,
    selfLink: '/apis/x',
  };
  assert.deepEqual(parseObject(np(server), origin).issues, []);
  const obj = 'NetworkPolicy prod/a (m.yaml:7)';
  assert.deepEqual(codes(np({ name: 'a', namespace: 'prod', lables: { app: 'x' } })), [
    [UNKNOWN_FIELD, obj, 'metadata.lables'],
  ]);
  assert.deepEqual(codes(np({ name: 'a', namespace: 'prod' }, { labels: { app: 'x' } })), [
    [UNKNOWN_FIELD, obj, 'labels'],
  ]);
  // The same holds for workload kinds: their top level and metadata are strict.
  assert.deepEqual(
    codes({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', labels: { app: 'x' } },
      labels: {},
    }).map((x) => [x[0], x[2]]),
    [[UNKNOWN_FIELD, 'labels']],
  );
  assert.deepEqual(
    codes({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations: { a: 1 } } }).map(
      (x) => [x[0], x[2]],
    ),
    [[INVALID_FIELD, 'metadata.annotations.a']],
  );
});

test('labels are validated as the API server does', () => {
  const r = parseObject(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        labels: { 'bad key!': 'x', app: 'no spaces', ok: 'fine', flag: true },
      },
    },
    origin,
  );
  assert.deepEqual(
    r.issues.map((i) => [i.code, i.field]),
    [
      [INVALID_FIELD, 'metadata.labels.flag'],
      [INVALID_FIELD, 'metadata.labels.bad key!'],
      [INVALID_FIELD, 'metadata.labels.app'],
    ],
  );
});
