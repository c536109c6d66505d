import test from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from '../errors.js';
import { EVERYTHING } from '../labels.js';
import { parseCidr } from '../net/cidr.js';
import { parseObject } from './parse.js';
import type { ClusterNetworkPolicy } from './types.js';

/**
 * Written from the network-policy-api ClusterNetworkPolicy v1alpha2 types
 * (clusternetworkpolicy_types.go) and their kubebuilder/CEL validation.
 */

const { INVALID_FIELD, MISSING_FIELD, UNKNOWN_FIELD, UNSUPPORTED_FIELD } = ErrorCodes;

function cnp(spec: unknown, extra: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: 'guard' },
    spec,
    ...extra,
  };
}

const base = { tier: 'Admin', priority: 10, subject: { namespaces: {} } };

function ok(spec: unknown, extra?: Record<string, unknown>): ClusterNetworkPolicy {
  const r = parseObject(cnp(spec, extra), { file: 'cnp.yaml', line: 2 });
  assert.deepEqual(r.issues, []);
  assert.equal(r.object?.kind, 'ClusterNetworkPolicy');
  return r.object as ClusterNetworkPolicy;
}

function fails(spec: unknown): [string, string][] {
  const r = parseObject(cnp(spec), { file: 'cnp.yaml', line: 2 });
  assert.equal(r.object, undefined);
  for (const i of r.issues) assert.equal(i.object, 'ClusterNetworkPolicy guard (cnp.yaml:2)');
  return r.issues.map((i) => [i.code, i.field]);
}

function cidr(s: string) {
  const c = parseCidr(s);
  assert.ok(c);
  return c.cidr;
}

const sel = (k: string, v: string) => ({ requirements: [{ key: k, operator: 'In', values: [v] }] });
const allFrom = [{ namespaces: {} }];

test('a full Admin policy: subject, ingress peers and protocols', () => {
  const p = ok(
    {
      tier: 'Admin',
      priority: 0,
      subject: { namespaces: { matchLabels: { env: 'prod' } } },
      ingress: [
        {
          name: 'allow-monitoring',
          action: 'Accept',
          from: [
            { namespaces: { matchLabels: { team: 'mon' } } },
            { pods: { podSelector: { matchLabels: { app: 'prom' } } } },
          ],
          protocols: [
            { tcp: { destinationPort: { number: 9090 } } },
            { udp: { destinationPort: { range: { start: 5000, end: 5010 } } } },
            { sctp: { destinationPort: { number: 3868 } } },
            { destinationNamedPort: 'metrics' },
          ],
        },
        { action: 'Deny', from: [{ namespaces: {} }] },
      ],
    },
    { metadata: { name: 'guard', namespace: 'ignored' }, status: { conditions: [] } },
  );
  assert.deepEqual(p, {
    kind: 'ClusterNetworkPolicy',
    name: 'guard',
    tier: 'Admin',
    priority: 0,
    subject: { kind: 'namespaces', selector: sel('env', 'prod') },
    ingress: [
      {
        name: 'allow-monitoring',
        action: 'Accept',
        peers: [
          { kind: 'namespaces', selector: sel('team', 'mon') },
          // An absent namespaceSelector in `pods` selects every namespace.
          { kind: 'pods', namespaceSelector: EVERYTHING, podSelector: sel('app', 'prom') },
        ],
        ports: {
          kind: 'list',
          ports: [
            { kind: 'range', protocol: 'TCP', from: 9090, to: 9090 },
            { kind: 'range', protocol: 'UDP', from: 5000, to: 5010 },
            { kind: 'range', protocol: 'SCTP', from: 3868, to: 3868 },
            { kind: 'named', name: 'metrics', protocol: 'any' },
          ],
        },
      },
      // No protocols: every port and protocol.
      {
        action: 'Deny',
        peers: [{ kind: 'namespaces', selector: EVERYTHING }],
        ports: { kind: 'all' },
      },
    ],
    egress: [],
    origin: { file: 'cnp.yaml', line: 2 },
  });
});

