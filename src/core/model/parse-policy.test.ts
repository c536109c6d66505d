import test from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from '../errors.js';
import { EVERYTHING } from '../labels.js';
import { parseCidr } from '../net/cidr.js';
import { parseObject } from './parse.js';
import type { NetworkPolicy } from './types.js';

/**
 * Written from the networking.k8s.io/v1 API reference (NetworkPolicySpec,
 * NetworkPolicyPeer, IPBlock, NetworkPolicyPort) and its defaulting and
 * validation rules, not from the parser's output.
 */

const { INVALID_FIELD, MISSING_FIELD, UNKNOWN_FIELD } = ErrorCodes;
const OBJECT = 'NetworkPolicy prod/p (np.yaml:1)';

function np(spec: unknown): unknown {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'p', namespace: 'prod' },
    spec,
  };
}

function ok(spec: unknown): NetworkPolicy {
  const r = parseObject(np(spec), { file: 'np.yaml', line: 1 });
  assert.deepEqual(r.issues, []);
  assert.equal(r.object?.kind, 'NetworkPolicy');
  return r.object as NetworkPolicy;
}

/** (code, field) of every issue; also checks each issue names the policy. */
function fails(spec: unknown): [string, string][] {
  const r = parseObject(np(spec), { file: 'np.yaml', line: 1 });
  assert.equal(r.object, undefined);
  for (const i of r.issues) assert.equal(i.object, OBJECT);
  return r.issues.map((i) => [i.code, i.field]);
}

function cidr(s: string) {
  const c = parseCidr(s);
  assert.ok(c);
  return c.cidr;
}

const app = (v: string) => ({ requirements: [{ key: 'app', operator: 'In', values: [v] }] });

// --- podSelector and policyTypes ---

test('spec.podSelector is required; {} selects every pod of the namespace', () => {
  assert.deepEqual(fails({}), [[MISSING_FIELD, 'spec.podSelector']]);
  assert.deepEqual(fails({ podSelector: null }), [[MISSING_FIELD, 'spec.podSelector']]);
  assert.deepEqual(ok({ podSelector: {} }).podSelector, EVERYTHING);
  assert.deepEqual(ok({ podSelector: { matchLabels: { app: 'web' } } }).podSelector, app('web'));
  const r = parseObject({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'p' },
  });
  assert.deepEqual(
    r.issues.map((i) => [i.code, i.field]),
    [[MISSING_FIELD, 'spec']],
  );
});

test('policyTypes omitted: Ingress, plus Egress only when the policy has egress rules', () => {
  assert.deepEqual(ok({ podSelector: {} }).policyTypes, ['ingress']);
  assert.deepEqual(ok({ podSelector: {}, ingress: [{}] }).policyTypes, ['ingress']);
  assert.deepEqual(ok({ podSelector: {}, egress: [{}] }).policyTypes, ['ingress', 'egress']);
  // "policies that contain an egress section are assumed to affect egress":
  // the API defaults on len(egress) != 0, so an empty egress list does not count.
  assert.deepEqual(ok({ podSelector: {}, egress: [] }).policyTypes, ['ingress']);
  // An empty policyTypes list is defaulted like an absent one.
  assert.deepEqual(ok({ podSelector: {}, policyTypes: [], egress: [{}] }).policyTypes, [
    'ingress',
    'egress',
  ]);
});

test('explicit policyTypes are kept; rules of other directions stay as written', () => {
  const p = ok({ podSelector: {}, policyTypes: ['Egress'], ingress: [{}] });
  assert.deepEqual(p.policyTypes, ['egress']);
  assert.equal(p.ingress.length, 1);
  assert.deepEqual(ok({ podSelector: {}, policyTypes: ['Egress', 'Ingress'] }).policyTypes, [
    'ingress',
    'egress',
  ]);
  assert.deepEqual(ok({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] }).egress, []);
});

