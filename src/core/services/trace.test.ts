import test from 'node:test';
import assert from 'node:assert/strict';
import { parseIp, formatIp } from '../net/ip.js';
import type { Cluster, Protocol } from '../model/types.js';
import { clusterOf, endpointSlice, pod, service } from '../../testing/services.js';
import { nodes, web, webSlice } from '../../testing/service-model.js';
import { buildServiceModel } from './model.js';
import { DEFAULT_SERVICE_RANGES } from './ranges.js';
import { traceService, type ServiceTrace } from './trace.js';
import { entryNode, traceContext } from './trace-context.js';

// Expected results are written by hand from kube-proxy's documented
// behaviour ("Virtual IPs and Service Proxies", the traffic policies, the
// nftables proxier's chains), not computed by the code under test.
//
// Nodes: n1 (192.168.0.1, 203.0.113.1, zone-a), n2 (192.168.0.2, zone-b).
// Pods that send: shop/client on n1 (10.244.1.9), shop/far on n2 (10.244.2.9).

const senders = [
  pod('shop', 'client', { node: 'n1', ips: ['10.244.1.9'] }),
  pod('shop', 'far', { node: 'n2', ips: ['10.244.2.9'] }),
];

const twoEndpoints = webSlice([
  { ip: '10.244.1.5', node: 'n1', pod: 'web-a' },
  { ip: '10.244.2.5', node: 'n2', pod: 'web-b' },
]);

function ip(text: string) {
  const a = parseIp(text);
  assert.ok(a, text);
  return a;
}

/** Traces `from` → `to` (`ip:port`, TCP unless given) on `node`'s proxy. */
function trace(c: Cluster, node: string, from: string, to: string, protocol: Protocol = 'TCP') {
  const [host, port] = [
    to.slice(0, to.lastIndexOf(':')),
    Number(to.slice(to.lastIndexOf(':') + 1)),
  ];
  const packet = { src: ip(from), dst: ip(host), protocol, port };
  const model = buildServiceModel(c, node);
  return traceService(
    model,
    packet,
    traceContext(c, model, packet.src, DEFAULT_SERVICE_RANGES.clusterIps),
  );
}

/** A trace in short words: frontend, source kind, step, verdict and its endpoints. */
function short(t: ServiceTrace): Record<string, unknown> {
  const m = t.match;
  const v = t.verdict;
  return {
    ...(m
      ? {
          frontend: `${m.frontend.kind} ${formatIp(m.frontend.ip)}:${m.frontend.port} ${m.port.id}`,
          plan: `${m.traffic} ${m.policy}`,
          ...(m.step ? { step: `${m.step.index} from ${m.step.step.from}` } : {}),
        }
      : {}),
    source: t.source.kind,
    verdict:
      v.kind === 'forward'
        ? `forward ${v.set}${v.masquerade ? ' masquerade' : ''}${v.terminatingFallback ? ' terminating' : ''}${v.affinity.kind === 'ClientIP' ? ` affinity ${v.affinity.timeoutSeconds}s` : ''}`
        : `${v.kind}: ${v.reason}`,
    ...(v.kind === 'forward'
      ? {
          endpoints: v.endpoints.map(
            (e) =>
              `${formatIp(e.backend.ip)}:${e.backend.port} ${e.backend.target ?? '-'} ${e.backend.nodeName ?? '-'}${e.hairpin ? ' hairpin' : ''}${e.masquerade ? ' masq' : ''}`,
          ),
        }
      : {}),
  };
}

test('ClusterIP from a pod: every ready endpoint of the cluster, the client address kept', () => {
  const c = clusterOf(...nodes, ...senders, web(), twoEndpoints);
  assert.deepEqual(short(trace(c, 'n1', '10.244.1.9', '10.96.0.10:80')), {
    frontend: 'ClusterIP 10.96.0.10:80 shop/web:http/TCP',
    plan: 'internal Cluster',
    step: '0 from pod',
    source: 'pod',
    verdict: 'forward cluster',
    endpoints: ['10.244.1.5:8080 Pod shop/web-a n1', '10.244.2.5:8080 Pod shop/web-b n2'],
  });
});