test('a Baseline policy with a pods subject and egress to pods, nodes and networks (host bits masked)', () => {
  const p = ok({
    tier: 'Baseline',
    priority: 1000,
    subject: { pods: { namespaceSelector: { matchLabels: { env: 'dev' } }, podSelector: {} } },
    egress: [
      {
        action: 'Pass',
        to: [
          { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'dns' } } } },
          { nodes: { matchLabels: { role: 'infra' } } },
          { networks: ['10.1.2.3/16', '::/0'] },
        ],
        protocols: [{ udp: { destinationPort: { number: 53 } } }],
      },
    ],
  });
  assert.deepEqual(p.subject, {
    kind: 'pods',
    namespaceSelector: sel('env', 'dev'),
    podSelector: EVERYTHING,
  });
  assert.deepEqual(p.egress[0]?.peers, [
    { kind: 'pods', namespaceSelector: EVERYTHING, podSelector: sel('app', 'dns') },
    { kind: 'nodes', selector: sel('role', 'infra') },
    { kind: 'networks', cidrs: [cidr('10.1.0.0/16'), cidr('::/0')] },
  ]);
  assert.equal(p.tier, 'Baseline');
  assert.equal(p.priority, 1000);
});

test('tier, priority and subject are required and validated', () => {
  assert.deepEqual(fails({ priority: 1, subject: { namespaces: {} } }), [
    [MISSING_FIELD, 'spec.tier'],
  ]);
  assert.deepEqual(fails({ ...base, tier: 'admin' }), [[INVALID_FIELD, 'spec.tier']]);
  assert.deepEqual(fails({ tier: 'Admin', subject: { namespaces: {} } }), [
    [MISSING_FIELD, 'spec.priority'],
  ]);
  assert.deepEqual(fails({ ...base, priority: 1001 }), [[INVALID_FIELD, 'spec.priority']]);
  assert.deepEqual(fails({ ...base, priority: -1 }), [[INVALID_FIELD, 'spec.priority']]);
  assert.deepEqual(fails({ ...base, priority: '5' }), [[INVALID_FIELD, 'spec.priority']]);
  assert.deepEqual(fails({ tier: 'Admin', priority: 1 }), [[MISSING_FIELD, 'spec.subject']]);
  assert.deepEqual(fails({ ...base, subject: {} }), [[MISSING_FIELD, 'spec.subject']]);
  assert.deepEqual(fails({ ...base, subject: { namespaces: {}, pods: { podSelector: {} } } }), [
    [INVALID_FIELD, 'spec.subject'],
  ]);
  assert.deepEqual(fails({ ...base, subject: { pods: { namespaceSelector: {} } } }), [
    [MISSING_FIELD, 'spec.subject.pods.podSelector'],
  ]);
  assert.deepEqual(fails({ ...base, subject: { podSelector: {} } }), [
    [UNKNOWN_FIELD, 'spec.subject.podSelector'],
  ]);
  const r = parseObject({
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: 'x' },
  });
  assert.deepEqual(
    r.issues.map((i) => [i.code, i.field]),
    [[MISSING_FIELD, 'spec']],
  );
});

test('rules: at most 25 per direction; action required; name at most 100 characters; from/to 1..25 peers', () => {
  const rule = { action: 'Deny', from: allFrom };
  assert.equal(ok({ ...base, ingress: Array.from({ length: 25 }, () => rule) }).ingress.length, 25);
  assert.deepEqual(fails({ ...base, ingress: Array.from({ length: 26 }, () => rule) }), [
    [INVALID_FIELD, 'spec.ingress'],
  ]);
  assert.deepEqual(fails({ ...base, ingress: [{ from: allFrom }] }), [
    [MISSING_FIELD, 'spec.ingress[0].action'],
  ]);
  assert.deepEqual(fails({ ...base, ingress: [{ action: 'Allow', from: allFrom }] }), [
    [INVALID_FIELD, 'spec.ingress[0].action'],
  ]);
  assert.equal(
    ok({ ...base, ingress: [{ ...rule, name: 'n'.repeat(100) }] }).ingress[0]?.name?.length,
    100,
  );
  assert.deepEqual(fails({ ...base, ingress: [{ ...rule, name: 'n'.repeat(101) }] }), [
    [INVALID_FIELD, 'spec.ingress[0].name'],
  ]);
  assert.deepEqual(fails({ ...base, ingress: [{ action: 'Deny' }] }), [
    [MISSING_FIELD, 'spec.ingress[0].from'],
  ]);
  assert.deepEqual(fails({ ...base, ingress: [{ action: 'Deny', from: [] }] }), [
    [INVALID_FIELD, 'spec.ingress[0].from'],
  ]);
  assert.deepEqual(
    fails({
      ...base,
      egress: [{ action: 'Deny', to: Array.from({ length: 26 }, () => ({ namespaces: {} })) }],
    }),
    [[INVALID_FIELD, 'spec.egress[0].to']],
  );
  assert.deepEqual(fails({ ...base, ingress: [{ action: 'Deny', to: allFrom }] }), [
    [MISSING_FIELD, 'spec.ingress[0].from'],
    [UNKNOWN_FIELD, 'spec.ingress[0].to'],
  ]);
  assert.deepEqual(fails({ ...base, ingress: [{ ...rule, ports: [] }] }), [
    [UNKNOWN_FIELD, 'spec.ingress[0].ports'],
  ]);
});

