import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCodes } from '../errors.js';
import { buildCluster } from '../model/cluster.js';
import { formatIp } from '../net/ip.js';
import type { Service } from '../model/service-types.js';
import type { Cluster } from '../model/types.js';
import { parsedAs } from '../../testing/parse.js';
import { allocateServices } from './allocate.js';
import { DUAL_STACK_SERVICE_RANGES, type ServiceRanges } from './ranges.js';
import { parseCidr } from '../net/cidr.js';

function svc(namespace: string, name: string, spec: Record<string, unknown>): Service {
  return parsedAs('Service', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name },
    spec: { ports: [{ port: 80 }], ...spec },
  });
}

function clusterOf(...services: Service[]): Cluster {
  const { cluster, issues } = buildCluster(services);
  assert.deepEqual(issues, []);
  return cluster;
}

/** `ns/name` → its ClusterIPs as text ('None' for a headless one, '' when unset). */
function ips(c: Cluster): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of c.services) {
    const k = s.clusterIps;
    out[`${s.namespace}/${s.name}`] =
      k.kind === 'set' ? k.ips.map(formatIp).join(',') : k.kind === 'none' ? 'None' : '';
  }
  return out;
}

function ok(c: Cluster, ranges?: ServiceRanges): Cluster {
  const r = allocateServices(c, ranges);
  assert.deepEqual(r.issues, []);
  return r.cluster;
}

test('ClusterIPs: namespace/name order, written ones skipped, 10.96.0.1 kept for default/kubernetes', () => {
  const c = ok(
    clusterOf(
      svc('default', 'kubernetes', { ports: [{ name: 'https', port: 443 }] }),
      svc('c', 'web', {}),
      svc('b', 'db', { clusterIP: '10.96.0.2' }),
      svc('a', 'api', {}),
    ),
  );
  assert.deepEqual(ips(c), {
    'a/api': '10.96.0.3',
    'b/db': '10.96.0.2',
    'c/web': '10.96.0.4',
    'default/kubernetes': '10.96.0.1',
  });
  assert.deepEqual(
    c.services.map((s) => s.ipFamilies),
    [['IPv4'], ['IPv4'], ['IPv4'], ['IPv4']],
  );
});

test('ClusterIPs: without a kubernetes Service, 10.96.0.1 stays free; headless and ExternalName get none', () => {
  const c = ok(
    clusterOf(
      svc('a', 'x', {}),
      svc('a', 'headless', { clusterIP: 'None', selector: { app: 'db' } }),
      svc('a', 'alias', { type: 'ExternalName', externalName: 'db.example.com', ports: [] }),
    ),
  );
  assert.deepEqual(ips(c), { 'a/alias': '', 'a/headless': 'None', 'a/x': '10.96.0.2' });
  const [alias, headless] = c.services;
  assert.deepEqual(alias?.ipFamilies, []);
  assert.deepEqual(headless?.ipFamilies, ['IPv4']);
});

test('ClusterIPs: dual-stack families from the policy, ipFamilies, or the written addresses', () => {
  const c = ok(
    clusterOf(
      svc('a', 'both', { ipFamilyPolicy: 'PreferDualStack' }),
      svc('a', 'six', { ipFamilies: ['IPv6'] }),
      svc('a', 'six-first', { ipFamilies: ['IPv6', 'IPv4'] }),
      svc('a', 'written', { clusterIP: '10.96.1.1', ipFamilyPolicy: 'RequireDualStack' }),
      svc('a', 'single', {}),
    ),
    DUAL_STACK_SERVICE_RANGES,
  );
  assert.deepEqual(ips(c), {
    'a/both': '10.96.0.2,fd00:10:96::2',
    'a/single': '10.96.0.3',
    'a/six': 'fd00:10:96::3',
    'a/six-first': 'fd00:10:96::4,10.96.0.4',
    'a/written': '10.96.1.1,fd00:10:96::5',
  });
  assert.deepEqual(
    c.services.map((s) => s.ipFamilies.join(',')),
    ['IPv4,IPv6', 'IPv4', 'IPv6', 'IPv6,IPv4', 'IPv4,IPv6'],
  );
});

