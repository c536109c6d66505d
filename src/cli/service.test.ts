import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWeft } from '../testing/cli.js';

// A store on two nodes: web-1 (ready, node-1) and web-2 (not ready, node-2)
// behind shop/web (ClusterIP) and shop/edge (NodePort, externalTrafficPolicy
// Local, ClientIP affinity); shop/empty selects nothing; shop/db is headless
// and shop/mail an ExternalName. Expected outputs are written by hand.
const STORE = `
apiVersion: v1
kind: Node
metadata: { name: node-1, labels: { topology.kubernetes.io/zone: a } }
spec: { podCIDR: 10.244.1.0/24 }
status: { addresses: [{ type: InternalIP, address: 192.168.1.1 }] }
---
apiVersion: v1
kind: Node
metadata: { name: node-2, labels: { topology.kubernetes.io/zone: b } }
spec: { podCIDR: 10.244.2.0/24 }
status: { addresses: [{ type: InternalIP, address: 192.168.1.2 }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: web-1, labels: { app: web } }
spec:
  nodeName: node-1
  containers: [{ name: web, ports: [{ name: http, containerPort: 8080 }] }]
status: { podIP: 10.244.1.10 }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: web-2, labels: { app: web } }
spec:
  nodeName: node-2
  containers: [{ name: web, ports: [{ name: http, containerPort: 8080 }] }]
status: { podIP: 10.244.2.10, conditions: [{ type: Ready, status: 'False' }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: client }
spec: { nodeName: node-2, containers: [{ name: c }] }
status: { podIP: 10.244.2.20 }
---
apiVersion: v1
kind: Service
metadata: { namespace: shop, name: web }
spec:
  clusterIP: 10.96.0.10
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: http }]
---
apiVersion: v1
kind: Service
metadata: { namespace: shop, name: edge }
spec:
  type: NodePort
  clusterIP: 10.96.0.20
  externalTrafficPolicy: Local
  sessionAffinity: ClientIP
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: 8080, nodePort: 30080 }]
---
apiVersion: v1
kind: Service
metadata: { namespace: shop, name: empty }
spec:
  clusterIP: 10.96.0.30
  selector: { app: nothing }
  ports: [{ port: 80 }]
---
apiVersion: v1
kind: Service
metadata: { namespace: shop, name: db }
spec: { clusterIP: None, selector: { app: db }, ports: [{ port: 5432 }] }
---
apiVersion: v1
kind: Service
metadata: { namespace: shop, name: mail }
spec: { type: ExternalName, externalName: mail.example.com }
`;

const dir = mkdtempSync(join(tmpdir(), 'weft-service-cli-'));
const store = join(dir, 'store.yaml');
writeFileSync(store, STORE);
process.env['WEFT_LAB_ROOT'] = join(dir, 'labs');
test.after(() => rmSync(dir, { recursive: true, force: true }));

const weft = runWeft;

test('service list: Services, endpoints with conditions, each node, what is not proxied', async () => {
  const r = await weft('service', 'list', '-f', store);
  assert.equal(r.err, '');
  assert.equal(r.code, 0);
  assert.equal(
    r.out,
    `SERVICE     TYPE       CLUSTER-IP  EXTERNAL  PORTS                         ENDPOINTS             SETTINGS
shop/edge   NodePort   10.96.0.20  -         http 80->8080/TCP node 30080  1 ready, 1 not ready  externalTrafficPolicy Local, affinity ClientIP 10800s
shop/empty  ClusterIP  10.96.0.30  -         80->80/TCP                    none                  -
shop/web    ClusterIP  10.96.0.10  -         http 80->http/TCP             1 ready, 1 not ready  -

SERVICE    PORT      ENDPOINT          POD         NODE    ZONE  READY  SERVING  TERMINATING
shop/edge  http/TCP  10.244.1.10:8080  shop/web-1  node-1  a     yes    yes      no
shop/edge  http/TCP  10.244.2.10:8080  shop/web-2  node-2  b     no     no       no
shop/web   http/TCP  10.244.1.10:8080  shop/web-1  node-1  a     yes    yes      no
shop/web   http/TCP  10.244.2.10:8080  shop/web-2  node-2  b     no     no       no

NODE    SERVICE PORT        NODE PORTS         LOCAL ENDPOINTS               TRAFFIC HERE
node-1  shop/edge:http/TCP  192.168.1.1:30080  10.244.1.10:8080              from outside to local endpoints, client address kept
node-1  shop/empty:80/TCP   -                  -                             rejected: no endpoints
node-1  shop/web:http/TCP   -                  10.244.1.10:8080              -
node-2  shop/edge:http/TCP  192.168.1.2:30080  10.244.2.10:8080 (not ready)  from outside dropped: no local endpoint
node-2  shop/empty:80/TCP   -                  -                             rejected: no endpoints
node-2  shop/web:http/TCP   -                  10.244.2.10:8080 (not ready)  -

NOT PROXIED  WHY
shop/db      headless: clusterIP None
shop/mail    type ExternalName: a DNS name, no address
`,
  );
});

