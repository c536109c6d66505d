// Each behaviour of a Service proxy that issue 17 names, on the strict fake:
// the table rendered for a node is synced as the agent syncs it, and the
// first packet of a connection is traced through it. The expected answers
// are written by hand from the Kubernetes documentation ("Virtual IPs and
// Service Proxies", the traffic policies, session affinity) and kube-proxy's
// documented behaviour.
import test from 'node:test';
import assert from 'node:assert/strict';
import { clusterOf, endpointSlice, node, service } from '../../testing/services.js';
import { ProxyOnFake } from '../../testing/service-proxy.js';
import { cmp, rule } from '../../nft/build.js';
import { transactionText } from '../../nft/text.js';
import { fullTransaction } from '../../nft/transactions.js';

/** n1 and n2 as in the model's tests; the external client is on no node. */
const N1 = ['192.168.0.1', '203.0.113.1'];
const nodes = [node('n1', N1), node('n2', ['192.168.0.2'])];
const POD_N1 = '10.244.1.9';
const POD_N2 = '10.244.2.9';
const OUTSIDE = '198.51.100.7';

const web = (spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  service(
    'shop',
    'web',
    { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...spec },
    extra,
  );
const slice = (
  endpoints: Parameters<typeof endpointSlice>[4],
  ports: Record<string, unknown>[] = [{ name: 'http', port: 8080 }],
  name = 'web-1',
) => endpointSlice('shop', name, 'web', ports, endpoints);
const A = { ip: '10.244.1.5', node: 'n1', pod: 'web-a' };
const B = { ip: '10.244.2.5', node: 'n2', pod: 'web-b' };

async function proxy(node: 'n1' | 'n2', ...objects: Record<string, unknown>[]) {
  const p = new ProxyOnFake(node, node === 'n1' ? N1 : ['192.168.0.2']);
  await p.sync(clusterOf(...nodes, ...objects));
  return p;
}

test('ClusterIP on TCP, UDP and SCTP, several ports, one port number on two protocols', async () => {
  const p = await proxy(
    'n1',
    web({
      ports: [
        { name: 'http', port: 80, targetPort: 8080 },
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5354 },
        { name: 'sig', port: 9000, protocol: 'SCTP', targetPort: 9001 },
      ],
    }),
    slice(
      [B],
      [
        { name: 'http', port: 8080 },
        { name: 'dns', port: 5353, protocol: 'UDP' },
        { name: 'dns-tcp', port: 5354 },
        { name: 'sig', port: 9001, protocol: 'SCTP' },
      ],
    ),
  );
  const c = { from: POD_N1, to: '10.96.0.10' };
  assert.equal(p.to({ ...c, port: 80 }), 'to 10.244.2.5:8080');
  assert.equal(p.to({ ...c, port: 53, proto: 'udp' }), 'to 10.244.2.5:5353');
  assert.equal(p.to({ ...c, port: 53, proto: 'tcp' }), 'to 10.244.2.5:5354');
  assert.equal(p.to({ ...c, port: 9000, proto: 'sctp' }), 'to 10.244.2.5:9001');
  // A port of one protocol is not served on another.
  assert.equal(p.to({ ...c, port: 80, proto: 'udp' }), 'refused (icmpx port-unreachable)');
});

test('pod → ClusterIP → pod is not masqueraded; from this node it is; a pod reaching itself is', async () => {
  const p = await proxy('n1', web(), slice([A]));
  assert.equal(p.to({ from: POD_N1, to: '10.96.0.10', port: 80 }), 'to 10.244.1.5:8080');
  assert.equal(
    p.to({ from: '192.168.0.1', to: '10.96.0.10', port: 80, origin: 'local' }),
    'to 10.244.1.5:8080, masqueraded',
  );
  // Hairpin: the endpoint itself, through its Service.
  assert.equal(
    p.to({ from: '10.244.1.5', to: '10.96.0.10', port: 80 }),
    'to 10.244.1.5:8080, masqueraded',
  );
});

