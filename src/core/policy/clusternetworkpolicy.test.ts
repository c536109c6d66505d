// ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2) semantics, from the
// network-policy-api type docs: tiers, priorities, Accept / Deny / Pass.
import test from 'node:test';
import assert from 'node:assert/strict';
import { PolicyWorld, docs, namespace, pod } from '../../testing/policy.js';

const base = docs(
  namespace('prod', { env: 'prod' }),
  namespace('dev', { env: 'dev' }),
  `{apiVersion: v1, kind: Node, metadata: {name: n1, labels: {role: worker}}, status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}}`,
  `{apiVersion: v1, kind: Node, metadata: {name: n2, labels: {role: control}}, status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}}`,
  pod('prod', 'web', { app: 'web' }, { node: 'n1', ports: [{ name: 'http', port: 80 }] }),
  pod('prod', 'db', { app: 'db' }, { node: 'n1', ports: [{ name: 'sql', port: 5432 }] }),
  pod('dev', 'web', { app: 'web' }, { node: 'n1', ports: [{ name: 'http', port: 8080 }] }),
  pod('dev', 'client', { app: 'client' }, { node: 'n1' }),
);
const world = (...policies: string[]) => new PolicyWorld(docs(base, ...policies));

function cnp(name: string, tier: string, priority: number, body: string): string {
  return `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: ${name}}
spec:
  tier: ${tier}
  priority: ${priority}
${body}`;
}

const denyDevToProd = cnp(
  'deny-dev',
  'Admin',
  10,
  `  subject: {namespaces: {matchLabels: {env: prod}}}
  ingress:
  - {name: no-dev, action: Deny, from: [{namespaces: {matchLabels: {env: dev}}}]}`,
);

const npAllowAll = `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: allow-all, namespace: prod}
spec: {podSelector: {}, ingress: [{}]}`;

test('Admin Deny overrides a NetworkPolicy that allows, and names its rule', () => {
  const w = world(denyDevToProd, '---', npAllowAll);
  assert.equal(w.allowed('dev/client', 'prod/web'), false);
  const t = w.trace('dev/client', 'prod/web', '80/TCP');
  assert.equal(t.ingress.stage, 'admin');
  assert.equal(t.ingress.stage === 'admin' ? t.ingress.rule?.name : '', 'no-dev');
  assert.equal(
    w.allowed('prod/db', 'prod/web'),
    true,
    'the NetworkPolicy still decides for others',
  );
});

test('Admin Accept overrides a NetworkPolicy that isolates', () => {
  const w = world(
    cnp(
      'monitoring',
      'Admin',
      5,
      `  subject: {namespaces: {}}
  ingress: [{action: Accept, from: [{pods: {namespaceSelector: {matchLabels: {env: dev}}, podSelector: {matchLabels: {app: client}}}}]}]`,
    ),
    `---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny, namespace: prod}
spec: {podSelector: {}}`,
  );
  assert.equal(w.allowed('dev/client', 'prod/db', '5432/TCP'), true);
  assert.equal(w.allowed('dev/web', 'prod/db', '5432/TCP'), false);
});

test('lower priority value first; within a policy the first matching rule wins', () => {
  const accept = cnp(
    'accept-first',
    'Admin',
    1,
    `  subject: {namespaces: {matchLabels: {env: prod}}}
  ingress:
  - {action: Accept, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}]}
  - {action: Deny, from: [{namespaces: {}}]}`,
  );
  const w = world(accept, '---', denyDevToProd);
  assert.equal(
    w.allowed('dev/client', 'prod/web'),
    true,
    'priority 1 Accept beats priority 10 Deny',
  );
  assert.equal(
    w.allowed('dev/web', 'prod/web', '80/TCP'),
    false,
    'rule 2 of the same policy denies',
  );
  const reversed = world(accept.replace('priority: 1', 'priority: 20'), '---', denyDevToProd);
  assert.equal(reversed.allowed('dev/client', 'prod/web'), false);
});

