// NetworkPolicy semantics, written from the networking/v1 API reference and
// the "Network Policies" concept page. Each test builds manifests, then asks
// the evaluator (and, through PolicyWorld, the bitset matrix) for verdicts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { PolicyWorld, docs, namespace, pod } from '../../testing/policy.js';

const base = docs(
  namespace('prod', { env: 'prod' }),
  namespace('dev', { env: 'dev' }),
  pod('prod', 'web', { app: 'web' }, { ports: [{ name: 'http', port: 80 }] }),
  pod('prod', 'db', { app: 'db' }, { ports: [{ name: 'sql', port: 5432 }] }),
  pod('dev', 'web', { app: 'web' }, { ports: [{ name: 'http', port: 8080 }] }),
  pod('dev', 'client', { app: 'client' }),
);

const world = (...policies: string[]) => new PolicyWorld(docs(base, ...policies));

test('no policy: everything is allowed', () => {
  const w = world();
  assert.equal(w.allowed('dev/client', 'prod/db', '5432/TCP'), true);
  assert.equal(w.allowed('prod/db', 'dev/client', '53/UDP'), true);
});

test('podSelector {} isolates every pod of the policy namespace, and only that namespace', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny-all, namespace: prod}
spec: {podSelector: {}}`);
  assert.equal(w.allowed('dev/client', 'prod/web'), false);
  assert.equal(w.allowed('dev/client', 'prod/db'), false);
  assert.equal(w.allowed('prod/web', 'prod/db'), false);
  assert.equal(w.allowed('prod/web', 'dev/web', '8080/TCP'), true, 'dev is not isolated');
});

test('peer podSelector {} without namespaceSelector means every pod of the policy own namespace', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: same-ns, namespace: prod}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]`);
  assert.equal(w.allowed('prod/web', 'prod/db'), true);
  assert.equal(w.allowed('dev/client', 'prod/db'), false);
});

test('peer namespaceSelector {} means every pod of every namespace', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: all-ns, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {}}]}]`);
  assert.equal(w.allowed('dev/client', 'prod/db'), true);
  assert.equal(w.allowed('prod/web', 'prod/db'), true);
  assert.equal(
    w.allowed('10.99.0.1', 'prod/db'),
    false,
    'a non-pod source is not a pod of any namespace',
  );
});

test('policyTypes omitted without egress: ingress only; egress stays open', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec: {podSelector: {matchLabels: {app: db}}}`);
  assert.equal(w.allowed('prod/web', 'prod/db'), false);
  assert.equal(w.allowed('prod/db', 'dev/client'), true);
});

test('policyTypes omitted with an egress section: both directions isolated', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  egress: [{to: [{podSelector: {matchLabels: {app: web}}}]}]`);
  assert.equal(w.allowed('prod/db', 'prod/web'), true);
  assert.equal(w.allowed('prod/db', 'dev/client'), false);
  assert.equal(
    w.allowed('prod/web', 'prod/db'),
    false,
    'ingress is isolated too (no ingress rules)',
  );
});

test('policyTypes [Egress] ignores ingress rules in the object', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Egress]
  ingress: [{from: [{podSelector: {matchLabels: {app: nothing}}}]}]
  egress: [{}]`);
  assert.equal(
    w.allowed('prod/web', 'prod/db'),
    true,
    'ingress not isolated despite the ingress rule',
  );
  assert.equal(w.allowed('prod/db', 'dev/client'), true, '[{}] allows all egress');
});

test('an empty rule list denies the direction; [{}] allows everything', () => {
  const deny = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec: {podSelector: {}, policyTypes: [Ingress, Egress], ingress: [], egress: []}`);
  assert.equal(deny.allowed('prod/web', 'dev/web', '8080/TCP'), false);
  assert.equal(deny.allowed('dev/client', 'prod/web'), false);
  const allow = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec: {podSelector: {}, policyTypes: [Ingress, Egress], ingress: [{}], egress: [{}]}`);
  assert.equal(allow.allowed('prod/web', 'dev/web', '8080/TCP'), true);
  assert.equal(allow.allowed('dev/client', 'prod/web', '9999/UDP'), true);
});

test('namespaceSelector and podSelector in one peer AND; in separate peers OR', () => {
  const and = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {env: dev}}, podSelector: {matchLabels: {app: web}}}]}]`);
  assert.equal(and.allowed('dev/web', 'prod/db'), true);
  assert.equal(and.allowed('dev/client', 'prod/db'), false, 'in dev but not app=web');
  assert.equal(and.allowed('prod/web', 'prod/db'), false, 'app=web but not in dev');
  const or = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {env: dev}}}, {podSelector: {matchLabels: {app: web}}}]}]`);
  assert.equal(or.allowed('dev/client', 'prod/db'), true, 'any pod of dev');
  assert.equal(or.allowed('prod/web', 'prod/db'), true, 'app=web of the own namespace');
});

