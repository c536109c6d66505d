import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatCidr, parseCidr } from '../net/cidr.js';
import { formatIp, parseIp } from '../net/ip.js';
import type { Node } from '../model/types.js';
import { fnv1a64, planRoutes, vtepMac, type RoutePlan } from './plan.js';

function node(name: string, addresses: string[], podCidrs: string[]): Node {
  return {
    kind: 'Node',
    name,
    labels: {},
    addresses: addresses.map((a) => {
      const ip = parseIp(a);
      assert.ok(ip, a);
      return ip;
    }),
    podCidrs: podCidrs.map((c) => {
      const cidr = parseCidr(c);
      assert.ok(cidr, c);
      return cidr.cidr;
    }),
  };
}

/** The plan as the lines an operator would read. */
function show(plan: RoutePlan): string[] {
  const lines = [`underlay ${plan.underlay ? formatIp(plan.underlay) : '-'}`];
  if (plan.mode === 'vxlan') {
    lines.push(`vtep ${plan.vtep.mac} ${plan.vtep.addresses.map(formatIp).join(' ')}`);
    for (const f of plan.fdb) lines.push(`fdb ${f.mac} dst ${formatIp(f.dst)} (${f.node})`);
    for (const n of plan.neighbors)
      lines.push(`neigh ${formatIp(n.address)} lladdr ${n.mac} (${n.node})`);
  }
  for (const r of plan.routes)
    lines.push(`route ${formatCidr(r.cidr)} via ${formatIp(r.via)} (${r.node})`);
  return lines;
}

const A = node('a', ['172.31.0.1', 'fd31::1'], ['10.244.1.0/24', 'fd00:10:244:1::/64']);
const B = node('b', ['172.31.0.2'], ['10.244.2.0/24', 'fd00:10:244:2::/64']);
const C = node('c', ['fd31::3', '172.31.0.3'], ['10.244.3.0/24']);

test('vtepMac: FNV-1a of the name, locally administered unicast', () => {
  assert.equal(fnv1a64(''), 0xcbf29ce484222325n);
  assert.equal(fnv1a64('a'), 0xaf63dc4c8601ec8cn);
  assert.equal(fnv1a64('foobar'), 0x85944171f73967e8n);
  assert.equal(vtepMac('a'), 'de:4c:86:01:ec:8c');
  assert.equal(vtepMac('node-1'), vtepMac('node-1'));
  assert.notEqual(vtepMac('node-1'), vtepMac('node-2'));
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (name) => {
      const mac = vtepMac(name);
      assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      const first = parseInt(mac.slice(0, 2), 16);
      assert.equal(first & 0x01, 0, 'unicast');
      assert.equal(first & 0x02, 0x02, 'locally administered');
    }),
  );
});

test('vxlan: a VTEP per own pod CIDR, and route, neighbor and FDB entries per peer', () => {
  const plan = planRoutes('a', [C, B, A], 'vxlan');
  assert.deepEqual(show(plan), [
    'underlay 172.31.0.1',
    `vtep ${vtepMac('a')} 10.244.1.0 fd00:10:244:1::`,
    `fdb ${vtepMac('b')} dst 172.31.0.2 (b)`,
    `fdb ${vtepMac('c')} dst 172.31.0.3 (c)`,
    `neigh 10.244.2.0 lladdr ${vtepMac('b')} (b)`,
    `neigh fd00:10:244:2:: lladdr ${vtepMac('b')} (b)`,
    `neigh 10.244.3.0 lladdr ${vtepMac('c')} (c)`,
    'route 10.244.2.0/24 via 10.244.2.0 (b)',
    'route fd00:10:244:2::/64 via fd00:10:244:2:: (b)',
    'route 10.244.3.0/24 via 10.244.3.0 (c)',
  ]);
  assert.deepEqual(plan.warnings, []);
});