test('ClusterIPs: PreferDualStack in a single-stack range gets one family; RequireDualStack is an issue', () => {
  const r = allocateServices(
    clusterOf(
      svc('a', 'prefer', { ipFamilyPolicy: 'PreferDualStack' }),
      svc('a', 'require', { ipFamilyPolicy: 'RequireDualStack' }),
      svc('a', 'six', { ipFamilies: ['IPv6'] }),
    ),
  );
  assert.deepEqual(ips(r.cluster), { 'a/prefer': '10.96.0.2', 'a/require': '', 'a/six': '' });
  assert.deepEqual(
    r.issues.map((i) => [i.object, i.field, i.message]),
    [
      [
        'Service a/require',
        'spec.ipFamilyPolicy',
        'needs an IPv6 ClusterIP, and the service ranges (10.96.0.0/16) have none of that family',
      ],
      [
        'Service a/six',
        'spec.ipFamilies',
        'needs an IPv6 ClusterIP, and the service ranges (10.96.0.0/16) have none of that family',
      ],
    ],
  );
});

test('ClusterIPs: a written address out of the range, or taken by another Service, is an issue naming both', () => {
  const r = allocateServices(
    clusterOf(
      svc('a', 'first', { clusterIP: '10.96.0.10' }),
      svc('b', 'second', { clusterIP: '10.96.0.10' }),
      svc('c', 'outside', { clusterIP: '10.0.0.1' }),
      svc('d', 'network', { clusterIP: '10.96.0.0' }),
      svc('e', 'broadcast', { clusterIP: '10.96.255.255' }),
      svc('f', 'six', { clusterIP: 'fd00::1' }),
    ),
  );
  assert.deepEqual(
    r.issues.map((i) => [i.code, i.object, i.field, i.message, i.fix]),
    [
      [
        ErrorCodes.ADDRESS,
        'Service b/second',
        'spec.clusterIP',
        '10.96.0.10 is also the ClusterIP of Service a/first',
        'give every Service its own ClusterIP, or drop spec.clusterIP to have one assigned',
      ],
      [
        ErrorCodes.ADDRESS,
        'Service c/outside',
        'spec.clusterIP',
        '10.0.0.1 is not an address of the service range 10.96.0.0/16',
        'write an address of the service range 10.96.0.0/16, or drop spec.clusterIP to have one assigned',
      ],
      [
        ErrorCodes.ADDRESS,
        'Service d/network',
        'spec.clusterIP',
        '10.96.0.0 is not an address of the service range 10.96.0.0/16',
        'write an address of the service range 10.96.0.0/16, or drop spec.clusterIP to have one assigned',
      ],
      [
        ErrorCodes.ADDRESS,
        'Service e/broadcast',
        'spec.clusterIP',
        '10.96.255.255 is not an address of the service range 10.96.0.0/16',
        'write an address of the service range 10.96.0.0/16, or drop spec.clusterIP to have one assigned',
      ],
      [
        ErrorCodes.ADDRESS,
        'Service f/six',
        'spec.clusterIP',
        'fd00::1 is not an address of the service ranges (10.96.0.0/16)',
        'write an address of the service ranges (10.96.0.0/16), or drop spec.clusterIP to have one assigned',
      ],
    ],
  );
});

test('ClusterIPs: an exhausted range is an issue for the Service left without one', () => {
  const tiny = { ...DUAL_STACK_SERVICE_RANGES, clusterIps: [parseCidr('10.96.0.0/29')!.cidr] };
  // Usable: .1 to .6; .1 is kept for default/kubernetes; .2 is written.
  const services = ['a', 'b', 'c', 'd', 'e'].map((n) => svc('x', n, {}));
  const r = allocateServices(
    clusterOf(svc('w', 'pinned', { clusterIP: '10.96.0.2' }), ...services),
    tiny,
  );
  assert.deepEqual(ips(r.cluster), {
    'w/pinned': '10.96.0.2',
    'x/a': '10.96.0.3',
    'x/b': '10.96.0.4',
    'x/c': '10.96.0.5',
    'x/d': '10.96.0.6',
    'x/e': '',
  });
  assert.deepEqual(
    r.issues.map((i) => [i.object, i.field, i.message]),
    [['Service x/e', 'spec.clusterIP', 'no free address left in the service range 10.96.0.0/29']],
  );
});

