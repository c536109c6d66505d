// The peer and port layout: one set per rule and family, shared by rules that
// select the same peers, none for a family a rule cannot match, ports as one
// anonymous set per protocol. The dataplane benchmark's shape (100 policies,
// each one rule with 1,000 /32 ipBlock peers) is about 100 sets and rules.
import test from 'node:test';
import { ruleText } from '../../nft/text.js';
import assert from 'node:assert/strict';
import { parseManifestText } from '../../sources/manifests/load.js';
import { buildCluster } from '../../core/model/cluster.js';
import { podKey } from '../../core/model/types.js';
import { compilePolicies } from '../../core/policy/compile.js';
import { renderTable } from './render.js';
import { validateTable } from '../../nft/validate.js';

function cluster(objects: unknown[]) {
  const text = objects.map((o) => JSON.stringify(o)).join('\n---\n');
  const parsed = parseManifestText(text, 't.yaml');
  assert.deepEqual(parsed.issues, []);
  const built = buildCluster(parsed.objects);
  assert.deepEqual(built.issues, []);
  return built.cluster;
}

const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } };
const pod = (name: string, ip: string, labels: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'b', labels },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] },
  status: { podIP: ip },
});
const np = (name: string, ingress: unknown[]) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: 'b' },
  spec: { podSelector: { matchLabels: { app: 'server' } }, policyTypes: ['Ingress'], ingress },
});
const host = (i: number) => `172.${16 + ((2 * i) >> 16)}.${((2 * i) >> 8) & 255}.${(2 * i) & 255}`;

function render(objects: unknown[]) {
  const c = cluster(objects);
  const table = renderTable(compilePolicies(c), new Set(c.pods.map(podKey)));
  assert.deepEqual(validateTable(table), []);
  return table;
}

function policyRules(table: ReturnType<typeof render>): string[] {
  return [...table.chains.values()]
    .filter((c) => c.name.startsWith('pol_'))
    .flatMap((c) => c.rules.map((r) => ruleText(r)));
}

test("the benchmark's shape: 100 policies x 1,000 /32 peers are 100 sets and 100 rules", () => {
  const policies = Array.from({ length: 100 }, (_, p) =>
    np(`p${p}`, [
      {
        from: Array.from({ length: 1000 }, (_, i) => ({
          ipBlock: { cidr: `${host(p * 1000 + i)}/32` },
        })),
        ports: [{ protocol: 'TCP', port: 5201, endPort: 11111 }],
      },
    ]),
  );
  const table = render([ns, pod('server', '10.0.0.1', { app: 'server' }), ...policies]);
  const peerSets = [...table.sets.values()].filter((s) => s.name.startsWith('peers_'));
  assert.equal(peerSets.length, 100, 'one set per rule, IPv4 only');
  assert.ok(peerSets.every((s) => s.name.endsWith('_4') && s.elements.length === 1000));
  assert.equal(policyRules(table).length, 100);
  assert.match(
    policyRules(table)[0] ?? '',
    /^ip saddr @peers_\w+_4 meta l4proto tcp th dport 5201-11111 /,
  );
});

test('rules selecting the same peers share one set; except is carved out of the interval set', () => {
  const from = [
    { ipBlock: { cidr: '10.8.0.0/16', except: ['10.8.1.0/24'] } },
    { podSelector: { matchLabels: { app: 'client' } } },
  ];
  const table = render([
    ns,
    pod('server', '10.0.0.1', { app: 'server' }),
    pod('client', '10.0.0.2', { app: 'client' }),
    np('a', [{ from }]),
    np('b', [{ from: [...from].reverse(), ports: [{ port: 80 }] }]),
  ]);
  const peerSets = [...table.sets.values()].filter((s) => s.name.startsWith('peers_'));
  assert.equal(peerSets.length, 1, 'both rules use one set; no IPv6 set');
  assert.equal(peerSets[0]?.interval, true);
  assert.deepEqual(peerSets[0]?.elements, [
    '10.0.0.2',
    '10.8.0.0/24',
    '10.8.128.0/17',
    '10.8.16.0/20',
    '10.8.2.0/23',
    '10.8.32.0/19',
    '10.8.4.0/22',
    '10.8.64.0/18',
    '10.8.8.0/21',
  ]);
  assert.match(peerSets[0]?.comment ?? '', /^peers: /);
});

test('ports: one anonymous set per protocol, merged and in the order written', () => {
  const table = render([
    ns,
    pod('server', '10.0.0.1', { app: 'server' }),
    np('p', [
      {
        ports: [
          { port: 443 },
          { protocol: 'UDP', port: 53 },
          { port: 80 },
          { port: 81 },
          { port: 8000, endPort: 8080 },
          { protocol: 'UDP', port: 53 },
        ],
      },
    ]),
  ]);
  assert.deepEqual(
    policyRules(table).map((r) => r.replace(/ meta mark set .*$/, '')),
    ['meta l4proto tcp th dport { 80-81, 443, 8000-8080 }', 'meta l4proto udp th dport 53'],
  );
});
