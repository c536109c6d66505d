import test from 'node:test';
import assert from 'node:assert/strict';
import { lintCluster, LintCodes, type Finding } from '../lint.js';
import { DNS_FIX } from './dns.js';
import {
  cluster,
  cnp,
  cnpRule,
  DNS_RULE,
  ipBlock,
  named,
  np,
  pod,
  podsPeer,
  rule,
  sel,
  tcp,
  udp,
} from '../../testing/builders.js';
import type { Cluster, NetworkPolicy, NetworkPolicyRule } from '../model/types.js';

const pods = [
  pod('prod/web', { app: 'web' }),
  pod('prod/api', { app: 'api' }),
  pod(
    'kube-system/coredns',
    { 'k8s-app': 'kube-dns' },
    { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] },
  ),
];

function noDns(c: Cluster): Finding[] {
  return lintCluster(c).filter((f) => f.code === LintCodes.NO_DNS);
}

function egressOnly(...egress: NetworkPolicyRule[]): NetworkPolicy {
  return np('prod/web', { podSelector: { app: 'web' }, policyTypes: ['egress'], egress });
}

test('egress-isolated pods without a DNS rule are reported', () => {
  const c = cluster({
    pods,
    networkPolicies: [egressOnly(rule([podsPeer({ app: 'api' })], [tcp(443)]))],
  });
  assert.deepEqual(noDns(c), [
    {
      severity: 'warning',
      code: 'WEFT_LINT_NO_DNS',
      object: 'NetworkPolicy prod/web',
      field: 'spec.egress',
      message:
        'pods selected by this policy (prod/web) are egress-isolated and no egress rule lets them reach DNS (UDP port 53): they cannot resolve names',
      fix: DNS_FIX,
    },
  ]);
});

test('a default-deny egress policy is reported for every pod it cuts off', () => {
  const c = cluster({
    pods,
    networkPolicies: [np('prod/deny', { policyTypes: ['ingress', 'egress'] })],
  });
  assert.match(
    noDns(c)[0]?.message ?? '',
    /^pods selected by this policy \(prod\/web, prod\/api\) are egress-isolated/,
  );
});

test('rules that may reach DNS on UDP 53 silence the warning', () => {
  const cases: [string, NetworkPolicyRule][] = [
    ['the DNS rule', DNS_RULE],
    ['every peer, every port', rule()],
    ['every peer, UDP 53', rule(undefined, [udp(53)])],
    ['a UDP range containing 53', rule([ipBlock('10.0.0.0/8')], [udp(1, 1024)])],
    ['all of UDP', rule([ipBlock('10.96.0.10/32')], [{ kind: 'protocol', protocol: 'UDP' }])],
    ['a named UDP port', rule([podsPeer({}, {})], [named('dns', 'UDP')])],
    ['any namespace selector', rule([podsPeer({ app: 'whatever' }, { team: 'x' })], [udp(53)])],
  ];
  for (const [what, r] of cases) {
    const c = cluster({ pods, networkPolicies: [egressOnly(r)] });
    assert.deepEqual(noDns(c), [], what);
  }
});

test('rules that cannot reach DNS on UDP 53 do not count', () => {
  const cases: [string, NetworkPolicyRule][] = [
    ['TCP 53 only', rule(undefined, [tcp(53)])],
    ['a UDP range without 53', rule(undefined, [udp(54, 100)])],
    ['own-namespace pods without DNS', rule([podsPeer({ app: 'api' })], [udp(53)])],
    ['all of TCP', rule(undefined, [{ kind: 'protocol', protocol: 'TCP' }])],
  ];
  for (const [what, r] of cases) {
    const c = cluster({ pods, networkPolicies: [egressOnly(r)] });
    assert.equal(noDns(c).length, 1, what);
  }
});

test('another policy selecting the same pods may allow DNS: policies add up', () => {
  const allowDns = np('prod/allow-dns', { policyTypes: ['egress'], egress: [DNS_RULE] });
  const c = cluster({ pods, networkPolicies: [egressOnly(), allowDns] });
  assert.deepEqual(noDns(c), []);
  // A DNS policy for other pods does not help.
  const forApi = { ...allowDns, podSelector: sel({ app: 'api' }) };
  assert.equal(noDns(cluster({ pods, networkPolicies: [egressOnly(), forApi] })).length, 1);
});

test('an Admin-tier Accept for DNS covers the pods of its subject', () => {
  const accept = cnp('dns', {
    egress: [
      cnpRule(
        'Accept',
        [{ kind: 'namespaces', selector: sel({ 'kubernetes.io/metadata.name': 'kube-system' }) }],
        [udp(53)],
      ),
    ],
  });
  assert.deepEqual(
    noDns(cluster({ pods, networkPolicies: [egressOnly()], clusterNetworkPolicies: [accept] })),
    [],
  );
  const baseline = { ...accept, tier: 'Baseline' as const };
  assert.equal(
    noDns(cluster({ pods, networkPolicies: [egressOnly()], clusterNetworkPolicies: [baseline] }))
      .length,
    1,
  );
});

test('ingress-only policies and policies selecting nothing are not reported', () => {
  const c = cluster({
    pods,
    networkPolicies: [
      np('prod/in', { ingress: [] }),
      np('prod/none', { podSelector: { app: 'x' }, policyTypes: ['egress'] }),
    ],
  });
  assert.deepEqual(noDns(c), []);
});

test('without pods, another egress policy of the namespace allowing DNS is enough', () => {
  const deny = np('prod/deny', { policyTypes: ['egress'] });
  assert.equal(
    noDns(cluster({ networkPolicies: [deny] }))[0]?.message.startsWith(
      'pods selected by podSelector <all>',
    ),
    true,
  );
  const allow = np('prod/dns', {
    podSelector: { app: 'web' },
    policyTypes: ['egress'],
    egress: [DNS_RULE],
  });
  assert.deepEqual(noDns(cluster({ networkPolicies: [deny, allow] })), []);
});
