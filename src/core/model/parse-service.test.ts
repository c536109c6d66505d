import test from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from '../errors.js';
import { parseCidr } from '../net/cidr.js';
import { parseObject } from './parse.js';
import { ipOf as ip, issueFields, parsedAs } from '../../testing/parse.js';

const origin = { file: 'svc.yaml', line: 1 };
const { INVALID_FIELD, MISSING_FIELD, UNKNOWN_FIELD } = ErrorCodes;

function svc(spec: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop' },
    spec,
    ...extra,
  };
}

test('Service: a minimal ClusterIP Service gets the API server defaults', () => {
  assert.deepEqual(ok(svc({ selector: { app: 'web' }, ports: [{ port: 80 }] })), {
    kind: 'Service',
    namespace: 'shop',
    name: 'web',
    labels: {},
    type: 'ClusterIP',
    selector: { app: 'web' },
    ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: { kind: 'number', port: 80 } }],
    clusterIps: { kind: 'unset' },
    ipFamilies: [],
    externalIps: [],
    sessionAffinity: { kind: 'None' },
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
    loadBalancerSourceRanges: [],
    allocateLoadBalancerNodePorts: true,
    publishNotReadyAddresses: false,
    loadBalancerIngress: [],
    origin,
  });
});

test('Service: a dual-stack LoadBalancer with every field it may carry', () => {
  const s = ok(
    svc(
      {
        type: 'LoadBalancer',
        selector: { app: 'web' },
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10', 'fd00:10:96::a'],
        ipFamilies: ['IPv4', 'IPv6'],
        ipFamilyPolicy: 'RequireDualStack',
        ports: [
          { name: 'http', port: 80, targetPort: 'http', nodePort: 30080, appProtocol: 'http' },
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
        ],
        externalIPs: ['203.0.113.10'],
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 32000,
        internalTrafficPolicy: 'Local',
        loadBalancerSourceRanges: ['192.0.2.7/24', ' 2001:db8::/32'],
        allocateLoadBalancerNodePorts: false,
        loadBalancerClass: 'example.com/vip',
        publishNotReadyAddresses: true,
        trafficDistribution: 'PreferClose',
      },
      {
        status: {
          loadBalancer: {
            ingress: [
              { ip: '198.51.100.1' },
              { ip: '198.51.100.2', ipMode: 'Proxy', ports: [{ port: 80, protocol: 'TCP' }] },
              { hostname: 'lb.example.com' },
            ],
          },
          conditions: [],
        },
      },
    ),
  );
  assert.deepEqual(s.clusterIps, { kind: 'set', ips: [ip('10.96.0.10'), ip('fd00:10:96::a')] });
  assert.deepEqual(s.ipFamilies, ['IPv4', 'IPv6']);
  assert.equal(s.ipFamilyPolicy, 'RequireDualStack');
  assert.deepEqual(s.ports, [
    {
      name: 'http',
      protocol: 'TCP',
      port: 80,
      targetPort: { kind: 'named', name: 'http' },
      nodePort: 30080,
      appProtocol: 'http',
    },
    { name: 'dns', protocol: 'UDP', port: 53, targetPort: { kind: 'number', port: 5353 } },
  ]);
  assert.deepEqual(s.externalIps, [ip('203.0.113.10')]);
  assert.deepEqual(s.sessionAffinity, { kind: 'ClientIP', timeoutSeconds: 60 });
  assert.equal(s.externalTrafficPolicy, 'Local');
  assert.equal(s.healthCheckNodePort, 32000);
  assert.equal(s.internalTrafficPolicy, 'Local');
  // Host bits are masked, surrounding spaces trimmed (the API server reads them so).
  assert.deepEqual(s.loadBalancerSourceRanges, [
    parseCidr('192.0.2.0/24')?.cidr,
    parseCidr('2001:db8::/32')?.cidr,
  ]);
  assert.equal(s.allocateLoadBalancerNodePorts, false);
  assert.equal(s.loadBalancerClass, 'example.com/vip');
  assert.equal(s.publishNotReadyAddresses, true);
  assert.equal(s.trafficDistribution, 'PreferClose');
  assert.deepEqual(s.loadBalancerIngress, [
    { ip: ip('198.51.100.1'), ipMode: 'VIP' },
    { ip: ip('198.51.100.2'), ipMode: 'Proxy' },
    { hostname: 'lb.example.com' },
  ]);
});

test('Service: ClientIP affinity without a config times out after 10800 s; an empty selector is none', () => {
  const s = ok(svc({ selector: {}, sessionAffinity: 'ClientIP', ports: [{ port: 80 }] }));
  assert.deepEqual(s.sessionAffinity, { kind: 'ClientIP', timeoutSeconds: 10800 });
  assert.equal('selector' in s, false);
});