test('Pass hands the decision to NetworkPolicy, skipping the rest of the Admin tier', () => {
  const pass = cnp(
    'pass-dev',
    'Admin',
    1,
    `  subject: {namespaces: {matchLabels: {env: prod}}}
  ingress: [{action: Pass, from: [{pods: {namespaceSelector: {matchLabels: {env: dev}}, podSelector: {matchLabels: {app: client}}}}]}]`,
  );
  const w = world(pass, '---', denyDevToProd, '---', npAllowAll);
  assert.equal(
    w.allowed('dev/client', 'prod/web'),
    true,
    'passed to the NetworkPolicy, which allows',
  );
  assert.equal(
    w.allowed('dev/web', 'prod/web'),
    false,
    'not passed: the Deny at priority 10 applies',
  );
  const t = w.trace('dev/client', 'prod/web', '80/TCP');
  assert.equal(t.ingress.stage, 'networkpolicy');
  assert.equal(
    t.ingress.stage === 'networkpolicy' ? t.ingress.passedBy?.policy.name : '',
    'pass-dev',
  );
  const noNp = world(pass, '---', denyDevToProd);
  assert.equal(
    noNp.allowed('dev/client', 'prod/web'),
    true,
    'no NetworkPolicy, no Baseline: allowed',
  );
});

test('Baseline applies only where no NetworkPolicy selects the pod in that direction', () => {
  const baseline = cnp(
    'default-deny',
    'Baseline',
    0,
    `  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]`,
  );
  const w = world(
    baseline,
    `---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: web-open, namespace: prod}
spec: {podSelector: {matchLabels: {app: web}}, ingress: [{from: [{namespaceSelector: {}}]}]}`,
  );
  assert.equal(
    w.allowed('dev/client', 'prod/web'),
    true,
    'selected by a NetworkPolicy: Baseline not consulted',
  );
  assert.equal(
    w.allowed('dev/client', 'prod/db', '5432/TCP'),
    false,
    'not selected: Baseline denies',
  );
  assert.equal(w.trace('dev/client', 'prod/db', '5432/TCP').ingress.stage, 'baseline');
  assert.equal(
    w.allowed('prod/web', 'dev/client', '80/TCP'),
    false,
    'Baseline denies ingress to dev too',
  );
});

test('a NetworkPolicy that isolates but allows nothing is final even with a Baseline Accept', () => {
  const w = world(
    cnp(
      'open',
      'Baseline',
      0,
      `  subject: {namespaces: {}}\n  ingress: [{action: Accept, from: [{namespaces: {}}]}]`,
    ),
    `---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny, namespace: prod}
spec: {podSelector: {matchLabels: {app: db}}}`,
  );
  assert.equal(w.allowed('prod/web', 'prod/db', '5432/TCP'), false);
});

test('Baseline Pass falls through to the default: allowed', () => {
  const w = world(
    cnp(
      'b',
      'Baseline',
      0,
      `  subject: {namespaces: {}}
  ingress:
  - {action: Pass, from: [{namespaces: {matchLabels: {env: dev}}}]}
  - {action: Deny, from: [{namespaces: {}}]}`,
    ),
  );
  assert.equal(w.allowed('dev/client', 'prod/web'), true);
  assert.equal(w.allowed('prod/db', 'prod/web'), false);
});

test('egress Accept is final for egress only: ingress at the destination still applies', () => {
  const w = world(
    cnp(
      'out',
      'Admin',
      1,
      `  subject: {namespaces: {matchLabels: {env: dev}}}
  egress: [{action: Accept, to: [{namespaces: {}}]}]`,
    ),
    '---',
    denyDevToProd,
  );
  const t = w.trace('dev/client', 'prod/web', '80/TCP');
  assert.equal(t.egress.allowed, true);
  assert.equal(t.ingress.allowed, false);
  assert.equal(t.allowed, false);
});