test('host-gw: IPv4 pod CIDRs via the peer underlay; IPv6 ones reported', () => {
  const plan = planRoutes('c', [A, B, C], 'host-gw');
  assert.deepEqual(show(plan), [
    'underlay 172.31.0.3',
    'route 10.244.1.0/24 via 172.31.0.1 (a)',
    'route 10.244.2.0/24 via 172.31.0.2 (b)',
  ]);
  assert.deepEqual(plan.warnings, [
    'node a: host-gw routes IPv4 only; fd00:10:244:1::/64 not routed',
    'node b: host-gw routes IPv4 only; fd00:10:244:2::/64 not routed',
  ]);
});

test('nodes without an IPv4 address or pod CIDRs contribute nothing', () => {
  const nodes = [
    A,
    node('no-cidrs', ['172.31.0.4'], []),
    node('no-address', [], ['10.244.5.0/24']),
    node('v6-only', ['fd31::6'], ['10.244.6.0/24']),
  ];
  const plan = planRoutes('a', nodes, 'vxlan');
  assert.deepEqual(show(plan), [
    'underlay 172.31.0.1',
    `vtep ${vtepMac('a')} 10.244.1.0 fd00:10:244:1::`,
  ]);
  assert.deepEqual(plan.warnings, [
    'node v6-only: no IPv4 address (IPv6 underlay is not supported)',
  ]);
});

test('overlapping pod CIDRs are skipped with a warning: ours win, then the first by name', () => {
  const nodes = [
    A,
    node('z', ['172.31.0.26'], ['10.244.8.0/24']),
    node('x', ['172.31.0.24'], ['10.244.0.0/16', '10.245.0.0/24']),
    node('y', ['172.31.0.25'], ['10.244.8.0/25']),
  ];
  const plan = planRoutes('a', nodes, 'host-gw');
  assert.deepEqual(show(plan), [
    'underlay 172.31.0.1',
    'route 10.245.0.0/24 via 172.31.0.24 (x)',
    'route 10.244.8.0/25 via 172.31.0.25 (y)',
  ]);
  assert.deepEqual(plan.warnings, [
    'node x: pod CIDR 10.244.0.0/16 overlaps 10.244.1.0/24; not routed',
    'node z: pod CIDR 10.244.8.0/24 overlaps 10.244.8.0/25; not routed',
  ]);
});

test('a peer claiming our underlay address is skipped', () => {
  const plan = planRoutes('a', [A, node('twin', ['172.31.0.1'], ['10.244.9.0/24'])], 'host-gw');
  assert.deepEqual(plan.routes, []);
  assert.deepEqual(plan.warnings, ["node twin: has this node's address 172.31.0.1; skipped"]);
});

test('a node missing from the list, or without IPv4, has no underlay and says why', () => {
  const missing = planRoutes('ghost', [A, B], 'vxlan');
  assert.equal(missing.underlay, undefined);
  assert.deepEqual(missing.warnings, ['node ghost: not in the node list']);
  assert.equal(missing.routes.length, 4, 'peers are still planned; backends refuse to apply');
  const v6 = planRoutes('v6', [A, node('v6', ['fd31::9'], ['10.244.9.0/24'])], 'vxlan');
  assert.equal(v6.underlay, undefined);
  assert.deepEqual(v6.warnings, ['node v6: no IPv4 address (IPv6 underlay is not supported)']);
});

test('the plan does not depend on the order of the nodes or of their CIDRs', () => {
  const nodes = [
    A,
    B,
    C,
    node('d', ['172.31.0.4'], ['fd00:10:244:4::/64', '10.244.4.0/24']),
    node('e', ['172.31.0.5'], ['10.244.4.0/24']),
  ];
  for (const mode of ['vxlan', 'host-gw'] as const) {
    const expected = planRoutes('b', nodes, mode);
    fc.assert(
      fc.property(fc.shuffledSubarray(nodes, { minLength: nodes.length }), (shuffled) => {
        assert.deepEqual(planRoutes('b', shuffled, mode), expected);
      }),
      { numRuns: 50 },
    );
  }
});
