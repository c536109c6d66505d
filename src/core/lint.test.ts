import test from 'node:test';
import assert from 'node:assert/strict';
import { compareFindings, lintCluster, type Finding } from './lint.js';
import {
  cluster,
  cnp,
  cnpRule,
  DNS_RULE,
  named,
  node,
  np,
  ns,
  pod,
  podsPeer,
  rule,
  sel,
  tcp,
} from '../testing/builders.js';
import type { Cluster } from './model/types.js';

/** A small shop that does everything right: default deny, DNS allowed, narrow rules. */
function cleanCluster(): Cluster {
  return cluster({
    namespaces: [
      ns('prod', { team: 'shop' }),
      ns('monitoring', { team: 'obs' }),
      ns('kube-system'),
    ],
    pods: [
      pod('prod/web', { app: 'web' }, { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }),
      pod('prod/db', { app: 'db' }, { ports: [{ name: 'postgres', port: 5432, protocol: 'TCP' }] }),
      pod('monitoring/prom', { app: 'prom' }),
      pod(
        'kube-system/coredns',
        { 'k8s-app': 'kube-dns' },
        {
          ports: [
            { name: 'dns', port: 53, protocol: 'UDP' },
            { name: 'dns-tcp', port: 53, protocol: 'TCP' },
          ],
        },
      ),
      pod('kube-system/kube-proxy', { app: 'kube-proxy' }, { hostNetwork: true }),
    ],
    nodes: [node('n1', { 'node-role.kubernetes.io/worker': '' })],
    networkPolicies: [
      np('prod/default-deny', { policyTypes: ['ingress', 'egress'] }),
      np('prod/allow-dns', { policyTypes: ['egress'], egress: [DNS_RULE] }),
      np('prod/web', {
        podSelector: { app: 'web' },
        policyTypes: ['ingress', 'egress'],
        ingress: [
          rule(undefined, [named('http')]),
          rule([podsPeer({ app: 'prom' }, { team: 'obs' })]),
        ],
        egress: [rule([podsPeer({ app: 'db' })], [named('postgres')])],
      }),
      np('prod/db', {
        podSelector: { app: 'db' },
        ingress: [rule([podsPeer({ app: 'web' })], [tcp(5432)])],
      }),
    ],
    clusterNetworkPolicies: [
      cnp('monitoring-in', {
        priority: 10,
        subject: { kind: 'namespaces', selector: sel({ team: 'shop' }) },
        ingress: [
          cnpRule('Accept', [{ kind: 'namespaces', selector: sel({ team: 'obs' }) }], [tcp(9090)]),
        ],
      }),
      cnp('nodes-out', {
        tier: 'Baseline',
        priority: 10,
        egress: [
          cnpRule('Accept', [
            { kind: 'nodes', selector: sel({ 'node-role.kubernetes.io/worker': '' }) },
          ]),
        ],
      }),
    ],
  });
}

test('a clean, correct set of policies has no findings', () => {
  assert.deepEqual(lintCluster(cleanCluster()), []);
});

test('policies without any pods, namespaces labels or nodes to compare with raise no false alarms', () => {
  const c = cleanCluster();
  const bare: Cluster = {
    ...c,
    pods: [],
    nodes: [],
    namespaces: new Map(
      [...c.namespaces].map(([k, n]) => [
        k,
        { ...n, labels: { 'kubernetes.io/metadata.name': k }, implicit: true },
      ]),
    ),
  };
  assert.deepEqual(lintCluster(bare), []);
});

test('findings are sorted by object, then field (numbers as numbers), then code', () => {
  const f = (object: string, field: string, code: Finding['code']): Finding => ({
    severity: 'warning',
    code,
    object,
    field,
    message: '',
    fix: '',
  });
  const sorted = [
    f('ClusterNetworkPolicy z', 'spec.egress[2]', 'WEFT_LINT_SHADOWED_RULE'),
    f('NetworkPolicy a/b', 'spec.egress[2]', 'WEFT_LINT_NO_DNS'),
    f('NetworkPolicy a/b', 'spec.egress[10]', 'WEFT_LINT_IGNORED_RULES'),
    f('NetworkPolicy a/b', 'spec.egress[10]', 'WEFT_LINT_NO_DNS'),
    f('NetworkPolicy a/c', 'spec.podSelector', 'WEFT_LINT_SELECTS_NOTHING'),
  ];
  assert.deepEqual([...sorted].reverse().sort(compareFindings), sorted);
});

test('the same cluster always lints to the same list', () => {
  const c = cleanCluster();
  const broken: Cluster = {
    ...c,
    networkPolicies: [
      ...c.networkPolicies,
      np('prod/typo', { podSelector: { ap: 'web' }, policyTypes: ['egress'], ingress: [rule()] }),
    ],
  };
  const reversed: Cluster = { ...broken, networkPolicies: [...broken.networkPolicies].reverse() };
  const first = lintCluster(broken);
  assert.ok(first.length > 0);
  assert.deepEqual(lintCluster(reversed), first);
});