test('node ports: the lowest free, shared by TCP and UDP of one port, written ones skipped', () => {
  const c = ok(
    clusterOf(
      svc('a', 'dns', {
        type: 'NodePort',
        ports: [
          { name: 'dns-tcp', port: 53 },
          { name: 'dns-udp', port: 53, protocol: 'UDP' },
          { name: 'http', port: 80 },
        ],
      }),
      svc('b', 'web', { type: 'NodePort', ports: [{ port: 80, nodePort: 30000 }] }),
      svc('c', 'plain', {}),
    ),
  );
  assert.deepEqual(
    c.services.map((s) => [s.name, s.ports.map((p) => p.nodePort ?? null)]),
    [
      ['dns', [30001, 30001, 30002]],
      ['web', [30000]],
      ['plain', [null]],
    ],
  );
});

test('node ports: LoadBalancers get them unless allocateLoadBalancerNodePorts is false; Local adds a health check port', () => {
  const c = ok(
    clusterOf(
      svc('a', 'lb', {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        ports: [
          { name: 'dns-tcp', port: 53, nodePort: 31053 },
          { name: 'dns-udp', port: 53, protocol: 'UDP' },
        ],
      }),
      svc('a', 'lb-no-ports', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false }),
      svc('a', 'lb-pinned', {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 30000,
      }),
    ),
  );
  assert.deepEqual(
    c.services.map((s) => [
      s.name,
      s.ports.map((p) => p.nodePort ?? null),
      s.healthCheckNodePort ?? null,
    ]),
    [
      ['lb', [31053, 31053], 30001],
      ['lb-no-ports', [null], null],
      ['lb-pinned', [30002], 30000],
    ],
  );
});

test('node ports: out of range, taken by another Service, or the health check on a node port: issues naming both', () => {
  const r = allocateServices(
    clusterOf(
      svc('a', 'one', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
      svc('b', 'two', { type: 'NodePort', ports: [{ port: 81, nodePort: 30080 }] }),
      svc('c', 'low', { type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] }),
      svc('d', 'self', {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 30090,
        ports: [{ port: 80, nodePort: 30090 }],
      }),
      svc('e', 'split', {
        type: 'NodePort',
        ports: [
          { name: 'a', port: 80, nodePort: 30100 },
          { name: 'b', port: 81, protocol: 'UDP', nodePort: 30100 },
        ],
      }),
    ),
  );
  assert.deepEqual(
    r.issues.map((i) => [i.object, i.field, i.message]),
    [
      ['Service b/two', 'spec.ports[0].nodePort', '30080 is also a node port of Service a/one'],
      ['Service c/low', 'spec.ports[0].nodePort', '8080 is not in the node port range 30000-32767'],
      ['Service d/self', 'spec.healthCheckNodePort', '30090 is also a node port of this Service'],
      ['Service e/split', 'spec.ports[1].nodePort', '30100 is also a node port of this Service'],
    ],
  );
});

test('allocation says what it assigned, and leaves a fully written cluster as it is', () => {
  const r = allocateServices(
    clusterOf(
      svc('a', 'web', { type: 'NodePort' }),
      svc('a', 'pinned', { clusterIP: '10.96.0.9' }),
    ),
  );
  assert.deepEqual(r.assigned, [
    { object: 'Service a/pinned', field: 'spec.ipFamilies', value: 'IPv4' },
    { object: 'Service a/web', field: 'spec.ipFamilies', value: 'IPv4' },
    { object: 'Service a/web', field: 'spec.clusterIPs', value: '10.96.0.2' },
    { object: 'Service a/web', field: 'spec.ports[0].nodePort', value: '30000' },
  ]);
  const again = allocateServices(r.cluster);
  assert.equal(again.cluster, r.cluster);
  assert.deepEqual(again.assigned, []);
});

// --- properties ---

