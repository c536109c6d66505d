import test from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../errors.js';
import * as fixtures from '../../testing/flows.js';
import { agentsQuery, applyAfterJoin, applyFlowQuery, parseFlowQuery } from './filter.js';
import type { Flow } from './types.js';

const NOW = Date.UTC(2025, 0, 31, 12, 0, 0);

const web = (ip: string, port?: number) =>
  ({
    kind: 'pod',
    ip,
    port,
    namespace: 'prod',
    pod: 'web-7d4f9-abcde',
    labels: { app: 'web', tier: 'front' },
  }) as const;
const db = (ip: string, port?: number) =>
  ({ kind: 'pod', ip, port, namespace: 'data', pod: 'db-0', labels: { app: 'db' } }) as const;

/** Fixtures, each with a name to assert on. */
const FLOWS: (Flow & { readonly id: string })[] = [
  {
    id: 'web->db start',
    time: NOW - 600_000,
    node: 'worker-1',
    direction: 'egress',
    source: web('10.1.0.5', 40000),
    destination: db('10.2.0.7', 5432),
    protocol: 'TCP',
    ipProtocol: 6,
    event: 'start',
    verdict: 'forwarded',
    decidedBy: {
      kind: 'rule',
      rule: {
        policy: { kind: 'NetworkPolicy', namespace: 'data', name: 'allow-web' },
        direction: 'ingress',
        index: 0,
      },
    },
  },
  {
    id: 'world->web drop',
    time: NOW - 120_000,
    node: 'worker-2',
    direction: 'ingress',
    source: { kind: 'world', ip: '203.0.113.9', port: 5555 },
    destination: web('10.1.0.5', 80),
    protocol: 'TCP',
    ipProtocol: 6,
    tcpFlags: ['SYN'],
    event: 'drop',
    verdict: 'dropped',
    decidedBy: {
      kind: 'isolation',
      isolatedBy: [
        { kind: 'NetworkPolicy', namespace: 'prod', name: 'deny-all' },
        { kind: 'NetworkPolicy', namespace: 'prod', name: 'allow-lb' },
      ],
    },
  },
  {
    id: 'db->host icmp6 end',
    time: NOW - 30_000,
    node: 'worker-1',
    direction: 'egress',
    source: db('fd00::7'),
    destination: { kind: 'host', ip: 'fd00::1', node: 'worker-1' },
    protocol: 'ICMPv6',
    ipProtocol: 58,
    icmp: { type: 128, code: 0 },
    event: 'end',
    verdict: 'forwarded',
    counters: { original: { packets: 1, bytes: 104 }, reply: { packets: 1, bytes: 104 } },
    decidedBy: { kind: 'default' },
  },
  {
    id: 'web->dns udp drop',
    time: NOW - 10_000,
    node: 'control-plane',
    direction: 'egress',
    source: web('10.1.0.6', 33333),
    destination: {
      kind: 'pod',
      ip: '10.3.0.2',
      port: 53,
      namespace: 'kube-system',
      pod: 'coredns-1',
      labels: { 'k8s-app': 'kube-dns' },
    },
    protocol: 'UDP',
    ipProtocol: 17,
    event: 'drop',
    verdict: 'dropped',
    decidedBy: {
      kind: 'rule',
      rule: {
        policy: { kind: 'ClusterNetworkPolicy', name: 'no-dns', tier: 'Admin', priority: 10 },
        direction: 'egress',
        index: 2,
        name: 'deny-dns',
      },
    },
  },
];

function ids(flags: [string, string][]): string[] {
  const q = parseFlowQuery(flags, NOW);
  return applyFlowQuery(q, FLOWS).map((f) => f.id);
}

test('pod filters: name prefix, namespace, side', () => {
  assert.deepEqual(ids([['from-pod', 'prod/web']]), ['web->db start', 'web->dns udp drop']);
  assert.deepEqual(ids([['to-pod', 'prod/web-7d4f9']]), ['world->web drop']);
  assert.deepEqual(ids([['pod', 'data/db-0']]), ['web->db start', 'db->host icmp6 end']);
  assert.deepEqual(ids([['pod', 'web']]), [], 'no namespace means "default"');
  assert.deepEqual(
    ids([
      ['pod', 'web'],
      ['namespace', 'prod'],
    ]),
    ['web->db start', 'world->web drop', 'web->dns udp drop'],
  );
  assert.deepEqual(ids([['to-namespace', 'kube-system']]), ['web->dns udp drop']);
});