test('ipBlock except subtracts only inside its own peer; another peer can allow the range', () => {
  const yaml = docs(
    namespace('n'),
    pod('n', 'a', { app: 'a' }, { ip: '10.1.0.5' }),
    pod('n', 'b', { app: 'b' }, { ip: '10.1.1.5' }),
    pod('n', 'target', { app: 't' }, { ip: '10.2.0.9' }),
  );
  const one = new PolicyWorld(
    docs(
      yaml,
      `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: n}
spec:
  podSelector: {matchLabels: {app: t}}
  ingress: [{from: [{ipBlock: {cidr: 10.1.0.0/16, except: [10.1.1.0/24]}}]}]`,
    ),
  );
  assert.equal(one.allowed('n/a', 'n/target'), true);
  assert.equal(one.allowed('n/b', 'n/target'), false, 'inside the except');
  assert.equal(one.allowed('10.1.1.200', 'n/target'), false);
  assert.equal(one.allowed('10.1.200.1', 'n/target'), true, 'a non-pod address in the block');
  const two = new PolicyWorld(
    docs(
      yaml,
      `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: n}
spec:
  podSelector: {matchLabels: {app: t}}
  ingress: [{from: [{ipBlock: {cidr: 10.1.0.0/16, except: [10.1.1.0/24]}}, {podSelector: {matchLabels: {app: b}}}]}]`,
    ),
  );
  assert.equal(two.allowed('n/b', 'n/target'), true, 'the pod peer allows b despite the except');
  assert.equal(two.allowed('10.1.1.200', 'n/target'), false);
});

test('ipBlock CIDRs with host bits are masked, and an IPv4 block never matches IPv6', () => {
  const w = new PolicyWorld(
    docs(
      namespace('n'),
      pod('n', 't', { app: 't' }, { ip: '10.2.0.9' }),
      `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: n}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 192.168.7.77/24}}, {ipBlock: {cidr: 0.0.0.0/0}}]}]`,
    ),
  );
  assert.equal(w.allowed('192.168.7.1', 'n/t'), true);
  assert.equal(w.allowed('fd00::1', 'n/t'), false, '0.0.0.0/0 does not match IPv6');
});

test('a port without protocol is TCP; a protocol without port is every port of it; no ports is everything', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - ports: [{port: 5432}]
  - ports: [{protocol: UDP}]`);
  assert.equal(w.allowed('prod/web', 'prod/db', '5432/TCP'), true);
  assert.equal(w.allowed('prod/web', 'prod/db', '5433/TCP'), false);
  assert.equal(w.allowed('prod/web', 'prod/db', '5432/SCTP'), false);
  assert.equal(w.allowed('prod/web', 'prod/db', '12345/UDP'), true);
  const all = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {}}]}]`);
  assert.equal(all.allowed('prod/web', 'prod/db', '1/SCTP'), true);
});

test('endPort is an inclusive range from port', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{ports: [{port: 32000, endPort: 32768}]}]`);
  assert.equal(w.allowed('prod/web', 'prod/db', '31999/TCP'), false);
  assert.equal(w.allowed('prod/web', 'prod/db', '32000/TCP'), true);
  assert.equal(w.allowed('prod/web', 'prod/db', '32768/TCP'), true);
  assert.equal(w.allowed('prod/web', 'prod/db', '32769/TCP'), false);
});

test('ingress named ports resolve against the selected pod, name and protocol both', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: dev}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: http}]}]`);
  assert.equal(w.allowed('dev/client', 'dev/web', '8080/TCP'), true);
  assert.equal(
    w.allowed('dev/client', 'dev/web', '80/TCP'),
    false,
    '80 is http of prod/web, not of dev/web',
  );
  const udp = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: dev}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: http, protocol: UDP}]}]`);
  assert.equal(
    udp.allowed('dev/client', 'dev/web', '8080/TCP'),
    false,
    'http is TCP, the rule names UDP',
  );
  assert.equal(udp.allowed('dev/client', 'dev/web', '8080/UDP'), false);
});

test('egress named ports resolve per destination pod, which may map the name differently', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: dev}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {}}, {ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: http}]}]`);
  assert.equal(w.allowed('dev/client', 'prod/web', '80/TCP'), true);
  assert.equal(w.allowed('dev/client', 'dev/web', '8080/TCP'), true);
  assert.equal(w.allowed('dev/client', 'dev/web', '80/TCP'), false);
  assert.equal(w.allowed('dev/client', 'prod/db', '80/TCP'), false, 'db has no port named http');
  assert.equal(
    w.allowed('dev/client', '192.0.2.1', '80/TCP'),
    false,
    'a named port never matches a non-pod',
  );
});

test('a connection needs egress of the source and ingress of the destination', () => {
  const w = world(
    `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: out, namespace: dev}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {env: prod}}}]}]`,
    `
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: in, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]`,
  );
  assert.equal(w.allowed('dev/client', 'prod/web'), true);
  assert.equal(w.allowed('dev/client', 'prod/db'), false, 'egress allows, ingress does not');
  assert.equal(w.allowed('prod/web', 'prod/db'), true);
  const t = w.trace('dev/client', 'prod/db', '80/TCP');
  assert.equal(t.egress.allowed, true);
  assert.equal(t.ingress.allowed, false);
  assert.equal(t.ingress.stage, 'networkpolicy');
});