test('Service: headless and ExternalName Services need no ports; targetPort 0 or "" is port', () => {
  assert.deepEqual(ok(svc({ clusterIP: 'None' })).clusterIps, { kind: 'none' });
  const ext = ok(svc({ type: 'ExternalName', externalName: 'db.example.com.' }));
  assert.equal(ext.externalName, 'db.example.com.');
  assert.deepEqual(ext.ports, []);
  const s = ok(
    svc({
      ports: [
        { name: 'a', port: 81, targetPort: 0 },
        { name: 'b', port: 82, targetPort: '' },
      ],
    }),
  );
  assert.deepEqual(
    s.ports.map((p) => p.targetPort),
    [
      { kind: 'number', port: 81 },
      { kind: 'number', port: 82 },
    ],
  );
});

test('Service: the name is a DNS-1035 label (no leading digit, no dot)', () => {
  for (const name of ['1web', 'web.shop', 'Web']) {
    assert.deepEqual(
      fails({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name },
        spec: { ports: [{ port: 80 }] },
      }),
      [[INVALID_FIELD, 'metadata.name']],
    );
  }
});

test('Service: port rules (required, named when several, unique, valid numbers and names)', () => {
  assert.deepEqual(fails(svc({})), [[MISSING_FIELD, 'spec.ports']]);
  assert.deepEqual(fails(svc({ ports: [{ port: 80 }, { name: 'b', port: 81 }] })), [
    [MISSING_FIELD, 'spec.ports[0].name'],
  ]);
  assert.deepEqual(
    fails(
      svc({
        ports: [
          { name: 'a', port: 80 },
          { name: 'a', port: 80, protocol: 'TCP' },
        ],
      }),
    ),
    [
      [INVALID_FIELD, 'spec.ports[1].name'],
      [INVALID_FIELD, 'spec.ports[1]'],
    ],
  );
  assert.deepEqual(fails(svc({ ports: [{ name: 'Http', port: 0 }] })), [
    [INVALID_FIELD, 'spec.ports[0].name'],
    [INVALID_FIELD, 'spec.ports[0].port'],
  ]);
  assert.deepEqual(fails(svc({ ports: [{ port: 80, targetPort: '8080' }] })), [
    [INVALID_FIELD, 'spec.ports[0].targetPort'],
  ]);
  assert.deepEqual(fails(svc({ ports: [{ port: 80, targetPort: 70000 }] })), [
    [INVALID_FIELD, 'spec.ports[0].targetPort'],
  ]);
  assert.deepEqual(fails(svc({ ports: [{ port: 80, protocol: 'ICMP' }] })), [
    [INVALID_FIELD, 'spec.ports[0].protocol'],
  ]);
  assert.deepEqual(fails(svc({ ports: [{ port: 80, target: 8080 }] })), [
    [UNKNOWN_FIELD, 'spec.ports[0].target'],
  ]);
});

test('Service: the same port on TCP and UDP is two ports; the same node port too', () => {
  const s = ok(
    svc({
      type: 'NodePort',
      ports: [
        { name: 'dns-tcp', port: 53, nodePort: 30053 },
        { name: 'dns-udp', port: 53, protocol: 'UDP', nodePort: 30053 },
      ],
    }),
  );
  assert.deepEqual(
    s.ports.map((p) => [p.port, p.protocol, p.nodePort]),
    [
      [53, 'TCP', 30053],
      [53, 'UDP', 30053],
    ],
  );
  assert.deepEqual(
    fails(
      svc({
        type: 'NodePort',
        ports: [
          { name: 'a', port: 80, nodePort: 30080 },
          { name: 'b', port: 81, nodePort: 30080 },
        ],
      }),
    ),
    [[INVALID_FIELD, 'spec.ports[1].nodePort']],
  );
});

test('Service: nodePort is not for ClusterIP; None is not for NodePort or LoadBalancer', () => {
  assert.deepEqual(fails(svc({ ports: [{ port: 80, nodePort: 30080 }] })), [
    [INVALID_FIELD, 'spec.ports[0].nodePort'],
  ]);
  for (const type of ['NodePort', 'LoadBalancer']) {
    assert.deepEqual(fails(svc({ type, clusterIP: 'None', ports: [{ port: 80 }] })), [
      [INVALID_FIELD, 'spec.clusterIP'],
    ]);
  }
});