test('label selectors on either side, world and host never match', () => {
  assert.deepEqual(ids([['to-label', 'app=db']]), ['web->db start']);
  assert.deepEqual(ids([['from-label', 'app in (db, cache)']]), ['db->host icmp6 end']);
  assert.deepEqual(ids([['label', 'tier,app!=db']]), [
    'web->db start',
    'world->web drop',
    'web->dns udp drop',
  ]);
  // The host destination has no labels at all and does not match; coredns lacks `app`.
  assert.deepEqual(ids([['to-label', '!app']]), ['web->dns udp drop']);
  assert.deepEqual(ids([['to-label', 'k8s-app=kube-dns']]), ['web->dns udp drop']);
});

test('ip, cidr and ports', () => {
  assert.deepEqual(ids([['ip', '10.1.0.0/16']]), [
    'web->db start',
    'world->web drop',
    'web->dns udp drop',
  ]);
  assert.deepEqual(ids([['to-ip', 'fd00::1']]), ['db->host icmp6 end']);
  assert.deepEqual(ids([['from-ip', 'fd00::/64']]), ['db->host icmp6 end']);
  assert.deepEqual(ids([['port', '80']]), ['world->web drop']);
  assert.deepEqual(
    ids([
      ['to-port', '53'],
      ['to-port', '5432'],
    ]),
    ['web->db start', 'web->dns udp drop'],
  );
  assert.deepEqual(ids([['from-port', '53']]), []);
});

test('protocol, verdict, event, policy, node', () => {
  assert.deepEqual(ids([['protocol', 'ICMP']]), ['db->host icmp6 end'], 'icmp covers ICMPv6');
  assert.deepEqual(ids([['protocol', 'icmpv4']]), []);
  assert.deepEqual(
    ids([
      ['protocol', 'udp'],
      ['verdict', 'DROPPED'],
    ]),
    ['web->dns udp drop'],
  );
  assert.deepEqual(ids([['event', 'end']]), ['db->host icmp6 end']);
  assert.deepEqual(ids([['policy', 'prod/allow-lb']]), ['world->web drop']);
  assert.deepEqual(ids([['policy', 'no-dns']]), ['web->dns udp drop']);
  assert.deepEqual(ids([['policy', 'data/allow-web']]), ['web->db start']);
  assert.deepEqual(ids([['policy', 'allow-web']]), [], 'a bare name is a ClusterNetworkPolicy');
  assert.deepEqual(ids([['node', 'worker-*']]), [
    'web->db start',
    'world->web drop',
    'db->host icmp6 end',
  ]);
  assert.deepEqual(ids([['node', 'worker-1']]), ['web->db start', 'db->host icmp6 end']);
  assert.deepEqual(ids([['node', 'worker.1']]), [], 'a dot is not a wildcard');
});

test('since, until (durations and RFC 3339) and last N', () => {
  assert.deepEqual(ids([['since', '5m']]), [
    'world->web drop',
    'db->host icmp6 end',
    'web->dns udp drop',
  ]);
  assert.deepEqual(ids([['since', '2025-01-31T11:59:00Z']]), [
    'db->host icmp6 end',
    'web->dns udp drop',
  ]);
  assert.deepEqual(ids([['since', '2025-01-31T12:59:00+01:00']]), [
    'db->host icmp6 end',
    'web->dns udp drop',
  ]);
  assert.deepEqual(ids([['until', '1m']]), ['web->db start', 'world->web drop']);
  assert.deepEqual(ids([['last', '2']]), ['db->host icmp6 end', 'web->dns udp drop']);
  assert.deepEqual(
    ids([
      ['verdict', 'forwarded'],
      ['last', '1'],
    ]),
    ['db->host icmp6 end'],
  );
  assert.deepEqual(
    ids([
      ['--since', '1h'],
      ['--last', '10'],
    ]).length,
    4,
    'dashes are accepted',
  );
});