test('random load balancing: numgen picks among the endpoints in one lookup', async () => {
  const p = await proxy('n1', web(), slice([A, B]));
  const c = { from: POD_N1, to: '10.96.0.10', port: 80 };
  assert.equal(p.to({ ...c, random: 0 }), 'to 10.244.1.5:8080');
  assert.equal(p.to({ ...c, random: 1 }), 'to 10.244.2.5:8080');
  assert.equal(p.to({ ...c, random: 7 }), 'to 10.244.2.5:8080');
});

test('NodePort on every address of the node, not on 127.0.0.1 nor on another node', async () => {
  const p = await proxy(
    'n1',
    web({
      type: 'NodePort',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    slice([B]),
  );
  for (const address of N1)
    assert.equal(
      p.to({ from: OUTSIDE, to: address, port: 30080 }),
      'to 10.244.2.5:8080, masqueraded',
    );
  assert.equal(
    p.to({ from: '127.0.0.1', to: '127.0.0.1', port: 30080, origin: 'local' }),
    'not a Service',
  );
  assert.equal(p.to({ from: OUTSIDE, to: '192.168.0.2', port: 30080 }), 'not a Service');
  // Another port of the node is not a node port.
  assert.equal(p.to({ from: OUTSIDE, to: '192.168.0.1', port: 30081 }), 'not a Service');
});

test('externalIPs and load balancer IPs; ipMode Proxy gets no rule; loadBalancerSourceRanges', async () => {
  const p = await proxy(
    'n1',
    web(
      {
        type: 'LoadBalancer',
        externalIPs: ['192.168.230.10'],
        loadBalancerSourceRanges: ['198.51.100.0/24'],
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
      },
      {
        status: {
          loadBalancer: {
            ingress: [{ ip: '192.168.230.20' }, { ip: '192.168.230.21', ipMode: 'Proxy' }],
          },
        },
      },
    ),
    slice([B]),
  );
  const masq = 'to 10.244.2.5:8080, masqueraded';
  assert.equal(p.to({ from: OUTSIDE, to: '192.168.230.10', port: 80 }), masq);
  assert.equal(p.to({ from: OUTSIDE, to: '192.168.230.20', port: 80 }), masq);
  assert.equal(p.to({ from: OUTSIDE, to: '192.168.230.21', port: 80 }), 'not a Service');
  // The source ranges hold for the load balancer IP, not for the external IP.
  assert.equal(p.to({ from: '203.0.113.99', to: '192.168.230.20', port: 80 }), 'dropped');
  assert.equal(p.to({ from: '203.0.113.99', to: '192.168.230.10', port: 80 }), masq);
});

test('no endpoints: refused at once (TCP reset, ICMP port unreachable), from anywhere, at every frontend', async () => {
  const p = await proxy(
    'n1',
    web({
      type: 'NodePort',
      ports: [
        { name: 'http', port: 80, targetPort: 8080, nodePort: 30080 },
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353, nodePort: 30053 },
      ],
    }),
  );
  assert.equal(p.to({ from: POD_N1, to: '10.96.0.10', port: 80 }), 'refused (tcp reset)');
  assert.equal(
    p.to({ from: POD_N1, to: '10.96.0.10', port: 53, proto: 'udp' }),
    'refused (icmpx port-unreachable)',
  );
  assert.equal(p.to({ from: OUTSIDE, to: '192.168.0.1', port: 30080 }), 'refused (tcp reset)');
  assert.equal(
    p.to({ from: '192.168.0.1', to: '10.96.0.10', port: 80, origin: 'local' }),
    'refused (tcp reset)',
  );
});

test('a port the ClusterIP does not serve is refused; an unallocated service address is dropped', async () => {
  const p = await proxy('n1', web(), slice([A]));
  assert.equal(p.to({ from: POD_N1, to: '10.96.0.10', port: 81 }), 'refused (tcp reset)');
  assert.equal(
    p.to({ from: POD_N1, to: '10.96.0.10', port: 81, proto: 'udp' }),
    'refused (icmpx port-unreachable)',
  );
  assert.equal(p.to({ from: POD_N1, to: '10.96.0.99', port: 80 }), 'dropped');
  assert.equal(p.to({ from: POD_N1, to: '10.97.0.1', port: 80 }), 'not a Service');
});

test('no ready endpoint: serving terminating ones take the traffic', async () => {
  const p = await proxy(
    'n1',
    web(),
    slice([
      { ...A, ready: false, serving: true, terminating: true },
      { ...B, ready: false, serving: false, terminating: true },
    ]),
  );
  for (const random of [0, 1, 2])
    assert.equal(p.to({ from: POD_N1, to: '10.96.0.10', port: 80, random }), 'to 10.244.1.5:8080');
});

test('ClientIP affinity: the same client goes back to its endpoint until the timeout; others pick anew', async () => {
  const p = await proxy(
    'n1',
    web({
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
    }),
    slice([A, B]),
  );
  const to = (from: string, random: number, time: number) =>
    p.to({ from, to: '10.96.0.10', port: 80, random, time });
  assert.equal(to(POD_N1, 1, 100), 'to 10.244.2.5:8080');
  assert.equal(to(POD_N1, 0, 110), 'to 10.244.2.5:8080');
  assert.equal(to(POD_N1, 0, 169), 'to 10.244.2.5:8080');
  assert.equal(to('10.244.1.10', 0, 120), 'to 10.244.1.5:8080');
  // 60 s after its last connection (at 169), the client is forgotten.
  assert.equal(to(POD_N1, 0, 229), 'to 10.244.1.5:8080');
});

test('externalTrafficPolicy Local: the client address is kept, and a node without a local endpoint drops', async () => {
  const svc = web({
    type: 'NodePort',
    externalTrafficPolicy: 'Local',
    ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
  });
  const n1 = await proxy('n1', svc, slice([A, B]));
  for (const random of [0, 1])
    assert.equal(
      n1.to({ from: OUTSIDE, to: '192.168.0.1', port: 30080, random }),
      'to 10.244.1.5:8080',
    );
  // From a pod: to any endpoint, as if it went out and came back; from the node itself: masqueraded.
  assert.equal(
    n1.to({ from: POD_N1, to: '192.168.0.1', port: 30080, random: 1 }),
    'to 10.244.2.5:8080',
  );
  assert.equal(
    n1.to({ from: '192.168.0.1', to: '192.168.0.1', port: 30080, random: 1, origin: 'local' }),
    'to 10.244.2.5:8080, masqueraded',
  );
  const n2 = await proxy('n2', svc, slice([A]));
  assert.equal(n2.to({ from: OUTSIDE, to: '192.168.0.2', port: 30080 }), 'dropped');
  assert.equal(n2.to({ from: POD_N2, to: '192.168.0.2', port: 30080 }), 'to 10.244.1.5:8080');
});

test("internalTrafficPolicy Local: ClusterIP traffic to this node's endpoints only, dropped without one", async () => {
  const svc = web({ internalTrafficPolicy: 'Local' });
  const n1 = await proxy('n1', svc, slice([A, B]));
  for (const random of [0, 1])
    assert.equal(n1.to({ from: POD_N1, to: '10.96.0.10', port: 80, random }), 'to 10.244.1.5:8080');
  const n2 = await proxy('n2', svc, slice([A]));
  assert.equal(n2.to({ from: POD_N2, to: '10.96.0.10', port: 80 }), 'dropped');
});

test('headless, ExternalName and labelled Services get nothing; traffic no proxy translates to one is dropped', async () => {
  const p = await proxy(
    'n1',
    service('shop', 'headless', { clusterIP: 'None', selector: { app: 'web' } }),
    service('shop', 'alias', { type: 'ExternalName', externalName: 'db.example.com' }),
    service(
      'shop',
      'theirs',
      { clusterIP: '10.96.0.20', ports: [{ port: 80 }] },
      {
        metadata: {
          namespace: 'shop',
          name: 'theirs',
          labels: { 'service.kubernetes.io/service-proxy-name': 'other' },
        },
      },
    ),
    endpointSlice('shop', 'theirs-1', 'theirs', [{ port: 80 }], [A]),
  );
  const table = p.table;
  assert.ok(table);
  const named = [...table.chains.values(), ...table.sets.values()].filter((x) =>
    /shop\/(headless|alias|theirs)/.test(x.comment),
  );
  assert.deepEqual(named, []);
  assert.deepEqual(
    [...table.maps.values()].flatMap((m) => m.elements),
    [],
  );
  // Its ClusterIP is another proxy's to translate; left untranslated, it is an address of the
  // service range that no Service of this proxy has.
  assert.equal(p.to({ from: POD_N1, to: '10.96.0.20', port: 80 }), 'dropped');
  // The other proxy translates it, in a table of its own: weft's checks come after, and let it be.
  const other = fullTransaction({
    family: 'ip',
    name: 'other-proxy',
    sets: new Map(),
    maps: new Map(),
    chains: new Map([
      [
        'pre',
        {
          name: 'pre',
          comment: 'the other proxy',
          base: { type: 'nat', hook: 'prerouting', priority: 'dstnat', policy: 'accept' },
          rules: [
            rule(
              [
                cmp(['ip daddr'], '10.96.0.20'),
                cmp(['meta l4proto'], 'tcp'),
                { kind: 'dnat', address: '10.244.1.5', port: 80 },
              ],
              'shop/theirs',
            ),
          ],
        },
      ],
    ]),
  });
  await p.fake.apply(other, transactionText(other));
  assert.equal(p.to({ from: POD_N1, to: '10.96.0.20', port: 80 }), 'to 10.244.1.5:80');
});

test('Maglev: the same connection picks the same endpoint on every node; another connection may differ', async () => {
  const maglev = web(
    {},
    {
      metadata: {
        namespace: 'shop',
        name: 'web',
        annotations: { 'service.weft.dev/lb-algorithm': 'maglev' },
      },
    },
  );
  const endpoints = slice([A, B, { ip: '10.244.3.5', node: 'n3', pod: 'web-c' }]);
  const [n1, n2] = [await proxy('n1', maglev, endpoints), await proxy('n2', maglev, endpoints)];
  const picked = new Set<string>();
  for (let sport = 40000; sport < 40030; sport++) {
    const c = { from: '10.244.9.9', to: '10.96.0.10', port: 80, sport };
    // numgen's value does not matter: the hash of the connection decides.
    const here = n1.to({ ...c, random: 0 });
    assert.equal(n2.to({ ...c, random: 2 }), here);
    assert.equal(n1.to({ ...c, random: 1 }), here);
    picked.add(here);
  }
  assert.equal(picked.size, 3, [...picked].join('; '));
});

test('IPv6: a dual-stack Service forwards each family to the endpoints of that family', async () => {
  const p = await proxy(
    'n1',
    web({
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      clusterIPs: ['10.96.0.10', 'fd00:10:96::10'],
      clusterIP: '10.96.0.10',
    }),
    slice([A]),
    endpointSlice(
      'shop',
      'web-6',
      'web',
      [{ name: 'http', port: 8080 }],
      [{ ip: 'fd00:244::5', node: 'n1' }],
      {
        addressType: 'IPv6',
      },
    ),
  );
  assert.equal(p.to({ from: POD_N1, to: '10.96.0.10', port: 80 }), 'to 10.244.1.5:8080');
  assert.equal(
    p.to({ from: 'fd00:244::9', to: 'fd00:10:96::10', port: 80 }),
    'to [fd00:244::5]:8080',
  );
  assert.equal(
    p.to({ from: 'fd00:244::9', to: 'fd00:10:96::10', port: 81 }),
    'refused (tcp reset)',
  );
  assert.equal(p.to({ from: 'fd00:244::9', to: 'fd00:10:96::99', port: 80 }), 'dropped');
});