test('peers: exactly one field; nodes/networks/domainNames only in egress', () => {
  const eg = (peer: unknown) => ({ ...base, egress: [{ action: 'Deny', to: [peer] }] });
  const ing = (peer: unknown) => ({ ...base, ingress: [{ action: 'Deny', from: [peer] }] });
  assert.deepEqual(fails(eg({})), [[MISSING_FIELD, 'spec.egress[0].to[0]']]);
  assert.deepEqual(fails(eg({ namespaces: {}, networks: ['10.0.0.0/8'] })), [
    [INVALID_FIELD, 'spec.egress[0].to[0]'],
  ]);
  assert.deepEqual(fails(eg({ pods: { podSelector: {} }, nodes: {} })), [
    [INVALID_FIELD, 'spec.egress[0].to[0]'],
  ]);
  assert.deepEqual(fails(ing({ networks: ['10.0.0.0/8'] })), [
    [UNKNOWN_FIELD, 'spec.ingress[0].from[0].networks'],
  ]);
  assert.deepEqual(fails(ing({ nodes: {} })), [[UNKNOWN_FIELD, 'spec.ingress[0].from[0].nodes']]);
  assert.deepEqual(fails(eg({ ipBlock: { cidr: '10.0.0.0/8' } })), [
    [UNKNOWN_FIELD, 'spec.egress[0].to[0].ipBlock'],
  ]);
  assert.deepEqual(fails(eg({ pods: { podSelector: {}, matchLabels: {} } })), [
    [UNKNOWN_FIELD, 'spec.egress[0].to[0].pods.matchLabels'],
  ]);
});

test('domainNames is a known field weft does not support yet', () => {
  const r = parseObject(
    cnp({ ...base, egress: [{ action: 'Accept', to: [{ domainNames: ['*.example.com'] }] }] }),
  );
  assert.equal(r.object, undefined);
  assert.equal(r.issues.length, 1);
  const [i] = r.issues;
  assert.equal(i?.code, UNSUPPORTED_FIELD);
  assert.equal(i?.field, 'spec.egress[0].to[0].domainNames');
  assert.equal(i?.message, 'domainNames peers are not supported yet: weft has no DNS proxy');
  assert.match(i?.fix ?? '', /networks/);
});

test('networks: 1..25 valid CIDRs, no duplicates', () => {
  const nets = (networks: unknown) => ({
    ...base,
    egress: [{ action: 'Deny', to: [{ networks }] }],
  });
  const at = 'spec.egress[0].to[0].networks';
  assert.deepEqual(fails(nets([])), [[INVALID_FIELD, at]]);
  assert.deepEqual(fails(nets(['10.0.0.0/8', '1.2.3.4'])), [[INVALID_FIELD, `${at}[1]`]]);
  assert.deepEqual(fails(nets(Array.from({ length: 26 }, (_, i) => `10.${i}.0.0/16`))), [
    [INVALID_FIELD, at],
  ]);
  assert.deepEqual(fails(nets(['10.0.0.0/8', '10.0.0.0/8'])), [[INVALID_FIELD, `${at}[1]`]]);
});