test('policies are additive: any selecting policy may allow', () => {
  const w = world(
    `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: a, namespace: prod}
spec: {podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]}`,
    `
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: b, namespace: prod}
spec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [{namespaceSelector: {matchLabels: {env: dev}}}]}]}`,
  );
  assert.equal(w.allowed('prod/web', 'prod/db'), true);
  assert.equal(w.allowed('dev/client', 'prod/db'), true);
  assert.equal(w.allowed('dev/client', 'prod/web'), false);
  const t = w.trace('dev/client', 'prod/web', '80/TCP');
  assert.deepEqual(
    t.ingress.stage === 'networkpolicy' ? t.ingress.isolatedBy?.map((p) => p.name) : [],
    ['a'],
  );
});

test('SCTP-only rules still isolate, and SCTP is never TCP', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{ports: [{protocol: SCTP, port: 5432}]}]`);
  assert.equal(w.allowed('prod/web', 'prod/db', '5432/SCTP'), true);
  assert.equal(w.allowed('prod/web', 'prod/db', '5432/TCP'), false);
});

test('a pod can always reach itself on its own IP', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`);
  assert.equal(w.allowed('prod/db', 'prod/db', '5432/TCP'), true);
  assert.equal(w.trace('prod/db', 'prod/db', '5432/TCP').ingress.stage, 'hairpin');
  assert.equal(w.allowed('prod/web', 'prod/db'), false);
});

test('traffic between a pod and its own node is always allowed; other nodes are not', () => {
  const w = new PolicyWorld(
    docs(
      `{apiVersion: v1, kind: Node, metadata: {name: n1}, status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}}`,
      `{apiVersion: v1, kind: Node, metadata: {name: n2}, status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}}`,
      pod('default', 'p', { app: 'p' }, { node: 'n1' }),
      `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny, namespace: default}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`,
    ),
  );
  assert.equal(w.allowed('192.168.0.1', 'default/p', '10250/TCP'), true);
  assert.equal(w.allowed('default/p', '192.168.0.1', '6443/TCP'), true);
  assert.equal(w.allowed('192.168.0.2', 'default/p', '10250/TCP'), false);
});

test('hostNetwork pods are ignored by selectors; their traffic is node traffic', () => {
  const w = new PolicyWorld(
    docs(
      `{apiVersion: v1, kind: Node, metadata: {name: n1}, status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}}`,
      `{apiVersion: v1, kind: Node, metadata: {name: n2}, status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}}`,
      pod('default', 'hostpod', { app: 'agent' }, { node: 'n2', hostNetwork: true }),
      pod('default', 'web', { app: 'web' }, { node: 'n1' }),
      `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: from-agents, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: agent}}}]}]`,
      `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: isolate-agents, namespace: default}
spec: {podSelector: {matchLabels: {app: agent}}}`,
    ),
  );
  assert.equal(
    w.allowed('default/hostpod', 'default/web'),
    false,
    'the peer selector does not pick the hostNetwork pod',
  );
  assert.equal(
    w.allowed('default/web', 'default/hostpod'),
    true,
    'a policy cannot isolate a hostNetwork pod',
  );
  assert.equal(w.evaluator.ir.endpoints.has('default/hostpod'), false);
});

test('kubernetes.io/metadata.name selects a namespace by name', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: dev}}}]}]`);
  assert.equal(w.allowed('dev/client', 'prod/db'), true);
  assert.equal(w.allowed('prod/web', 'prod/db'), false);
});

test('matchExpressions: In, NotIn (a missing key satisfies it), Exists, DoesNotExist', () => {
  const w = world(`
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}
      podSelector: {matchExpressions: [{key: app, operator: In, values: [web, other]}, {key: tier, operator: DoesNotExist}]}`);
  assert.equal(w.allowed('dev/web', 'prod/db'), true);
  assert.equal(w.allowed('dev/client', 'prod/db'), false);
  assert.equal(w.allowed('prod/web', 'prod/db'), false);
});

test('label changes take effect: the same policy recompiled over relabelled pods', () => {
  const policy = `
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {role: friend}}}]}]`;
  const before = new PolicyWorld(
    docs(namespace('prod'), pod('prod', 'db', { app: 'db' }), pod('prod', 'x', {}), policy),
  );
  const after = new PolicyWorld(
    docs(
      namespace('prod'),
      pod('prod', 'db', { app: 'db' }),
      pod('prod', 'x', { role: 'friend' }),
      policy,
    ),
  );
  assert.equal(before.allowed('prod/x', 'prod/db'), false);
  assert.equal(after.allowed('prod/x', 'prod/db'), true);
});
