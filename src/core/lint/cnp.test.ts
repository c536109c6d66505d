import test from 'node:test';
import assert from 'node:assert/strict';
import { lintCluster, LintCodes, type Finding } from '../lint.js';
import { cidr, cluster, cnp, cnpRule, ns, pod, sel, tcp, udp } from '../../testing/builders.js';
import type { Cluster, CnpPeer } from '../model/types.js';

const namespaces = [ns('prod', { env: 'prod' }), ns('dev', { env: 'dev' })];
const pods = [pod('prod/web', { app: 'web' }), pod('dev/web', { app: 'web' })];

function only(c: Cluster, code: string): Finding[] {
  return lintCluster(c).filter((f) => f.code === code);
}

test('same tier and priority with overlapping subjects is reported once, on the later name', () => {
  const c = cluster({
    namespaces,
    pods,
    clusterNetworkPolicies: [
      cnp('b-web', {
        priority: 5,
        subject: { kind: 'pods', namespaceSelector: sel(), podSelector: sel({ app: 'web' }) },
      }),
      cnp('a-prod', {
        priority: 5,
        subject: { kind: 'namespaces', selector: sel({ env: 'prod' }) },
      }),
      cnp('c-dev', {
        priority: 5,
        tier: 'Baseline',
        subject: { kind: 'namespaces', selector: sel({ env: 'dev' }) },
      }),
      cnp('d-dev', { priority: 6, subject: { kind: 'namespaces', selector: sel({ env: 'dev' }) } }),
    ],
  });
  assert.deepEqual(only(c, LintCodes.PRIORITY_TIE), [
    {
      severity: 'warning',
      code: 'WEFT_LINT_PRIORITY_TIE',
      object: 'ClusterNetworkPolicy b-web',
      field: 'spec.priority',
      message:
        'same tier (Admin) and priority (5) as ClusterNetworkPolicy a-prod, and both apply to prod/web: which one is evaluated first is implementation-defined',
      fix: 'give one of a-prod and b-web a different priority',
    },
  ]);
});

test('disjoint subjects may share a priority', () => {
  const c = cluster({
    namespaces,
    pods,
    clusterNetworkPolicies: [
      cnp('prod', { subject: { kind: 'namespaces', selector: sel({ env: 'prod' }) } }),
      cnp('dev', { subject: { kind: 'namespaces', selector: sel({ env: 'dev' }) } }),
    ],
  });
  assert.deepEqual(only(c, LintCodes.PRIORITY_TIE), []);
});

test('without pods, only identical subjects count as overlapping', () => {
  const c = cluster({
    clusterNetworkPolicies: [
      cnp('x'),
      cnp('y'),
      cnp('z', { subject: { kind: 'namespaces', selector: sel({ env: 'dev' }) } }),
    ],
  });
  assert.deepEqual(
    only(c, LintCodes.PRIORITY_TIE).map((f) => f.message),
    [
      'same tier (Admin) and priority (10) as ClusterNetworkPolicy x, and their subjects are identical: which one is evaluated first is implementation-defined',
    ],
  );
});

test('a rule with the same peers and ports as an earlier rule is shadowed', () => {
  const prod: CnpPeer = { kind: 'namespaces', selector: sel({ env: 'prod' }) };
  const nets = (...c: string[]): CnpPeer => ({ kind: 'networks', cidrs: c.map(cidr) });
  const c = cluster({
    namespaces,
    pods,
    clusterNetworkPolicies: [
      cnp('p', {
        ingress: [
          cnpRule('Deny', [prod], [tcp(80), udp(53)], 'no-prod'),
          cnpRule('Accept', [prod], [udp(53), tcp(80)], 'allow-prod'),
          cnpRule('Accept', [prod], [tcp(80)]),
        ],
        egress: [
          cnpRule('Pass', [nets('10.0.0.0/8', '192.168.0.0/16')]),
          cnpRule('Deny', [nets('192.168.0.0/16', '10.0.0.0/8')], [tcp(443)]),
          cnpRule('Deny', [nets('10.0.0.0/8')], [tcp(443)]),
        ],
      }),
    ],
  });
  assert.deepEqual(
    only(c, LintCodes.SHADOWED_RULE).map((f) => [f.field, f.message, f.fix]),
    [
      [
        'spec.egress[1]',
        'rule egress[1] (Deny) matches no traffic that rule egress[0] (Pass) has not already decided: it never applies',
        'remove rule egress[1], or move it before egress[0] if it should win',
      ],
      [
        'spec.ingress[1]',
        'rule ingress[1] "allow-prod" (Accept) matches no traffic that rule ingress[0] "no-prod" (Deny) has not already decided: it never applies',
        'remove rule ingress[1] "allow-prod", or move it before ingress[0] "no-prod" if it should win',
      ],
    ],
  );
});
