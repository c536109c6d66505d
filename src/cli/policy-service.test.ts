import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWeft } from '../testing/cli.js';

// shop/web-1 (node-1) and shop/web-2 (node-2) serve http on 8080 behind
// shop/web (ClusterIP 10.96.0.10, port 80) and shop/edge (NodePort 30080).
// A NetworkPolicy lets shop/client reach web-1 on 8080 (the pod port) and
// web-2 only on 80 (the Service port): through the Service, only web-1
// admits the client. Expected outputs are written by hand.
const MANIFESTS = `
apiVersion: v1
kind: Node
metadata: { name: node-1 }
status: { addresses: [{ type: InternalIP, address: 192.168.1.1 }] }
---
apiVersion: v1
kind: Node
metadata: { name: node-2 }
status: { addresses: [{ type: InternalIP, address: 192.168.1.2 }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: web-1, labels: { app: web, n: one } }
spec: { nodeName: node-1, containers: [{ name: web, ports: [{ name: http, containerPort: 8080 }] }] }
status: { podIP: 10.244.1.10 }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: web-2, labels: { app: web, n: two } }
spec: { nodeName: node-2, containers: [{ name: web, ports: [{ name: http, containerPort: 8080 }] }] }
status: { podIP: 10.244.2.10 }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: client, labels: { app: client } }
spec: { nodeName: node-1, containers: [{ name: c }] }
status: { podIP: 10.244.1.20 }
---
apiVersion: v1
kind: Service
metadata: { namespace: shop, name: web }
spec: { clusterIP: 10.96.0.10, selector: { app: web }, ports: [{ name: http, port: 80, targetPort: http }] }
---
apiVersion: v1
kind: Service
metadata: { namespace: shop, name: edge }
spec:
  type: NodePort
  clusterIP: 10.96.0.20
  selector: { n: two }
  ports: [{ name: http, port: 80, targetPort: 8080, nodePort: 30080 }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { namespace: shop, name: one-on-pod-port }
spec:
  podSelector: { matchLabels: { n: one } }
  ingress: [{ from: [{ podSelector: { matchLabels: { app: client } } }], ports: [{ port: 8080 }] }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { namespace: shop, name: two-on-service-port }
spec:
  podSelector: { matchLabels: { n: two } }
  ingress: [{ from: [{ podSelector: { matchLabels: { app: client } } }], ports: [{ port: 80 }] }]
`;

const dir = mkdtempSync(join(tmpdir(), 'weft-policy-service-'));
const file = join(dir, 'shop.yaml');
writeFileSync(file, MANIFESTS);
test.after(() => rmSync(dir, { recursive: true, force: true }));

const trace = (...args: string[]) => runWeft('policy', 'trace', '-f', file, ...args);

test('policy trace to a ClusterIP goes through the Service: each endpoint on its pod port', async () => {
  const r = await trace('--from', 'shop/client', '--to', '10.96.0.10:80');
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out,
    `from     shop/client (10.244.1.20)
to       10.96.0.10, a Service address
port     80/TCP
service  Service shop/web, port http 80/TCP, by its ClusterIP 10.96.0.10:80 (the proxy of node-1)
         DNAT to one of 2 endpoints, the client address kept
verdict  ALLOWED to some endpoints only (a connection that lands on a denied one is dropped)
endpoint shop/web-1 (10.244.1.10) port 8080/TCP: allowed
  egress   allowed  no policy isolates shop/client for egress
  ingress  allowed  allowed by NetworkPolicy shop/one-on-pod-port ingress[0]
endpoint shop/web-2 (10.244.2.10) port 8080/TCP: DENIED
  egress   allowed  no policy isolates shop/client for egress
  ingress  DENIED   shop/web-2 is isolated for ingress by NetworkPolicy shop/two-on-service-port, and no rule allows this flow
`,
  );
  // --to IP with --port says the same.
  const same = await trace('--from', 'shop/client', '--to', '10.96.0.10', '--port', '80/TCP');
  assert.equal(same.out, r.out);
});

test('policy trace through a Service, -o json: the Service step and a decision per endpoint', async () => {
  const r = await trace('--from', 'shop/client', '--to', '10.96.0.20:80', '-o', 'json');
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(r.out) as Record<string, unknown>;
  assert.deepEqual(
    { ...json, service: undefined },
    {
      verdict: 'denied',
      from: { pod: 'shop/client', ip: '10.244.1.20' },
      to: { ip: '10.96.0.20' },
      port: 80,
      protocol: 'TCP',
      service: undefined,
      endpoints: [
        {
          pod: 'shop/web-2',
          ip: '10.244.2.10',
          port: 8080,
          node: 'node-2',
          verdict: 'denied',
          hairpin: false,
          masquerade: false,
          egress: {
            direction: 'egress',
            endpoint: 'shop/client',
            allowed: true,
            stage: 'default',
            reason: 'no policy isolates shop/client for egress',
          },
          ingress: {
            direction: 'ingress',
            endpoint: 'shop/web-2',
            allowed: false,
            stage: 'networkpolicy',
            allowedBy: [],
            isolatedBy: [{ kind: 'NetworkPolicy', namespace: 'shop', name: 'two-on-service-port' }],
            reason:
              'shop/web-2 is isolated for ingress by NetworkPolicy shop/two-on-service-port, and no rule allows this flow',
          },
        },
      ],
    },
  );
  assert.deepEqual(json['service'], {
    verdict: 'forwarded',
    node: 'node-1',
    nodeChosenBy: 'the node of shop/client',
    service: {
      namespace: 'shop',
      name: 'edge',
      port: 'http',
      protocol: 'TCP',
      family: 'IPv4',
      id: 'shop/edge:http/TCP',
    },
    frontend: { kind: 'ClusterIP', ip: '10.96.0.20', port: 80 },
    traffic: 'internal',
    trafficPolicy: 'Cluster',
    step: { index: 0, from: 'pod', masquerade: false },
    endpointSet: 'cluster',
    masquerade: false,
    terminatingFallback: false,
    affinity: { kind: 'None' },
  });
});