const arbService = fc.record({
  ns: fc.constantFrom('a', 'b', 'c'),
  name: fc.constantFrom('s1', 's2', 's3', 's4', 's5', 's6'),
  type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
  policy: fc.constantFrom(undefined, 'SingleStack', 'PreferDualStack'),
  clusterIp: fc.option(fc.integer({ min: 2, max: 12 }), { nil: undefined }),
  nodePort: fc.option(fc.integer({ min: 30000, max: 30010 }), { nil: undefined }),
  ports: fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
  local: fc.boolean(),
});

type Spec = typeof arbService extends fc.Arbitrary<infer T> ? T : never;

function build(specs: Spec[]): Service[] {
  const seen = new Set<string>();
  const out: Service[] = [];
  for (const x of specs) {
    if (seen.has(`${x.ns}/${x.name}`)) continue;
    seen.add(`${x.ns}/${x.name}`);
    const external = x.type !== 'ClusterIP';
    out.push(
      svc(x.ns, x.name, {
        type: x.type,
        ...(x.policy ? { ipFamilyPolicy: x.policy } : {}),
        ...(x.clusterIp ? { clusterIP: `10.96.0.${x.clusterIp}` } : {}),
        ...(external && x.local ? { externalTrafficPolicy: 'Local' } : {}),
        ports: x.ports.map((p, i) => ({
          name: `p${p}`,
          port: p,
          ...(external && i === 0 && x.nodePort ? { nodePort: x.nodePort } : {}),
        })),
      }),
    );
  }
  return out;
}

test('property: allocation is deterministic, unique, in range, and keeps what is written', () => {
  fc.assert(
    fc.property(fc.array(arbService, { maxLength: 12 }), fc.integer(), (specs, seed) => {
      const services = build(specs);
      const shuffled = [...services].sort(
        (a, b) => ((a.name.charCodeAt(1) * seed) % 7) - ((b.name.charCodeAt(1) * seed) % 7),
      );
      const one = allocateServices(clusterOf(...services), DUAL_STACK_SERVICE_RANGES);
      const two = allocateServices(clusterOf(...shuffled), DUAL_STACK_SERVICE_RANGES);
      assert.deepEqual(two, one);
      const refused = new Set(one.issues.map((i) => i.object));
      const ipsSeen = new Set<string>();
      const portsSeen = new Set<number>();
      for (const [i, s] of one.cluster.services.entries()) {
        const before = clusterOf(...services).services[i] as Service;
        if (refused.has(`Service ${s.namespace}/${s.name}`)) {
          assert.equal(s, before, 'a Service with an issue stays as written');
          continue;
        }
        assert.ok(s.clusterIps.kind === 'set');
        assert.equal(s.clusterIps.ips.length, s.ipFamilies.length);
        if (before.clusterIps.kind === 'set')
          assert.deepEqual(s.clusterIps.ips[0], before.clusterIps.ips[0], 'written ClusterIP kept');
        for (const ip of s.clusterIps.ips) {
          const text = formatIp(ip);
          assert.ok(!ipsSeen.has(text), `ClusterIP ${text} handed out twice`);
          assert.ok(/^10\.96\.0\.\d+$|^fd00:10:96::[0-9a-f]+$/.test(text), text);
          assert.notEqual(text, '10.96.0.1', 'kept for default/kubernetes');
          ipsSeen.add(text);
        }
        const own = new Set<number>();
        for (const [j, p] of s.ports.entries()) {
          const written = before.ports[j]?.nodePort;
          if (written !== undefined) assert.equal(p.nodePort, written, 'written node port kept');
          if (s.type === 'ClusterIP') assert.equal(p.nodePort, undefined);
          else assert.ok(p.nodePort !== undefined && p.nodePort >= 30000 && p.nodePort <= 32767);
          if (p.nodePort !== undefined) own.add(p.nodePort);
        }
        if (s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local') {
          assert.ok(s.healthCheckNodePort !== undefined);
          own.add(s.healthCheckNodePort);
        }
        for (const p of own) {
          assert.ok(!portsSeen.has(p), `node port ${p} handed out twice`);
          portsSeen.add(p);
        }
      }
    }),
    { numRuns: 300 },
  );
});