test('policyTypes values must be Ingress or Egress, without duplicates', () => {
  assert.deepEqual(fails({ podSelector: {}, policyTypes: ['ingress'] }), [
    [INVALID_FIELD, 'spec.policyTypes[0]'],
  ]);
  assert.deepEqual(fails({ podSelector: {}, policyTypes: ['Ingress', 'Ingress'] }), [
    [INVALID_FIELD, 'spec.policyTypes[1]'],
  ]);
  assert.deepEqual(fails({ podSelector: {}, policyTypes: 'Ingress' }), [
    [INVALID_FIELD, 'spec.policyTypes'],
  ]);
});

// --- rules and peers ---

test('no rules vs one empty rule: [] isolates, [{}] matches every peer on every port', () => {
  assert.deepEqual(ok({ podSelector: {}, ingress: [] }).ingress, []);
  assert.deepEqual(ok({ podSelector: {}, ingress: [{}] }).ingress, [
    { peers: { kind: 'all' }, ports: { kind: 'all' } },
  ]);
  assert.deepEqual(ok({ podSelector: {}, ingress: [{ from: [], ports: [] }] }).ingress, [
    { peers: { kind: 'all' }, ports: { kind: 'all' } },
  ]);
  assert.deepEqual(ok({ podSelector: {}, egress: [{ to: [] }] }).egress, [
    { peers: { kind: 'all' }, ports: { kind: 'all' } },
  ]);
});

test('peers: absent and empty selectors, and the AND of both selectors in one peer', () => {
  const rule = ok({
    podSelector: {},
    ingress: [
      {
        from: [
          { podSelector: {} },
          { namespaceSelector: {} },
          { podSelector: { matchLabels: { app: 'web' } } },
          {
            namespaceSelector: { matchLabels: { app: 'ns' } },
            podSelector: { matchLabels: { app: 'db' } },
          },
        ],
      },
    ],
  }).ingress[0];
  assert.deepEqual(rule?.peers, {
    kind: 'list',
    peers: [
      // podSelector {} alone: every pod of the policy's own namespace.
      { kind: 'pods', namespaces: { kind: 'own' }, pods: EVERYTHING },
      // namespaceSelector {} alone: every pod of every namespace.
      { kind: 'pods', namespaces: { kind: 'selector', selector: EVERYTHING }, pods: EVERYTHING },
      { kind: 'pods', namespaces: { kind: 'own' }, pods: app('web') },
      { kind: 'pods', namespaces: { kind: 'selector', selector: app('ns') }, pods: app('db') },
    ],
  });
});

test('ipBlock: host bits are masked, except must be strict subsets of cidr in the same family', () => {
  const peers = ok({
    podSelector: {},
    egress: [
      {
        to: [
          { ipBlock: { cidr: '10.1.2.3/16', except: ['10.1.5.0/24', '10.1.7.7/32'] } },
          { ipBlock: { cidr: 'fd00::1/64' } },
        ],
      },
    ],
  }).egress[0]?.peers;
  assert.deepEqual(peers, {
    kind: 'list',
    peers: [
      {
        kind: 'ipBlock',
        cidr: cidr('10.1.0.0/16'),
        except: [cidr('10.1.5.0/24'), cidr('10.1.7.7/32')],
      },
      { kind: 'ipBlock', cidr: cidr('fd00::/64'), except: [] },
    ],
  });
  const block = (ipBlock: unknown) => ({ podSelector: {}, ingress: [{ from: [{ ipBlock }] }] });
  const at = 'spec.ingress[0].from[0].ipBlock';
  assert.deepEqual(fails(block({ except: ['10.0.0.0/24'] })), [[MISSING_FIELD, `${at}.cidr`]]);
  assert.deepEqual(fails(block({ cidr: '10.0.0.0' })), [[INVALID_FIELD, `${at}.cidr`]]);
  assert.deepEqual(fails(block({ cidr: '10.0.0.0/33' })), [[INVALID_FIELD, `${at}.cidr`]]);
  assert.deepEqual(fails(block({ cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] })), [
    [INVALID_FIELD, `${at}.except[0]`],
  ]);
  assert.deepEqual(fails(block({ cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] })), [
    [INVALID_FIELD, `${at}.except[0]`],
  ]);
  assert.deepEqual(fails(block({ cidr: '10.0.0.0/8', except: ['10.0.0.0/4'] })), [
    [INVALID_FIELD, `${at}.except[0]`],
  ]);
  assert.deepEqual(fails(block({ cidr: '10.0.0.0/8', except: ['::/120'] })), [
    [INVALID_FIELD, `${at}.except[0]`],
  ]);
  assert.deepEqual(fails(block({ cidr: '10.0.0.0/8', except: ['10.1.0.0/16', 'x'] })), [
    [INVALID_FIELD, `${at}.except[1]`],
  ]);
  assert.deepEqual(fails(block({ cidr: '10.0.0.0/8', expect: [] })), [
    [UNKNOWN_FIELD, `${at}.expect`],
  ]);
});

