import test from 'node:test';
import assert from 'node:assert/strict';
import { lintCluster, LintCodes, type Finding, type LintCode } from '../lint.js';
import {
  cluster,
  cnp,
  cnpRule,
  node,
  np,
  ns,
  pod,
  podsPeer,
  rule,
  sel,
} from '../../testing/builders.js';
import type { LabelSelector } from '../labels.js';
import type { Cluster } from '../model/types.js';

function only(c: Cluster, code: LintCode): Finding[] {
  return lintCluster(c).filter((f) => f.code === code);
}

const pods = [pod('prod/web', { app: 'web', tier: 'front' }), pod('prod/api', { app: 'api' })];

test('a NetworkPolicy whose podSelector selects no pod is reported', () => {
  const c = cluster({
    pods: [...pods, pod('prod/agent', { app: 'agent' }, { hostNetwork: true })],
    networkPolicies: [np('prod/agent', { podSelector: { app: 'agent' } })],
  });
  assert.deepEqual(only(c, LintCodes.SELECTS_NOTHING), [
    {
      severity: 'warning',
      code: 'WEFT_LINT_SELECTS_NOTHING',
      object: 'NetworkPolicy prod/agent',
      field: 'spec.podSelector',
      message:
        'podSelector app=agent selects no pod in namespace prod (hostNetwork pods are never selected): the policy has no effect',
      fix: 'make the selector match the labels of the pods to protect (kubectl get pods -n prod --show-labels)',
    },
  ]);
});

test('a ClusterNetworkPolicy whose subject selects no pod is reported', () => {
  const c = cluster({
    namespaces: [ns('prod', { env: 'prod' }), ns('dev', { env: 'dev' })],
    pods,
    clusterNetworkPolicies: [
      cnp('dev-only', { subject: { kind: 'namespaces', selector: sel({ env: 'dev' }) } }),
      cnp('prod-web', {
        priority: 20,
        subject: {
          kind: 'pods',
          namespaceSelector: sel({ env: 'prod' }),
          podSelector: sel({ app: 'web' }),
        },
      }),
    ],
  });
  const found = only(c, LintCodes.SELECTS_NOTHING);
  assert.deepEqual(
    found.map((f) => [f.object, f.field, f.message]),
    [
      [
        'ClusterNetworkPolicy dev-only',
        'spec.subject',
        'subject namespaces env=dev selects no pod (hostNetwork pods are never selected): the policy has no effect',
      ],
    ],
  );
});

test('a label key nobody carries is reported with the closest existing key', () => {
  const c = cluster({
    pods,
    networkPolicies: [np('prod/web', { podSelector: { ap: 'web' } })],
  });
  assert.deepEqual(only(c, LintCodes.UNKNOWN_LABEL_KEY), [
    {
      severity: 'warning',
      code: 'WEFT_LINT_UNKNOWN_LABEL_KEY',
      object: 'NetworkPolicy prod/web',
      field: 'spec.podSelector',
      message:
        'no pod carries label key "ap", so the selector selects no pod (did you mean "app"?)',
      fix: 'change the key "ap" to "app"',
    },
  ]);
});

test('a label key far from every existing key gets no suggestion', () => {
  const c = cluster({
    pods,
    networkPolicies: [np('prod/web', { podSelector: { 'example.com/role': 'x' } })],
  });
  const [f] = only(c, LintCodes.UNKNOWN_LABEL_KEY);
  assert.equal(f?.fix, 'correct the key, or label the intended pods with "example.com/role"');
});

test('NotIn and DoesNotExist on an unknown key are reported as having no effect', () => {
  const netpol = np('prod/web');
  const podSelector: LabelSelector = {
    requirements: [
      { key: 'app', operator: 'In', values: ['web'] },
      { key: 'tear', operator: 'NotIn', values: ['back'] },
      { key: 'legacy', operator: 'DoesNotExist', values: [] },
    ],
  };
  const c = cluster({ pods, networkPolicies: [{ ...netpol, podSelector }] });
  const within = '(in selector app=web,tear notin (back),!legacy)';
  assert.deepEqual(
    only(c, LintCodes.UNKNOWN_LABEL_KEY).map((f) => f.message),
    [
      `no pod carries label key "legacy" ${within}, so this requirement has no effect`,
      `no pod carries label key "tear" ${within}, so this requirement has no effect (did you mean "tier"?)`,
    ],
  );
});