test('from outside through a node port: masqueraded, the endpoint sees the node that forwarded', async () => {
  const r = await trace('--from', '203.0.113.9', '--to', '192.168.1.1:30080');
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out,
    `from     203.0.113.9
to       192.168.1.1, a Service address
port     30080/TCP
service  Service shop/edge, port http 80/TCP, by its node port 192.168.1.1:30080 (the proxy of node-1)
         DNAT to its one endpoint, masqueraded
verdict  DENIED (dropped)
endpoint shop/web-2 (10.244.2.10) port 8080/TCP: DENIED
  (masqueraded: node-2 sees 192.168.1.1)
  egress   allowed  the source is not a pod with its own network; no egress policy applies
  ingress  DENIED   shop/web-2 is isolated for ingress by NetworkPolicy shop/two-on-service-port, and no rule allows this flow
`,
  );
});

test('a Service port that is not served, or an unallocated service address: the proxy answers first', async () => {
  const rejected = await trace('--from', 'shop/client', '--to', '10.96.0.10:81');
  assert.equal(rejected.code, 0, rejected.err);
  assert.equal(
    rejected.out,
    `from     shop/client (10.244.1.20)
to       10.96.0.10, a Service address
port     81/TCP
service  REJECTED at once: 10.96.0.10 is the ClusterIP of Service shop/web, which serves 80/TCP, not 81/TCP
verdict  REJECTED by the Service proxy: no policy is reached
`,
  );
  const dropped = await trace('--from', 'shop/client', '--to', '10.96.7.7:80', '-o', 'json');
  assert.equal(JSON.parse(dropped.out).verdict, 'dropped');
});

test('destinations that are no Service keep the trace they had', async () => {
  const pod = await trace('--from', 'shop/client', '--to', 'shop/web-2', '--port', '80');
  assert.equal(
    pod.out,
    `from     shop/client (10.244.1.20)
to       shop/web-2 (10.244.2.10)
port     80/TCP
verdict  ALLOWED
  egress   allowed  no policy isolates shop/client for egress
  ingress  allowed  allowed by NetworkPolicy shop/two-on-service-port ingress[0]
`,
  );
  const outside = await trace('--from', 'shop/client', '--to', '8.8.8.8:53/UDP');
  assert.equal(
    outside.out,
    `from     shop/client (10.244.1.20)
to       8.8.8.8
port     53/UDP
verdict  ALLOWED
  egress   allowed  no policy isolates shop/client for egress
  ingress  allowed  the destination is not a pod with its own network; no ingress policy applies
`,
  );
  const both = await trace('--from', 'shop/client', '--to', '10.96.0.10:80', '--port', '80');
  assert.deepEqual(both, {
    code: 2,
    out: '',
    err: 'weft: --to 10.96.0.10:80 already names a port; --port 80 too\n  fix: drop --port, or write --to 10.96.0.10 --port 80/TCP\n',
  });
});

test("policy VERB --help is that verb's help; a mistyped verb or flag gets the near one", async () => {
  const help = await runWeft('policy', 'trace', '--help');
  assert.equal(help.code, 0);
  assert.match(
    help.out,
    /^usage: weft policy trace -f FILE\.\.\. \[options\]\n\n {2}trace {3}--from/,
  );
  assert.ok(!help.out.includes('matrix'), 'only the trace verb');
  assert.deepEqual(await runWeft('policy', 'trac'), {
    code: 2,
    out: '',
    err: 'weft: unknown verb policy "trac"\n  fix: did you mean trace? (verbs: trace, matrix, lint, ir)\n',
  });
  assert.deepEqual(await runWeft('policy', 'matrix', '-f', file, '--prot', '80'), {
    code: 2,
    out: '',
    err: 'weft: policy matrix: unknown flag --prot\n  fix: did you mean --port? (see weft policy matrix --help)\n',
  });
});

test('--port NAME for a ClusterIP is the Service port of that name', async () => {
  const named = await trace('--from', 'shop/client', '--to', '10.96.0.10', '--port', 'http');
  const numbered = await trace('--from', 'shop/client', '--to', '10.96.0.10:80');
  assert.equal(named.code, 0, named.err);
  assert.equal(named.out, numbered.out);
});