test('service list -o json: one Service on one node, in the documented shape', async () => {
  const r = await weft(
    'service',
    'list',
    '-f',
    store,
    'shop/edge',
    '--node',
    'node-2',
    '-o',
    'json',
  );
  assert.equal(r.code, 0, r.err);
  const endpoint = (ip: string, pod: string, node: string, zone: string, ready: boolean) => ({
    ip,
    port: 8080,
    pod,
    node,
    zone,
    ready,
    serving: ready,
    terminating: false,
  });
  assert.deepEqual(JSON.parse(r.out), {
    services: [
      {
        namespace: 'shop',
        name: 'edge',
        type: 'NodePort',
        clusterIPs: ['10.96.0.20'],
        externalIPs: [],
        loadBalancerIPs: [],
        loadBalancerSourceRanges: [],
        sessionAffinity: 'ClientIP',
        affinityTimeoutSeconds: 10800,
        internalTrafficPolicy: 'Cluster',
        externalTrafficPolicy: 'Local',
        ports: [
          {
            name: 'http',
            port: 80,
            protocol: 'TCP',
            targetPort: 8080,
            nodePort: 30080,
            endpoints: [
              endpoint('10.244.1.10', 'shop/web-1', 'node-1', 'a', true),
              endpoint('10.244.2.10', 'shop/web-2', 'node-2', 'b', false),
            ],
          },
        ],
        nodes: [
          {
            node: 'node-2',
            ports: [
              {
                name: 'http',
                port: 80,
                protocol: 'TCP',
                family: 'IPv4',
                nodePorts: ['192.168.1.2:30080'],
                clusterEndpoints: ['10.244.1.10:8080'],
                localEndpoints: [],
                internal: {
                  policy: 'Cluster',
                  steps: [
                    { from: 'pod', masquerade: false, verdict: 'cluster endpoints' },
                    { from: 'any', masquerade: true, verdict: 'cluster endpoints' },
                  ],
                },
                external: {
                  policy: 'Local',
                  steps: [
                    { from: 'pod', masquerade: false, verdict: 'cluster endpoints' },
                    { from: 'node', masquerade: true, verdict: 'cluster endpoints' },
                    {
                      from: 'any',
                      masquerade: false,
                      verdict: 'drop',
                      reason: 'shop/edge:http/TCP has no local endpoints',
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
    ignored: [],
  });
  const ignored = await weft('service', 'list', '-f', store, 'shop/db', 'shop/mail', '-o', 'json');
  assert.deepEqual(JSON.parse(ignored.out), {
    services: [],
    ignored: [
      { namespace: 'shop', name: 'db', reason: 'headless', detail: 'headless: clusterIP None' },
      {
        namespace: 'shop',
        name: 'mail',
        reason: 'ExternalName',
        detail: 'type ExternalName: a DNS name, no address',
      },
    ],
  });
});

test('service trace: a pod to a ClusterIP, in text and JSON', async () => {
  const text = await weft(
    'service',
    'trace',
    '-f',
    store,
    '--from',
    'shop/client',
    '--to',
    '10.96.0.20:80',
  );
  assert.equal(text.code, 0, text.err);
  assert.equal(
    text.out,
    `from      shop/client (10.244.2.20), a pod on node-2
to        10.96.0.20:80/TCP
node      node-2 (the node of shop/client)
frontend  ClusterIP 10.96.0.20:80: Service shop/edge, port http 80/TCP (IPv4)
plan      internal (ClusterIP), internalTrafficPolicy Cluster; step 1 of 2: from a pod
verdict   FORWARDED (DNAT) to the one endpoint, the client address kept
affinity  ClientIP: a client keeps to the endpoint it got for 10800 s
endpoints
  10.244.1.10:8080  shop/web-1  node-1  ready
`,
  );
  const json = await weft(
    'service',
    'trace',
    '-f',
    store,
    '--from',
    'shop/web-1',
    '--to',
    '10.96.0.10:80/tcp',
    '-o',
    'json',
  );
  assert.equal(json.code, 0, json.err);
  assert.deepEqual(JSON.parse(json.out), {
    verdict: 'forwarded',
    from: { ip: '10.244.1.10', kind: 'pod', pod: 'shop/web-1', node: 'node-1' },
    to: { ip: '10.96.0.10', port: 80, protocol: 'TCP' },
    node: 'node-1',
    nodeChosenBy: 'the node of shop/web-1',
    service: {
      namespace: 'shop',
      name: 'web',
      port: 'http',
      protocol: 'TCP',
      family: 'IPv4',
      id: 'shop/web:http/TCP',
    },
    frontend: { kind: 'ClusterIP', ip: '10.96.0.10', port: 80 },
    traffic: 'internal',
    trafficPolicy: 'Cluster',
    step: { index: 0, from: 'pod', masquerade: false },
    endpointSet: 'cluster',
    masquerade: false,
    terminatingFallback: false,
    affinity: { kind: 'None' },
    endpoints: [
      {
        ip: '10.244.1.10',
        port: 8080,
        pod: 'shop/web-1',
        node: 'node-1',
        zone: 'a',
        ready: true,
        serving: true,
        terminating: false,
        local: true,
        hairpin: true,
        masquerade: true,
      },
    ],
  });
});

test('service trace: node ports from outside, a Local policy, rejects and drops', async () => {
  const trace = async (from: string, to: string, ...more: string[]) => {
    const r = await weft('service', 'trace', '-f', store, '--from', from, '--to', to, ...more);
    assert.equal(r.code, 0, r.err);
    return r.out;
  };
  assert.equal(
    await trace('203.0.113.9', '192.168.1.2:30080'),
    `from      203.0.113.9, outside the cluster
to        192.168.1.2:30080/TCP
node      node-2 (the node addressed)
frontend  node port 192.168.1.2:30080: Service shop/edge, port http 80/TCP (IPv4)
plan      external (node ports, external and load balancer IPs), externalTrafficPolicy Local; step 3 of 3: from anywhere
verdict   DROPPED: shop/edge:http/TCP has no local endpoints
`,
  );
  assert.equal(
    await trace('203.0.113.9', '192.168.1.1:30080'),
    `from      203.0.113.9, outside the cluster
to        192.168.1.1:30080/TCP
node      node-1 (the node addressed)
frontend  node port 192.168.1.1:30080: Service shop/edge, port http 80/TCP (IPv4)
plan      external (node ports, external and load balancer IPs), externalTrafficPolicy Local; step 3 of 3: from anywhere
verdict   FORWARDED (DNAT) to the one endpoint on node-1, the client address kept
affinity  ClientIP: a client keeps to the endpoint it got for 10800 s
endpoints
  10.244.1.10:8080  shop/web-1  node-1  ready
`,
  );
  assert.match(
    await trace('shop/client', '10.96.0.30:80'),
    /\nverdict {3}REJECTED at once \(TCP reset, ICMP unreachable\): shop\/empty:\/TCP has no endpoints\n$/,
  );
  assert.match(
    await trace('shop/client', '10.96.0.10:81/UDP'),
    /\nverdict {3}REJECTED at once \(TCP reset, ICMP unreachable\): 10\.96\.0\.10 is the ClusterIP of Service shop\/web, which serves 80\/TCP, not 81\/UDP\n$/,
  );
  assert.match(
    await trace('shop/client', '10.96.9.9:80'),
    /\nverdict {3}DROPPED: 10\.96\.9\.9 is in the service range 10\.96\.0\.0\/16 but is no Service's ClusterIP \(unallocated\)\n$/,
  );
  assert.equal(
    await trace('203.0.113.9', '198.51.100.1:80', '--node', 'node-1'),
    `from      203.0.113.9, outside the cluster
to        198.51.100.1:80/TCP
node      node-1 (given with --node)
verdict   NOT A SERVICE: 198.51.100.1:80/TCP is no Service frontend on node node-1: the proxy leaves it to routing
`,
  );
});

test('service: every mistake is one message with its fix, exit 2, no stack', async () => {
  const cases: [string[], string][] = [
    [
      ['trace', '-f', store, '--from', 'shop/clinet', '--to', '10.96.0.10:80'],
      'weft: --from shop/clinet: no such pod in the manifests\n  fix: did you mean shop/client?\n',
    ],
    [
      ['trace', '-f', store, '--from', 'client', '--to', '10.96.0.10:80'],
      'weft: --from client: no such pod in the manifests\n  fix: did you mean shop/client?\n',
    ],
    [
      ['trace', '-f', store, '--from', 'shop/client', '--to', '10.96.0.10'],
      'weft: --to 10.96.0.10: not IP:PORT/PROTO\n  fix: Service shop/web has ClusterIP 10.96.0.10: write e.g. --to 10.96.0.10:80/TCP\n',
    ],
    [
      ['trace', '-f', store, '--from', 'shop/client', '--to', 'shop/edge'],
      'weft: --to shop/edge: not IP:PORT/PROTO\n  fix: Service shop/edge has ClusterIP 10.96.0.20: write e.g. --to 10.96.0.20:80/TCP\n',
    ],
    [
      ['trace', '-f', store, '--from', 'shop/client', '--to', '10.96.0.10:80/ICMP'],
      'weft: --to 10.96.0.10:80/ICMP: ICMP is not a protocol Services carry\n  fix: use TCP, UDP or SCTP, e.g. 10.96.0.10:53/UDP, or [fd00:10:96::a]:80/TCP for IPv6\n',
    ],
    [
      ['trace', '-f', store, '--from', 'shop/client', '--to', '10.96.0.10:0'],
      'weft: --to 10.96.0.10:0: port "0" is not 1-65535\n  fix: e.g. 10.96.0.10:53/UDP, or [fd00:10:96::a]:80/TCP for IPv6\n',
    ],
    [
      ['trace', '-f', store, '--from', '203.0.113.9', '--to', '198.51.100.1:80'],
      'weft: which node does the packet from 203.0.113.9 reach first?\n  fix: name it with --node NODE (one of: node-1, node-2)\n',
    ],
    [
      ['trace', '-f', store, '--to', '10.96.0.10:80'],
      'weft: service trace needs --from and --to\n  fix: e.g. --from shop/frontend --to 10.96.0.10:80/TCP (weft service list shows the addresses)\n',
    ],
    [
      ['trace', '-f', store, '--frm', 'shop/client'],
      'weft: service trace: unknown flag --frm\n  fix: did you mean --from? (see weft service trace --help)\n',
    ],
    [
      ['list', '-f', store, 'shop/wbe'],
      'weft: shop/wbe: no such Service in the manifests\n  fix: did you mean shop/web?\n',
    ],
    [
      ['list', '-f', store, '--node', 'node-9'],
      'weft: --node node-9: no such Node\n  fix: did you mean node-1?\n',
    ],
    [
      ['list'],
      'weft: service list: no objects to read\n  fix: pass -f FILE or -f DIR (repeatable), or --lab NAME\n',
    ],
    [
      ['list', '-f', store, '--lab', 'weft'],
      'weft: service list: -f and --lab both given\n  fix: read manifests with -f or a lab with --lab, not both\n',
    ],
    [
      ['list', '--lab', 'No_Such'],
      'weft: --lab No_Such: not a lab name\n  fix: use 1-16 lowercase letters, digits and dashes, as in weft lab up --name\n',
    ],
    [['lst'], 'weft: unknown verb service "lst"\n  fix: did you mean list? (verbs: list, trace)\n'],
  ];
  for (const [args, err] of cases) {
    assert.deepEqual(await weft('service', ...args), { code: 2, out: '', err }, args.join(' '));
  }
  // A lab that is not up is a missing object (exit 1), named with the way to start it.
  assert.deepEqual(await weft('service', 'list', '--lab', 'absent'), {
    code: 1,
    out: '',
    err: 'weft: lab absent: is not up (fix: start it with: weft lab up --name absent) [WEFT_NOT_FOUND]\n',
  });
});

test("service --help is the group help; VERB --help that verb's", async () => {
  const group = await weft('service', '--help');
  assert.equal(group.code, 0);
  assert.match(group.out, /^usage: weft service VERB/);
  const list = await weft('service', 'list', '--help');
  assert.equal(list.code, 0);
  assert.match(list.out, /^usage: weft service list \[NS\/NAME\]\.\.\./);
  const trace = await weft('service', 'trace', '-f', store, '--bogus', '-h');
  assert.equal(trace.code, 0);
  assert.match(trace.out, /^usage: weft service trace --from NS\/POD\|IP --to IP:PORT\[\/PROTO\]/);
  assert.ok(trace.out.includes('--node NODE'));
  const main = await weft('--help');
  assert.match(
    main.out,
    /\n {2}service {4}Services: frontends, endpoints, and where a packet to one goes\n/,
  );
});
