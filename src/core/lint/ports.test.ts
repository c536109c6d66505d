import test from 'node:test';
import assert from 'node:assert/strict';
import { lintCluster, LintCodes, type Finding } from '../lint.js';
import {
  cluster,
  cnp,
  cnpRule,
  ipBlock,
  named,
  np,
  pod,
  podsPeer,
  rule,
  sel,
} from '../../testing/builders.js';
import type { Cluster } from '../model/types.js';

const pods = [
  pod(
    'prod/web',
    { app: 'web' },
    { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], ip: '10.0.0.1' },
  ),
  pod(
    'prod/dns',
    { app: 'dns' },
    { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }], ip: '10.0.0.2' },
  ),
  pod('prod/client', { app: 'client' }, { ip: '10.0.1.1' }),
];

function namedPorts(c: Cluster): Finding[] {
  return lintCluster(c).filter((f) => f.code === LintCodes.UNKNOWN_NAMED_PORT);
}

test('an ingress named port that the selected pods do not declare is reported', () => {
  const c = cluster({
    pods,
    networkPolicies: [
      np('prod/web', { podSelector: { app: 'web' }, ingress: [rule(undefined, [named('htp')])] }),
    ],
  });
  assert.deepEqual(namedPorts(c), [
    {
      severity: 'warning',
      code: 'WEFT_LINT_UNKNOWN_NAMED_PORT',
      object: 'NetworkPolicy prod/web',
      field: 'spec.ingress[0].ports[0]',
      message:
        'named port "htp" (TCP) is declared by none of the destination pods (prod/web) (did you mean "http"?): this port never matches',
      fix: 'change the port name "htp" to "http"',
    },
  ]);
});

test('a named port declared for another protocol is reported with that protocol', () => {
  const c = cluster({
    pods,
    networkPolicies: [
      np('prod/client', {
        podSelector: { app: 'client' },
        policyTypes: ['egress'],
        egress: [rule([podsPeer({ app: 'dns' })], [named('dns', 'TCP'), named('dns', 'UDP')])],
      }),
    ],
  });
  const found = namedPorts(c);
  assert.deepEqual(
    found.map((f) => [f.field, f.message, f.fix]),
    [
      [
        'spec.egress[0].ports[0]',
        'named port "dns" (TCP) is declared by none of the destination pods (prod/dns); they declare it for UDP only: this port never matches',
        'set the protocol to UDP, or declare "dns" for TCP on the destination pods',
      ],
    ],
  );
});

test('egress named ports resolve against the peer pods, ipBlocks against the pods inside', () => {
  const egress = (peers: Parameters<typeof rule>[0]) =>
    cluster({
      pods,
      networkPolicies: [
        np('prod/c', {
          podSelector: { app: 'client' },
          policyTypes: ['egress'],
          egress: [rule(peers, [named('http')])],
        }),
      ],
    });
  assert.deepEqual(namedPorts(egress([podsPeer({ app: 'web' })])), []);
  assert.equal(namedPorts(egress([podsPeer({ app: 'dns' })])).length, 1);
  assert.deepEqual(namedPorts(egress(undefined)), []);
  assert.deepEqual(namedPorts(egress([ipBlock('10.0.0.0/24')])), []);
  assert.equal(namedPorts(egress([ipBlock('10.0.1.0/24')])).length, 1);
});

test('ClusterNetworkPolicy named ports match any protocol', () => {
  const policy = (port: string) =>
    cnp('in', {
      subject: { kind: 'pods', namespaceSelector: sel(), podSelector: sel({ app: 'dns' }) },
      ingress: [cnpRule('Accept', [{ kind: 'namespaces', selector: sel() }], [named(port, 'any')])],
    });
  assert.deepEqual(namedPorts(cluster({ pods, clusterNetworkPolicies: [policy('dns')] })), []);
  const [f] = namedPorts(cluster({ pods, clusterNetworkPolicies: [policy('domain')] }));
  assert.deepEqual(
    [f?.object, f?.field],
    ['ClusterNetworkPolicy in', 'spec.ingress[0].protocols[0]'],
  );
});