test('a peer must set a field, and ipBlock cannot be combined with a selector', () => {
  assert.deepEqual(fails({ podSelector: {}, ingress: [{ from: [{}] }] }), [
    [MISSING_FIELD, 'spec.ingress[0].from[0]'],
  ]);
  assert.deepEqual(
    fails({
      podSelector: {},
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }],
    }),
    [[INVALID_FIELD, 'spec.egress[0].to[0]']],
  );
  assert.deepEqual(
    fails({
      podSelector: {},
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' }, namespaceSelector: {} }] }],
    }),
    [[INVALID_FIELD, 'spec.egress[0].to[0]']],
  );
  assert.deepEqual(fails({ podSelector: {}, ingress: [{ from: [{ serviceAccount: 'x' }] }] }), [
    [UNKNOWN_FIELD, 'spec.ingress[0].from[0].serviceAccount'],
    [MISSING_FIELD, 'spec.ingress[0].from[0]'],
  ]);
});

test('selectors are validated at their path', () => {
  assert.deepEqual(
    fails({
      podSelector: { matchExpressions: [{ key: 'app', operator: 'In' }] },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'a b' } } }] }],
    }),
    [
      [INVALID_FIELD, 'spec.podSelector.matchExpressions[0].values'],
      [INVALID_FIELD, 'spec.ingress[0].from[0].namespaceSelector.matchLabels.team'],
    ],
  );
});

// --- ports ---

test('ports: protocol defaults to TCP, a single port is a range of one, endPort makes an inclusive range', () => {
  const ports = ok({
    podSelector: {},
    ingress: [
      {
        ports: [
          { port: 80 },
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 32000, endPort: 32768 },
          { port: 8080, endPort: 8080 },
          { protocol: 'SCTP' },
          { port: 'http' },
          { protocol: 'UDP', port: 'dns' },
        ],
      },
    ],
  }).ingress[0]?.ports;
  assert.deepEqual(ports, {
    kind: 'list',
    ports: [
      { kind: 'range', protocol: 'TCP', from: 80, to: 80 },
      { kind: 'range', protocol: 'UDP', from: 53, to: 53 },
      { kind: 'range', protocol: 'TCP', from: 32000, to: 32768 },
      { kind: 'range', protocol: 'TCP', from: 8080, to: 8080 },
      { kind: 'protocol', protocol: 'SCTP' },
      { kind: 'named', name: 'http', protocol: 'TCP' },
      { kind: 'named', name: 'dns', protocol: 'UDP' },
    ],
  });
  // A port entry with no field at all: TCP, every port.
  assert.deepEqual(ok({ podSelector: {}, egress: [{ ports: [{}] }] }).egress[0]?.ports, {
    kind: 'list',
    ports: [{ kind: 'protocol', protocol: 'TCP' }],
  });
});