test('protocols: tcp/udp ports, ranges and destinationNamedPort', () => {
  const w = world(
    cnp(
      'ports',
      'Admin',
      1,
      `  subject: {namespaces: {matchLabels: {env: prod}}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
    protocols:
    - tcp: {destinationPort: {number: 5432}}
    - udp: {destinationPort: {range: {start: 1000, end: 2000}}}
    - destinationNamedPort: http`,
    ),
  );
  assert.equal(w.allowed('dev/client', 'prod/db', '5432/TCP'), false);
  assert.equal(w.allowed('dev/client', 'prod/db', '5432/UDP'), true);
  assert.equal(w.allowed('dev/client', 'prod/db', '1000/UDP'), false);
  assert.equal(w.allowed('dev/client', 'prod/db', '2000/UDP'), false);
  assert.equal(w.allowed('dev/client', 'prod/db', '2001/UDP'), true);
  assert.equal(w.allowed('dev/client', 'prod/web', '80/TCP'), false, 'http of prod/web is 80/TCP');
  assert.equal(w.allowed('dev/client', 'prod/db', '80/TCP'), true, 'db has no port named http');
});

test('networks 0.0.0.0/0 also matches pod and node addresses; nodes peers match node addresses', () => {
  const w = world(
    cnp(
      'egress',
      'Admin',
      1,
      `  subject: {pods: {namespaceSelector: {matchLabels: {env: dev}}, podSelector: {matchLabels: {app: client}}}}
  egress:
  - {action: Accept, to: [{nodes: {matchLabels: {role: control}}}]}
  - {action: Deny, to: [{networks: [0.0.0.0/0]}]}`,
    ),
  );
  assert.equal(w.allowed('dev/client', 'prod/web'), false, 'a pod is inside 0.0.0.0/0');
  assert.equal(
    w.allowed('dev/client', '192.168.0.2', '6443/TCP'),
    true,
    'the control node is accepted',
  );
  assert.equal(
    w.allowed('dev/client', '192.168.0.1', '6443/TCP'),
    false,
    'its own node is inside 0.0.0.0/0 too: only NetworkPolicy exempts it',
  );
  assert.equal(w.allowed('dev/client', '203.0.113.9', '443/TCP'), false);
  assert.equal(
    w.allowed('dev/client', 'fd00::1', '443/TCP'),
    true,
    'an IPv4 network does not match IPv6',
  );
  assert.equal(w.allowed('dev/web', 'prod/web'), true, 'not a subject');
});

test('hairpin: a pod reaching its own IP is not subject to ClusterNetworkPolicy', () => {
  const w = world(
    cnp(
      'deny-all',
      'Admin',
      0,
      `  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
  egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]`,
    ),
  );
  assert.equal(w.allowed('prod/web', 'prod/web'), true);
  assert.equal(w.allowed('prod/web', 'prod/db'), false);
});

test('a ClusterNetworkPolicy without rules in a direction does not affect it', () => {
  const w = world(
    cnp(
      'ingress-only',
      'Admin',
      0,
      `  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {env: dev}}}]}]`,
    ),
  );
  assert.equal(w.evaluator.ir.policies.has('cnp/ingress-only/egress'), false);
  assert.equal(w.allowed('prod/web', 'dev/web', '8080/TCP'), true);
});

// The own node: NetworkPolicy's exemption (kubelet probes) is not ClusterNetworkPolicy's.
// As in the network-policy-api conformance's EgressNodePeers: Accept some ports, then Deny.
const nodeRules = `  subject: {namespaces: {matchLabels: {env: dev}}}
  egress:
  - {name: node-ports, action: Accept, to: [{nodes: {matchLabels: {role: worker}}}], protocols: [{tcp: {destinationPort: {number: 36363}}}, {udp: {destinationPort: {number: 53}}}]}
  - {name: no-nodes, action: Deny, to: [{nodes: {matchLabels: {role: worker}}}]}`;
const hostPod = pod('kube-system', 'agent', { app: 'agent' }, { node: 'n1', hostNetwork: true });
const npDevIsolated = `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: isolate, namespace: dev}
spec: {podSelector: {}, policyTypes: [Ingress, Egress], egress: [{ports: [{port: 36363}]}]}`;