test('ClusterIP from the node itself and from outside: masqueraded', () => {
  const c = clusterOf(...nodes, ...senders, web(), twoEndpoints);
  const masqueraded = [
    '10.244.1.5:8080 Pod shop/web-a n1 masq',
    '10.244.2.5:8080 Pod shop/web-b n2 masq',
  ];
  assert.deepEqual(short(trace(c, 'n1', '192.168.0.1', '10.96.0.10:80')), {
    frontend: 'ClusterIP 10.96.0.10:80 shop/web:http/TCP',
    plan: 'internal Cluster',
    step: '1 from any',
    source: 'node',
    verdict: 'forward cluster masquerade',
    endpoints: masqueraded,
  });
  assert.deepEqual(short(trace(c, 'n1', '198.51.100.1', '10.96.0.10:80')), {
    frontend: 'ClusterIP 10.96.0.10:80 shop/web:http/TCP',
    plan: 'internal Cluster',
    step: '1 from any',
    source: 'other',
    verdict: 'forward cluster masquerade',
    endpoints: masqueraded,
  });
});

test('NodePort, externalTrafficPolicy Cluster: on each address of the node, masqueraded, to any endpoint', () => {
  const c = clusterOf(
    ...nodes,
    ...senders,
    web({
      type: 'NodePort',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    twoEndpoints,
  );
  for (const address of ['192.168.0.1', '203.0.113.1']) {
    assert.deepEqual(short(trace(c, 'n1', '198.51.100.1', `${address}:30080`)), {
      frontend: `NodePort ${address}:30080 shop/web:http/TCP`,
      plan: 'external Cluster',
      step: '0 from any',
      source: 'other',
      verdict: 'forward cluster masquerade',
      endpoints: [
        '10.244.1.5:8080 Pod shop/web-a n1 masq',
        '10.244.2.5:8080 Pod shop/web-b n2 masq',
      ],
    });
  }
  // Not on loopback, and not on another node's address: that node's proxy serves it.
  assert.deepEqual(short(trace(c, 'n1', '198.51.100.1', '127.0.0.1:30080')), {
    source: 'other',
    verdict:
      'not-a-service: 127.0.0.1:30080/TCP is no Service frontend on node n1: the proxy leaves it to routing',
  });
  assert.deepEqual(short(trace(c, 'n1', '198.51.100.1', '192.168.0.2:30080')), {
    source: 'other',
    verdict:
      'not-a-service: 192.168.0.2:30080/TCP is no Service frontend on node n1: the proxy leaves it to routing',
  });
  assert.equal(
    short(trace(c, 'n2', '198.51.100.1', '192.168.0.2:30080'))['frontend'],
    'NodePort 192.168.0.2:30080 shop/web:http/TCP',
  );
});

test('externalTrafficPolicy Local: the client kept to a local endpoint; dropped where there is none; pods and the node go anywhere', () => {
  const c = clusterOf(
    ...nodes,
    ...senders,
    web({
      type: 'NodePort',
      externalTrafficPolicy: 'Local',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    webSlice([{ ip: '10.244.1.5', node: 'n1', pod: 'web-a' }]),
  );
  assert.deepEqual(short(trace(c, 'n1', '198.51.100.1', '192.168.0.1:30080')), {
    frontend: 'NodePort 192.168.0.1:30080 shop/web:http/TCP',
    plan: 'external Local',
    step: '2 from any',
    source: 'other',
    verdict: 'forward local',
    endpoints: ['10.244.1.5:8080 Pod shop/web-a n1'],
  });
  assert.deepEqual(short(trace(c, 'n2', '198.51.100.1', '192.168.0.2:30080')), {
    frontend: 'NodePort 192.168.0.2:30080 shop/web:http/TCP',
    plan: 'external Local',
    step: '2 from any',
    source: 'other',
    verdict: 'drop: shop/web:http/TCP has no local endpoints',
  });
  // A pod on n2 using n2's node port: as if it went out and came back, to any endpoint, unmasqueraded.
  assert.deepEqual(short(trace(c, 'n2', '10.244.2.9', '192.168.0.2:30080')), {
    frontend: 'NodePort 192.168.0.2:30080 shop/web:http/TCP',
    plan: 'external Local',
    step: '0 from pod',
    source: 'pod',
    verdict: 'forward cluster',
    endpoints: ['10.244.1.5:8080 Pod shop/web-a n1'],
  });
  // n2 itself: to any endpoint, masqueraded.
  assert.deepEqual(short(trace(c, 'n2', '192.168.0.2', '192.168.0.2:30080')), {
    frontend: 'NodePort 192.168.0.2:30080 shop/web:http/TCP',
    plan: 'external Local',
    step: '1 from node',
    source: 'node',
    verdict: 'forward cluster masquerade',
    endpoints: ['10.244.1.5:8080 Pod shop/web-a n1 masq'],
  });
  // Another node is an outside client here.
  assert.deepEqual(
    short(trace(c, 'n2', '192.168.0.1', '192.168.0.2:30080'))['verdict'],
    'drop: shop/web:http/TCP has no local endpoints',
  );
});

test('external IPs: on every node, external traffic plan', () => {
  const c = clusterOf(...nodes, ...senders, web({ externalIPs: ['198.51.100.7'] }), twoEndpoints);
  assert.deepEqual(short(trace(c, 'n2', '198.51.100.1', '198.51.100.7:80')), {
    frontend: 'ExternalIP 198.51.100.7:80 shop/web:http/TCP',
    plan: 'external Cluster',
    step: '0 from any',
    source: 'other',
    verdict: 'forward cluster masquerade',
    endpoints: ['10.244.1.5:8080 Pod shop/web-a n1 masq', '10.244.2.5:8080 Pod shop/web-b n2 masq'],
  });
});

test('LoadBalancer IPs: the source ranges admit or drop the client; ipMode Proxy is no frontend', () => {
  const lb = (ipMode: string) =>
    web(
      {
        type: 'LoadBalancer',
        loadBalancerSourceRanges: ['198.51.100.0/24'],
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
      },
      { status: { loadBalancer: { ingress: [{ ip: '203.0.113.50', ipMode }] } } },
    );
  const c = clusterOf(...nodes, ...senders, lb('VIP'), twoEndpoints);
  assert.deepEqual(short(trace(c, 'n1', '198.51.100.1', '203.0.113.50:80')), {
    frontend: 'LoadBalancer 203.0.113.50:80 shop/web:http/TCP',
    plan: 'external Cluster',
    step: '0 from any',
    source: 'other',
    verdict: 'forward cluster masquerade',
    endpoints: ['10.244.1.5:8080 Pod shop/web-a n1 masq', '10.244.2.5:8080 Pod shop/web-b n2 masq'],
  });
  const refused = trace(c, 'n1', '192.0.2.1', '203.0.113.50:80');
  assert.equal(refused.match?.sourceAllowed, false);
  assert.deepEqual(short(refused), {
    frontend: 'LoadBalancer 203.0.113.50:80 shop/web:http/TCP',
    plan: 'external Cluster',
    source: 'other',
    verdict:
      'drop: 192.0.2.1 is not in the loadBalancerSourceRanges of shop/web:http/TCP (198.51.100.0/24)',
  });
  assert.equal(trace(c, 'n1', '198.51.100.1', '203.0.113.50:80').match?.sourceAllowed, true);
  const proxy = clusterOf(...nodes, ...senders, lb('Proxy'), twoEndpoints);
  assert.deepEqual(short(trace(proxy, 'n1', '198.51.100.1', '203.0.113.50:80')), {
    source: 'other',
    verdict:
      'not-a-service: 203.0.113.50:80/TCP is no Service frontend on node n1: the proxy leaves it to routing',
  });
});

test("internalTrafficPolicy Local: this node's endpoints only; dropped on a node without one", () => {
  const c = clusterOf(...nodes, ...senders, web({ internalTrafficPolicy: 'Local' }), twoEndpoints);
  assert.deepEqual(short(trace(c, 'n2', '10.244.2.9', '10.96.0.10:80')), {
    frontend: 'ClusterIP 10.96.0.10:80 shop/web:http/TCP',
    plan: 'internal Local',
    step: '0 from pod',
    source: 'pod',
    verdict: 'forward local',
    endpoints: ['10.244.2.5:8080 Pod shop/web-b n2'],
  });
  const one = clusterOf(
    ...nodes,
    ...senders,
    web({ internalTrafficPolicy: 'Local' }),
    webSlice([{ ip: '10.244.1.5', node: 'n1', pod: 'web-a' }]),
  );
  assert.deepEqual(short(trace(one, 'n2', '10.244.2.9', '10.96.0.10:80')), {
    frontend: 'ClusterIP 10.96.0.10:80 shop/web:http/TCP',
    plan: 'internal Local',
    step: '0 from any',
    source: 'pod',
    verdict: 'drop: shop/web:http/TCP has no local endpoints',
  });
});

test('no ready endpoint: the serving terminating ones; ClientIP affinity is reported with its timeout', () => {
  const c = clusterOf(
    ...nodes,
    ...senders,
    web({
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
    }),
    webSlice([
      {
        ip: '10.244.1.5',
        node: 'n1',
        pod: 'web-a',
        ready: false,
        serving: true,
        terminating: true,
      },
      {
        ip: '10.244.2.5',
        node: 'n2',
        pod: 'web-b',
        ready: false,
        serving: false,
        terminating: true,
      },
    ]),
  );
  assert.deepEqual(short(trace(c, 'n2', '10.244.2.9', '10.96.0.10:80')), {
    frontend: 'ClusterIP 10.96.0.10:80 shop/web:http/TCP',
    plan: 'internal Cluster',
    step: '0 from pod',
    source: 'pod',
    verdict: 'forward cluster terminating affinity 600s',
    endpoints: ['10.244.1.5:8080 Pod shop/web-a n1'],
  });
});

test('no endpoints: rejected at once, on the ClusterIP and the node port', () => {
  const c = clusterOf(
    ...nodes,
    ...senders,
    web({
      type: 'NodePort',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    webSlice([{ ip: '10.244.1.5', node: 'n1', ready: false, serving: false }]),
  );
  assert.deepEqual(short(trace(c, 'n1', '10.244.1.9', '10.96.0.10:80')), {
    frontend: 'ClusterIP 10.96.0.10:80 shop/web:http/TCP',
    plan: 'internal Cluster',
    step: '0 from any',
    source: 'pod',
    verdict: 'reject: shop/web:http/TCP has no endpoints',
  });
  assert.deepEqual(
    short(trace(c, 'n1', '198.51.100.1', '192.168.0.1:30080'))['verdict'],
    'reject: shop/web:http/TCP has no endpoints',
  );
});

test('a port or protocol the ClusterIP does not serve is rejected; an unallocated service address dropped', () => {
  const c = clusterOf(...nodes, ...senders, web(), twoEndpoints);
  assert.deepEqual(short(trace(c, 'n1', '10.244.1.9', '10.96.0.10:81')), {
    source: 'pod',
    verdict:
      'reject: 10.96.0.10 is the ClusterIP of Service shop/web, which serves 80/TCP, not 81/TCP',
  });
  assert.deepEqual(short(trace(c, 'n1', '10.244.1.9', '10.96.0.10:80', 'UDP')), {
    source: 'pod',
    verdict:
      'reject: 10.96.0.10 is the ClusterIP of Service shop/web, which serves 80/TCP, not 80/UDP',
  });
  assert.deepEqual(short(trace(c, 'n1', '10.244.1.9', '10.96.0.11:80')), {
    source: 'pod',
    verdict:
      "drop: 10.96.0.11 is in the service range 10.96.0.0/16 but is no Service's ClusterIP (unallocated)",
  });
  // A pod address is no frontend: the proxy has nothing to do with it.
  assert.deepEqual(short(trace(c, 'n1', '10.244.1.9', '10.244.2.5:8080')), {
    source: 'pod',
    verdict:
      'not-a-service: 10.244.2.5:8080/TCP is no Service frontend on node n1: the proxy leaves it to routing',
  });
});

test('hairpin: an endpoint reaching itself through its Service is masqueraded to that endpoint only', () => {
  const c = clusterOf(
    ...nodes,
    pod('shop', 'web-a', { node: 'n1', ips: ['10.244.1.5'] }),
    web(),
    twoEndpoints,
  );
  assert.deepEqual(short(trace(c, 'n1', '10.244.1.5', '10.96.0.10:80')), {
    frontend: 'ClusterIP 10.96.0.10:80 shop/web:http/TCP',
    plan: 'internal Cluster',
    step: '0 from pod',
    source: 'pod',
    verdict: 'forward cluster',
    endpoints: [
      '10.244.1.5:8080 Pod shop/web-a n1 hairpin masq',
      '10.244.2.5:8080 Pod shop/web-b n2',
    ],
  });
});

test('headless, ExternalName and labelled Services get no rules: their addresses are no frontends', () => {
  const labelled = (name: string, clusterIP: string, labels: Record<string, string>) =>
    service(
      'shop',
      name,
      { clusterIP, ports: [{ port: 80 }] },
      { metadata: { namespace: 'shop', name, labels } },
    );
  const c = clusterOf(
    ...nodes,
    ...senders,
    pod('shop', 'db-0', { node: 'n2', ips: ['10.244.2.7'] }),
    service('shop', 'db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] }),
    service('shop', 'mail', { type: 'ExternalName', externalName: 'mail.example.com' }),
    labelled('other', '10.96.0.30', { 'service.kubernetes.io/service-proxy-name': 'cilium' }),
    labelled('marked', '10.96.0.31', { 'service.kubernetes.io/headless': '' }),
    endpointSlice('shop', 'db-1', 'db', [{ port: 5432 }], [{ ip: '10.244.2.7', node: 'n2' }]),
  );
  assert.deepEqual(buildServiceModel(c, 'n1').ports, []);
  // A headless Service's name resolves to its pods: a packet to one is no Service's.
  assert.deepEqual(short(trace(c, 'n1', '10.244.1.9', '10.244.2.7:5432')), {
    source: 'pod',
    verdict:
      'not-a-service: 10.244.2.7:5432/TCP is no Service frontend on node n1: the proxy leaves it to routing',
  });
  assert.deepEqual(short(trace(c, 'n1', '10.244.1.9', '10.96.0.30:80')), {
    source: 'pod',
    verdict:
      'drop: 10.96.0.30 is the ClusterIP of Service shop/other, which gets no rules (labelled service.kubernetes.io/service-proxy-name=cilium: another proxy serves it): an address of the service range 10.96.0.0/16 that weft does not serve',
  });
  assert.deepEqual(
    short(trace(c, 'n1', '10.244.1.9', '10.96.0.31:80'))['verdict'],
    'drop: 10.96.0.31 is the ClusterIP of Service shop/marked, which gets no rules (labelled service.kubernetes.io/headless): an address of the service range 10.96.0.0/16 that weft does not serve',
  );
});

test("the entry node: the sending pod's, the sending node, the node addressed, else unknown", () => {
  const c = clusterOf(...nodes, ...senders, web());
  const packet = (src: string, dst: string) => ({
    src: ip(src),
    dst: ip(dst),
    protocol: 'TCP' as const,
    port: 80,
  });
  assert.deepEqual(entryNode(c, packet('10.244.2.9', '10.96.0.10')), {
    node: 'n2',
    why: 'the node of shop/far',
  });
  assert.deepEqual(entryNode(c, packet('192.168.0.1', '192.168.0.2')), {
    node: 'n1',
    why: 'the sending node',
  });
  assert.deepEqual(entryNode(c, packet('198.51.100.1', '203.0.113.1')), {
    node: 'n1',
    why: 'the node addressed',
  });
  assert.equal(entryNode(c, packet('198.51.100.1', '198.51.100.7')), undefined);
});