test('ports validation', () => {
  const port = (p: unknown) => ({ podSelector: {}, ingress: [{ ports: [p] }] });
  const at = 'spec.ingress[0].ports[0]';
  assert.deepEqual(fails(port({ port: 0 })), [[INVALID_FIELD, `${at}.port`]]);
  assert.deepEqual(fails(port({ port: 65536 })), [[INVALID_FIELD, `${at}.port`]]);
  assert.deepEqual(fails(port({ port: 8.5 })), [[INVALID_FIELD, `${at}.port`]]);
  // A quoted number is a (bad) port name, as intstr decodes it.
  assert.deepEqual(fails(port({ port: '80' })), [[INVALID_FIELD, `${at}.port`]]);
  assert.deepEqual(fails(port({ port: 'HTTP' })), [[INVALID_FIELD, `${at}.port`]]);
  assert.deepEqual(fails(port({ port: 'much-too-long-name' })), [[INVALID_FIELD, `${at}.port`]]);
  assert.deepEqual(fails(port({ protocol: 'tcp', port: 80 })), [[INVALID_FIELD, `${at}.protocol`]]);
  assert.deepEqual(fails(port({ protocol: 'ICMP' })), [[INVALID_FIELD, `${at}.protocol`]]);
  assert.deepEqual(fails(port({ endPort: 90 })), [[INVALID_FIELD, `${at}.endPort`]]);
  assert.deepEqual(fails(port({ port: 90, endPort: 80 })), [[INVALID_FIELD, `${at}.endPort`]]);
  assert.deepEqual(fails(port({ port: 90, endPort: 70000 })), [[INVALID_FIELD, `${at}.endPort`]]);
  assert.deepEqual(fails(port({ port: 'http', endPort: 90 })), [[INVALID_FIELD, `${at}.endPort`]]);
  assert.deepEqual(fails(port({ port: 80, name: 'http' })), [[UNKNOWN_FIELD, `${at}.name`]]);
});

// --- strictness ---

test('every field must be known, at every level', () => {
  assert.deepEqual(fails({ podSelector: {}, ingres: [] }), [[UNKNOWN_FIELD, 'spec.ingres']]);
  assert.deepEqual(fails({ podSelector: {}, ingress: [{ form: [] }] }), [
    [UNKNOWN_FIELD, 'spec.ingress[0].form'],
  ]);
  assert.deepEqual(fails({ podSelector: {}, egress: [{ from: [] }] }), [
    [UNKNOWN_FIELD, 'spec.egress[0].from'],
  ]);
  const r = parseObject({ ...(np({ podSelector: {} }) as object), status: {} });
  assert.deepEqual(
    r.issues.map((i) => [i.code, i.field]),
    [[UNKNOWN_FIELD, 'status']],
  );
});

test('every issue of a policy is reported in one go', () => {
  assert.deepEqual(
    fails({
      policyTypes: ['Ingress', 'Egres'],
      ingress: [{ from: [{}], ports: [{ port: 0 }] }],
      egress: [{ to: [{ ipBlock: { cidr: 'bad' } }] }],
    }).sort(byField),
    [
      [MISSING_FIELD, 'spec.ingress[0].from[0]'],
      [INVALID_FIELD, 'spec.ingress[0].ports[0].port'],
      [INVALID_FIELD, 'spec.egress[0].to[0].ipBlock.cidr'],
      [INVALID_FIELD, 'spec.policyTypes[1]'],
      [MISSING_FIELD, 'spec.podSelector'],
    ].sort(byField),
  );
});

function byField(a: string[], b: string[]): number {
  return (a[1] ?? '') < (b[1] ?? '') ? -1 : 1;
}

test('a rule with more than 1,000 ports is refused with WEFT_LIMIT, naming the count and the fix', () => {
  const ports = (n: number) => Array.from({ length: n }, (_, i) => ({ port: 1 + (i % 65535) }));
  assert.equal(
    ok({ podSelector: {}, ingress: [{ ports: ports(1000) }] }).ingress[0]?.ports.kind,
    'list',
  );
  const r = parseObject(np({ podSelector: {}, ingress: [{ ports: ports(100_000) }] }), {
    file: 'np.yaml',
    line: 1,
  });
  assert.equal(r.object, undefined);
  assert.deepEqual(
    r.issues.map((i) => [i.code, i.field, i.message, i.fix]),
    [
      [
        'WEFT_LIMIT',
        'spec.ingress[0].ports',
        'has 100000 entries; weft reads at most 1000 per rule',
        'give ranges as one entry with port and endPort, or split the rule',
      ],
    ],
  );
});