test('a label value nobody carries is reported with the values in use', () => {
  const c = cluster({
    pods,
    networkPolicies: [np('prod/web', { ingress: [rule([podsPeer({ app: 'wbe' })])] })],
  });
  assert.deepEqual(only(c, LintCodes.UNKNOWN_LABEL_VALUE), [
    {
      severity: 'warning',
      code: 'WEFT_LINT_UNKNOWN_LABEL_VALUE',
      object: 'NetworkPolicy prod/web',
      field: 'spec.ingress[0].from[0].podSelector',
      message: 'no pod has label app=wbe; values in use for "app": api, web (did you mean "web"?)',
      fix: 'change the value to "web"',
    },
  ]);
});

test('namespace selectors are checked against namespaces, node selectors against nodes', () => {
  const c = cluster({
    namespaces: [ns('prod', { team: 'shop' })],
    pods,
    nodes: [node('n1', { zone: 'a' })],
    networkPolicies: [
      np('prod/web', { ingress: [rule([podsPeer({ app: 'web' }, { teem: 'shop' })])] }),
    ],
    clusterNetworkPolicies: [
      cnp('to-nodes', {
        egress: [cnpRule('Accept', [{ kind: 'nodes', selector: sel({ zone: 'b' }) }])],
      }),
    ],
  });
  const found = lintCluster(c).filter((f) => f.severity === 'warning');
  assert.deepEqual(
    found.map((f) => [f.code, f.object, f.field]),
    [
      [
        'WEFT_LINT_UNKNOWN_LABEL_VALUE',
        'ClusterNetworkPolicy to-nodes',
        'spec.egress[0].to[0].nodes',
      ],
      [
        'WEFT_LINT_UNKNOWN_LABEL_KEY',
        'NetworkPolicy prod/web',
        'spec.ingress[0].from[0].namespaceSelector',
      ],
    ],
  );
  assert.match(found[1]?.message ?? '', /^no namespace carries label key "teem"/);
});

test('inferred namespaces are checked by name only', () => {
  const c = cluster({
    namespaces: [ns('prod', {}, true)],
    pods,
    networkPolicies: [
      np('prod/web', {
        ingress: [
          rule([podsPeer({ app: 'web' }, { team: 'shop' })]),
          rule([podsPeer({ app: 'web' }, { 'kubernetes.io/metadata.name': 'prd' })]),
        ],
      }),
    ],
  });
  const found = lintCluster(c).filter((f) => f.severity === 'warning');
  assert.deepEqual(
    found.map((f) => [f.code, f.field]),
    [['WEFT_LINT_UNKNOWN_LABEL_VALUE', 'spec.ingress[1].from[0].namespaceSelector']],
  );
});

test('peers that select no pod or node are infos', () => {
  const c = cluster({
    namespaces: [ns('prod', { team: 'shop' }), ns('empty', { team: 'none' })],
    pods,
    nodes: [node('n1', { zone: 'a' }), node('n2', { pool: 'gpu' })],
    networkPolicies: [
      np('prod/web', {
        ingress: [rule([podsPeer({ app: 'web' }), podsPeer({}, { team: 'none' })])],
      }),
    ],
    clusterNetworkPolicies: [
      cnp('out', {
        egress: [
          cnpRule('Deny', [
            { kind: 'pods', namespaceSelector: sel({ team: 'none' }), podSelector: sel() },
            { kind: 'nodes', selector: sel({ zone: 'a', pool: 'gpu' }) },
          ]),
        ],
      }),
    ],
  });
  const found = only(c, LintCodes.PEER_SELECTS_NOTHING);
  assert.deepEqual(
    found.map((f) => [f.severity, f.object, f.field, f.message]),
    [
      [
        'info',
        'ClusterNetworkPolicy out',
        'spec.egress[0].to[0]',
        'peer (namespaceSelector team=none, podSelector <all>) selects no pod: it matches nothing for now',
      ],
      [
        'info',
        'ClusterNetworkPolicy out',
        'spec.egress[0].to[1]',
        'peer (nodes zone=a,pool=gpu) selects no node: it matches nothing for now',
      ],
      [
        'info',
        'NetworkPolicy prod/web',
        'spec.ingress[0].from[1]',
        'peer (namespaceSelector team=none, podSelector <all>) selects no pod: it matches nothing for now',
      ],
    ],
  );
});