function usageError(flags: [string, string][], object: string, message: RegExp, fix?: RegExp) {
  assert.throws(
    () => parseFlowQuery(flags, NOW),
    (e: unknown) => {
      assert.ok(e instanceof WeftError);
      assert.equal(e.code, 'WEFT_USAGE');
      const issue = e.issues[0];
      assert.equal(issue?.object, object);
      assert.match(issue?.message ?? '', message);
      if (fix) assert.match(issue?.fix ?? '', fix);
      return true;
    },
  );
}

test('bad filters name the flag, the value and a fix', () => {
  usageError([['to-pods', 'x']], '--to-pods', /unknown flow filter/, /did you mean --to-pod\?/);
  usageError([['colour', 'x']], '--colour', /unknown flow filter/, /use one of --pod/);
  usageError([['from-label', 'app=we b']], '--from-label "app=we b"', /found "b"/);
  usageError([['label', 'app in ()']], '--label "app in ()"', /needs at least one value/);
  usageError([['label', 'replicas>3']], '--label "replicas>3"', /numeric comparison/);
  usageError([['label', '-bad=x']], '--label "-bad=x"', /label key "-bad"/);
  usageError([['ip', '10.0.0.1/24']], '--ip "10.0.0.1/24"', /host bits/, /use 10\.0\.0\.0\/24/);
  usageError([['ip', '10.0.0.256']], '--ip "10.0.0.256"', /not an IP address or CIDR/);
  usageError([['port', '65536']], '--port "65536"', /port number 0-65535/);
  usageError([['port', '08']], '--port "08"', /port number/);
  usageError([['protocol', 'gre']], '--protocol "gre"', /unknown protocol/, /icmpv6/);
  usageError([['verdict', 'denied']], '--verdict "denied"', /one of forwarded, dropped/);
  usageError([['event', 'stop']], '--event "stop"', /one of start, end, drop/);
  usageError([['policy', 'a/b/c']], '--policy "a/b/c"', /namespace\/name/);
  usageError([['service', 'db-svc']], '--service "db-svc"', /namespace\/name/, /--service prod/);
  usageError([['pod', 'prod/']], '--pod "prod/"', /\[namespace\/\]pod-name-prefix/);
  usageError([['since', 'yesterday']], '--since "yesterday"', /duration .* or an RFC 3339 time/);
  usageError(
    [['since', '2025-02-30T00:00:00Z']],
    '--since "2025-02-30T00:00:00Z"',
    /not a valid date/,
  );
  usageError([['last', '0']], '--last "0"', /positive whole number/);
  usageError([['node', '']], '--node ""', /needs a value/);
});

test('service: the Service a connection went through, answered after the join across agents', () => {
  const { flow, dbService } = fixtures;
  const through = flow(NOW - 3000, fixtures.web, fixtures.db, 'start', { service: dbService });
  const direct = flow(NOW - 2000, fixtures.loadgen, fixtures.db, 'start');
  const later = flow(NOW - 1000, fixtures.loadgen, fixtures.db, 'start', { service: dbService });
  const flows = [through, direct, later];
  const q = parseFlowQuery(
    [
      ['service', 'shop/db-svc'],
      ['service', 'other/one'],
      ['from-pod', 'shop/web'],
      ['last', '5'],
    ],
    NOW,
  );
  assert.deepEqual(applyFlowQuery(q, flows), [through], 'one agent applies it to its own');
  const none = parseFlowQuery([['service', 'shop/db']], NOW);
  assert.deepEqual(applyFlowQuery(none, flows), [], 'the whole name, not a prefix');
  // Many agents: each is asked without it (and without last), the merge applies both.
  const asked = agentsQuery(q);
  assert.deepEqual(asked.flags, [['from-pod', 'shop/web']]);
  assert.equal(asked.last, undefined);
  assert.deepEqual(applyFlowQuery(asked, flows), [through]);
  const lastOne = parseFlowQuery(
    [
      ['service', 'shop/db-svc'],
      ['last', '1'],
    ],
    NOW,
  );
  assert.deepEqual(applyAfterJoin(lastOne, flows), [later]);
  const plain = parseFlowQuery([['last', '2']], NOW);
  assert.equal(agentsQuery(plain), plain, 'nothing to join: asked as given');
  assert.deepEqual(applyAfterJoin(plain, flows), [direct, later]);
});