test('Service: clusterIP and clusterIPs agree; one address per family; families in their order', () => {
  const p = { ports: [{ port: 80 }] };
  assert.deepEqual(fails(svc({ ...p, clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.2'] })), [
    [INVALID_FIELD, 'spec.clusterIPs'],
  ]);
  assert.deepEqual(fails(svc({ ...p, clusterIPs: ['10.96.0.1', '10.96.0.2'] })), [
    [INVALID_FIELD, 'spec.clusterIPs[1]'],
  ]);
  assert.deepEqual(fails(svc({ ...p, clusterIP: '10.96.0.300' })), [
    [INVALID_FIELD, 'spec.clusterIP'],
  ]);
  assert.deepEqual(fails(svc({ ...p, clusterIPs: ['None', '10.96.0.1'] })), [
    [INVALID_FIELD, 'spec.clusterIPs'],
  ]);
  assert.deepEqual(
    fails(svc({ ...p, clusterIPs: ['fd00::1', '10.96.0.1'], ipFamilies: ['IPv4', 'IPv6'] })),
    [
      [INVALID_FIELD, 'spec.ipFamilies[0]'],
      [INVALID_FIELD, 'spec.ipFamilies[1]'],
    ],
  );
  assert.deepEqual(fails(svc({ ...p, ipFamilies: ['IPv4', 'IPv4'] })), [
    [INVALID_FIELD, 'spec.ipFamilies[1]'],
  ]);
  assert.deepEqual(fails(svc({ ...p, ipFamilies: ['ipv4'], ipFamilyPolicy: 'DualStack' })), [
    [INVALID_FIELD, 'spec.ipFamilies[0]'],
    [INVALID_FIELD, 'spec.ipFamilyPolicy'],
  ]);
  assert.deepEqual(
    fails(svc({ ...p, ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'SingleStack' })),
    [[INVALID_FIELD, 'spec.ipFamilyPolicy']],
  );
  // clusterIPs alone is enough: clusterIP follows it, as the API server defaults it.
  assert.deepEqual(ok(svc({ ...p, clusterIPs: ['10.96.0.9'] })).clusterIps, {
    kind: 'set',
    ips: [ip('10.96.0.9')],
  });
});

test('Service: ExternalName needs a DNS name and no cluster addressing', () => {
  assert.deepEqual(fails(svc({ type: 'ExternalName' })), [[MISSING_FIELD, 'spec.externalName']]);
  assert.deepEqual(fails(svc({ type: 'ExternalName', externalName: 'not a name' })), [
    [INVALID_FIELD, 'spec.externalName'],
  ]);
  assert.deepEqual(
    fails(
      svc({
        type: 'ExternalName',
        externalName: 'db.example.com',
        clusterIP: '10.96.0.1',
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
      }),
    ),
    [
      [INVALID_FIELD, 'spec.clusterIP'],
      [INVALID_FIELD, 'spec.ipFamilies'],
      [INVALID_FIELD, 'spec.ipFamilyPolicy'],
    ],
  );
});

test('Service: session affinity rules (timeout 1..86400, no config with None)', () => {
  const p = { ports: [{ port: 80 }] };
  const cfg = (timeoutSeconds: number) => ({ clientIP: { timeoutSeconds } });
  assert.deepEqual(
    fails(svc({ ...p, sessionAffinity: 'ClientIP', sessionAffinityConfig: cfg(0) })),
    [[INVALID_FIELD, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds']],
  );
  assert.deepEqual(
    fails(svc({ ...p, sessionAffinity: 'ClientIP', sessionAffinityConfig: cfg(86401) })),
    [[INVALID_FIELD, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds']],
  );
  assert.deepEqual(
    ok(svc({ ...p, sessionAffinity: 'ClientIP', sessionAffinityConfig: cfg(86400) }))
      .sessionAffinity,
    { kind: 'ClientIP', timeoutSeconds: 86400 },
  );
  assert.deepEqual(fails(svc({ ...p, sessionAffinityConfig: cfg(10) })), [
    [INVALID_FIELD, 'spec.sessionAffinityConfig'],
  ]);
  assert.deepEqual(fails(svc({ ...p, sessionAffinity: 'Cookie' })), [
    [INVALID_FIELD, 'spec.sessionAffinity'],
  ]);
});

test('Service: traffic policies, health check port and LoadBalancer-only fields where they belong', () => {
  const p = { ports: [{ port: 80 }] };
  assert.deepEqual(fails(svc({ ...p, externalTrafficPolicy: 'Local' })), [
    [INVALID_FIELD, 'spec.externalTrafficPolicy'],
  ]);
  // A ClusterIP with externalIPs is reachable from outside: it may choose Local.
  assert.equal(
    ok(svc({ ...p, externalIPs: ['203.0.113.1'], externalTrafficPolicy: 'Local' }))
      .externalTrafficPolicy,
    'Local',
  );
  assert.deepEqual(
    fails(
      svc({ ...p, type: 'NodePort', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 }),
    ),
    [[INVALID_FIELD, 'spec.healthCheckNodePort']],
  );
  assert.deepEqual(fails(svc({ ...p, internalTrafficPolicy: 'Node' })), [
    [INVALID_FIELD, 'spec.internalTrafficPolicy'],
  ]);
  assert.deepEqual(
    fails(
      svc({
        ...p,
        type: 'NodePort',
        loadBalancerSourceRanges: ['10.0.0.0/8'],
        allocateLoadBalancerNodePorts: true,
        loadBalancerClass: 'x/y',
      }),
    ),
    [
      [INVALID_FIELD, 'spec.loadBalancerSourceRanges'],
      [INVALID_FIELD, 'spec.allocateLoadBalancerNodePorts'],
      [INVALID_FIELD, 'spec.loadBalancerClass'],
    ],
  );
  assert.deepEqual(
    fails(svc({ ...p, type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0'] })),
    [[INVALID_FIELD, 'spec.loadBalancerSourceRanges[0]']],
  );
  assert.deepEqual(fails(svc({ ...p, trafficDistribution: 'PreferRegion' })), [
    [INVALID_FIELD, 'spec.trafficDistribution'],
  ]);
});

test('Service: externalIPs must be routable addresses', () => {
  for (const bad of [
    '0.0.0.0',
    '127.0.0.1',
    '169.254.1.1',
    '224.0.0.5',
    '::1',
    'fe80::1',
    'ff02::1',
    'x',
  ]) {
    assert.deepEqual(fails(svc({ ports: [{ port: 80 }], externalIPs: [bad] })), [
      [INVALID_FIELD, 'spec.externalIPs[0]'],
    ]);
  }
});

test('Service: status.loadBalancer.ingress is checked (ipMode needs ip, hostname is a name)', () => {
  const withIngress = (ingress: unknown[]) =>
    svc({ type: 'LoadBalancer', ports: [{ port: 80 }] }, { status: { loadBalancer: { ingress } } });
  assert.deepEqual(fails(withIngress([{ hostname: 'lb.example.com', ipMode: 'VIP' }])), [
    [INVALID_FIELD, 'status.loadBalancer.ingress[0].ipMode'],
  ]);
  assert.deepEqual(fails(withIngress([{ ip: '198.51.100.1', ipMode: 'Tunnel' }])), [
    [INVALID_FIELD, 'status.loadBalancer.ingress[0].ipMode'],
  ]);
  assert.deepEqual(fails(withIngress([{ hostname: '198.51.100.1' }])), [
    [INVALID_FIELD, 'status.loadBalancer.ingress[0].hostname'],
  ]);
  assert.deepEqual(fails(withIngress([{ ip: 'lb' }])), [
    [INVALID_FIELD, 'status.loadBalancer.ingress[0].ip'],
  ]);
  assert.deepEqual(fails(withIngress([{ ip: '198.51.100.1', vip: true }])), [
    [UNKNOWN_FIELD, 'status.loadBalancer.ingress[0].vip'],
  ]);
});

test('Service: issues name the object, the field and a fix', () => {
  const r = parseObject(svc({ ports: [{ port: 80, nodePort: 30080 }] }), origin);
  assert.deepEqual(r.issues, [
    {
      code: INVALID_FIELD,
      object: 'Service shop/web (svc.yaml:1)',
      field: 'spec.ports[0].nodePort',
      message: "may not be used when type is 'ClusterIP'",
      fix: 'remove nodePort',
    },
  ]);
});

test("Service: weft's lb-algorithm annotation is random or maglev; anything else names the fix", () => {
  const annotated = (value: string) =>
    svc(
      { ports: [{ port: 80 }] },
      {
        metadata: {
          name: 'web',
          namespace: 'shop',
          annotations: { 'service.weft.dev/lb-algorithm': value, 'example.com/x': 'y' },
        },
      },
    );
  assert.equal(ok(annotated('maglev')).loadBalancing, 'maglev');
  assert.equal(ok(annotated('random')).loadBalancing, 'random');
  assert.equal(ok(svc({ ports: [{ port: 80 }] })).loadBalancing, undefined);
  assert.deepEqual(parseObject(annotated('round-robin'), origin).issues, [
    {
      code: INVALID_FIELD,
      object: 'Service shop/web (svc.yaml:1)',
      field: 'metadata.annotations["service.weft.dev/lb-algorithm"]',
      message: '"round-robin" is not a load-balancing algorithm weft knows',
      fix: "write random or maglev, or remove the annotation for the agent's default",
    },
  ]);
});

function ok(raw: unknown) {
  return parsedAs('Service', raw, origin);
}

function fails(raw: unknown): [string, string][] {
  return issueFields(raw, origin);
}