test('protocols: 1..25 entries, each exactly one of tcp/udp/sctp/destinationNamedPort', () => {
  const protos = (protocols: unknown) => ({
    ...base,
    ingress: [{ action: 'Accept', from: allFrom, protocols }],
  });
  const at = 'spec.ingress[0].protocols';
  assert.deepEqual(fails(protos([])), [[INVALID_FIELD, at]]);
  assert.deepEqual(
    fails(protos(Array.from({ length: 26 }, () => ({ tcp: { destinationPort: { number: 80 } } })))),
    [[INVALID_FIELD, at]],
  );
  assert.deepEqual(fails(protos([{}])), [[MISSING_FIELD, `${at}[0]`]]);
  assert.deepEqual(
    fails(
      protos([
        { tcp: { destinationPort: { number: 80 } }, udp: { destinationPort: { number: 80 } } },
      ]),
    ),
    [[INVALID_FIELD, `${at}[0]`]],
  );
  assert.deepEqual(fails(protos([{ tcp: {} }])), [[MISSING_FIELD, `${at}[0].tcp.destinationPort`]]);
  assert.deepEqual(fails(protos([{ icmp: {} }])), [[UNKNOWN_FIELD, `${at}[0].icmp`]]);
  assert.deepEqual(fails(protos([{ TCP: { destinationPort: { number: 80 } } }])), [
    [UNKNOWN_FIELD, `${at}[0].TCP`],
  ]);
});

test('destinationPort: exactly one of number (1..65535) or range with start < end', () => {
  const dp = (destinationPort: unknown) => ({
    ...base,
    ingress: [{ action: 'Accept', from: allFrom, protocols: [{ tcp: { destinationPort } }] }],
  });
  const at = 'spec.ingress[0].protocols[0].tcp.destinationPort';
  assert.deepEqual(fails(dp({})), [[MISSING_FIELD, at]]);
  assert.deepEqual(fails(dp({ number: 80, range: { start: 1, end: 2 } })), [[INVALID_FIELD, at]]);
  assert.deepEqual(fails(dp({ number: 0 })), [[INVALID_FIELD, `${at}.number`]]);
  assert.deepEqual(fails(dp({ number: 65536 })), [[INVALID_FIELD, `${at}.number`]]);
  assert.deepEqual(fails(dp({ range: { start: 80, end: 80 } })), [[INVALID_FIELD, `${at}.range`]]);
  assert.deepEqual(fails(dp({ range: { start: 90, end: 80 } })), [[INVALID_FIELD, `${at}.range`]]);
  assert.deepEqual(fails(dp({ range: { start: 80 } })), [[MISSING_FIELD, `${at}.range.end`]]);
  assert.deepEqual(fails(dp({ range: { start: 0, end: 80 } })), [
    [INVALID_FIELD, `${at}.range.start`],
  ]);
  assert.deepEqual(fails(dp({ port: 80 })), [[UNKNOWN_FIELD, `${at}.port`]]);
});

test('destinationNamedPort cannot be used with networks or nodes peers in an egress rule', () => {
  const rule = (to: unknown[]) => ({
    ...base,
    egress: [{ action: 'Accept', to, protocols: [{ destinationNamedPort: 'http' }] }],
  });
  const at = 'spec.egress[0].protocols[0].destinationNamedPort';
  assert.deepEqual(fails(rule([{ networks: ['10.0.0.0/8'] }])), [[INVALID_FIELD, at]]);
  assert.deepEqual(fails(rule([{ pods: { podSelector: {} } }, { nodes: {} }])), [
    [INVALID_FIELD, at],
  ]);
  assert.deepEqual(ok(rule([{ pods: { podSelector: {} } }, { namespaces: {} }])).egress[0]?.ports, {
    kind: 'list',
    ports: [{ kind: 'named', name: 'http', protocol: 'any' }],
  });
});

test('unknown fields anywhere in a ClusterNetworkPolicy are errors', () => {
  assert.deepEqual(fails({ ...base, appliedTo: {} }), [[UNKNOWN_FIELD, 'spec.appliedTo']]);
  assert.deepEqual(fails({ ...base, ingress: [{ action: 'Deny', from: allFrom, ports: [] }] }), [
    [UNKNOWN_FIELD, 'spec.ingress[0].ports'],
  ]);
});