for (const tier of ['Admin', 'Baseline']) {
  test(`${tier} Deny to nodes drops egress to a hostNetwork pod on the own node, on every protocol`, () => {
    const w = world(cnp('nodes', tier, 3, nodeRules), '---', hostPod);
    for (const port of ['10250/TCP', '5353/UDP', '36363/SCTP', '53/TCP'])
      assert.equal(w.allowed('dev/client', 'kube-system/agent', port), false, port);
    const t = w.trace('dev/client', 'kube-system/agent', '10250/TCP');
    assert.equal(t.egress.stage, tier.toLowerCase());
    assert.equal(t.egress.stage !== 'none' && t.egress.rule?.name, 'no-nodes');
    assert.equal(t.egress.stage !== 'none' && t.egress.rule?.index, 1);
    assert.equal(w.allowed('dev/client', 'kube-system/agent', '36363/TCP'), true, 'Accept first');
    assert.equal(w.allowed('dev/client', 'kube-system/agent', '53/UDP'), true, 'Accept first');
    assert.equal(w.allowed('prod/web', 'kube-system/agent', '10250/TCP'), true, 'not a subject');
    assert.equal(w.allowed('kube-system/agent', 'dev/client', '8080/TCP'), true, 'ingress: node');
  });
}

test('a networks peer holding the own node /32 decides like a nodes peer', () => {
  const rule = `  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}
  egress: [{name: no-host, action: Deny, to: [{networks: [192.168.0.1/32]}]}]`;
  const w = world(cnp('host', 'Admin', 0, rule), '---', hostPod);
  assert.equal(w.allowed('dev/client', 'kube-system/agent', '10250/UDP'), false);
  assert.equal(w.allowed('dev/client', '192.168.0.2', '10250/UDP'), true, 'another node');
  assert.equal(w.allowed('dev/web', 'kube-system/agent', '10250/UDP'), true, 'not a subject');
});

test('Admin Deny to the own node overrides a NetworkPolicy; Baseline Deny does not', () => {
  const admin = world(cnp('nodes', 'Admin', 3, nodeRules), '---', hostPod, '---', npDevIsolated);
  assert.equal(admin.allowed('dev/client', 'kube-system/agent', '10250/TCP'), false);
  const baseline = world(
    cnp('nodes', 'Baseline', 3, nodeRules),
    '---',
    hostPod,
    '---',
    npDevIsolated,
  );
  const t = baseline.trace('dev/client', 'kube-system/agent', '10250/TCP');
  assert.equal(t.allowed, true, 'the isolating NetworkPolicy decides, and it exempts the own node');
  assert.equal(t.egress.stage, 'node');
  assert.equal(baseline.allowed('dev/client', 'kube-system/agent', '10250/TCP'), true);
  assert.equal(baseline.allowed('dev/client', '192.168.0.2', '10250/TCP'), false, 'isolated');
  assert.equal(baseline.allowed('dev/client', '192.168.0.2', '36363/TCP'), true, 'NP allows');
});

test('NetworkPolicy alone still exempts the own node, both ways, after an Admin Pass', () => {
  const pass = `  subject: {namespaces: {}}
  egress: [{action: Pass, to: [{nodes: {}}]}]`;
  const w = world(cnp('pass', 'Admin', 0, pass), '---', hostPod, '---', npDevIsolated);
  assert.equal(w.allowed('kube-system/agent', 'dev/client', '8080/TCP'), true, 'kubelet probes');
  const t = w.trace('dev/client', 'kube-system/agent', '10250/TCP');
  assert.equal(t.allowed, true);
  assert.equal(t.egress.stage, 'node');
  assert.equal(t.egress.stage === 'node' && t.egress.passedBy?.policy.name, 'pass');
  assert.equal(w.allowed('dev/client', 'prod/web', '80/TCP'), false, 'isolated otherwise');
});

test('an Admin ingress Deny from every namespace does not stop the node: it is no pod peer', () => {
  const deny = `  subject: {namespaces: {}}
  ingress: [{name: no-pods, action: Deny, from: [{namespaces: {}}]}]`;
  const w = world(cnp('no-pods', 'Admin', 0, deny), '---', hostPod);
  assert.equal(w.allowed('kube-system/agent', 'prod/web', '80/TCP'), true, 'its own node');
  assert.equal(w.allowed('192.168.0.2', 'prod/web', '80/TCP'), true, 'another node');
  assert.equal(w.allowed('dev/client', 'prod/web', '80/TCP'), false, 'a pod');
});
