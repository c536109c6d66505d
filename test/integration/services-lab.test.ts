// Services with real packets: a two-node lab whose agents run the Service
// proxy (the default). A pod reaches a ClusterIP on TCP (the pod server's
// /hostname) and UDP (the `hostname` datagram) and its backend sees the
// pod's own address; the external host reaches a node port on a node
// address; a Service without endpoints refuses at once; a pod reaches
// itself through its Service; externalTrafficPolicy Local keeps the
// client's address; NetworkPolicy keeps its meaning through a Service (the
// pod port decides, the Service port allows nothing); an agent restart
// leaves the same rules and keeps an open connection through a Service.
// Each agent shows its proxy in weft status and its metrics, and answers a
// Local LoadBalancer's health check.
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestLab } from '../support/lab.js';
import { normalize } from '../support/nft-listing.js';
import { AgentRoutes } from '../../src/api/routes.js';
import { LAB_OBSERVE_PORT } from '../../src/lab/infra.js';

const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: { name: svc }
---
apiVersion: v1
kind: Pod
metadata: { namespace: svc, name: client, labels: { app: client } }
spec:
  nodeName: node-2
  containers: [{ name: c, ports: [{ name: echo, containerPort: 7000 }] }]
---
apiVersion: v1
kind: Pod
metadata: { namespace: svc, name: web-1, labels: { app: web } }
spec:
  nodeName: node-1
  containers:
    - name: web
      ports:
        - { name: http, containerPort: 8080 }
        - { name: dns, containerPort: 5353, protocol: UDP }
---
apiVersion: v1
kind: Service
metadata: { namespace: svc, name: web }
spec:
  clusterIP: 10.96.7.10
  selector: { app: web }
  ports:
    - { name: http, port: 80, targetPort: http }
    - { name: dns, port: 53, targetPort: dns, protocol: UDP }
---
apiVersion: v1
kind: Service
metadata: { namespace: svc, name: edge }
spec:
  type: NodePort
  clusterIP: 10.96.7.11
  externalTrafficPolicy: Local
  selector: { app: web }
  ports:
    - { name: http, port: 80, targetPort: http, nodePort: 30080 }
---
apiVersion: v1
kind: Service
metadata: { namespace: svc, name: wide }
spec:
  type: NodePort
  clusterIP: 10.96.7.12
  selector: { app: web }
  ports:
    - { name: http, port: 80, targetPort: http, nodePort: 30081 }
---
apiVersion: v1
kind: Service
metadata: { namespace: svc, name: balanced }
spec:
  type: LoadBalancer
  clusterIP: 10.96.7.15
  externalTrafficPolicy: Local
  healthCheckNodePort: 32100
  selector: { app: web }
  ports:
    - { name: http, port: 80, targetPort: http, nodePort: 30082 }
---
apiVersion: v1
kind: Service
metadata: { namespace: svc, name: empty }
spec:
  clusterIP: 10.96.7.13
  selector: { app: nobody }
  ports:
    - { port: 80 }
---
apiVersion: v1
kind: Service
metadata: { namespace: svc, name: self }
spec:
  clusterIP: 10.96.7.14
  selector: { app: client }
  ports:
    - { port: 7000, targetPort: echo }
`;

/** A policy isolating the web pod's ingress, allowing the client on one port. */
const allowOnly = (port: number) => `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { namespace: svc, name: web-ingress }
spec:
  podSelector: { matchLabels: { app: web } }
  ingress:
    - from: [{ podSelector: { matchLabels: { app: client } } }]
      ports: [{ port: ${port} }]
`;

const EXTERNAL = '192.168.220.200';

/** One UDP datagram from inside a namespace, and the answer (or `timeout`). */
const udpAsk = (to: string, port: number, text: string) =>
  `const s=require('node:dgram').createSocket('udp4');` +
  `s.on('message',(m)=>{console.log(String(m));process.exit(0)});` +
  `s.send(${JSON.stringify(text)},${port},${JSON.stringify(to)});` +
  `setTimeout(()=>{console.log('timeout');process.exit(0)},2000);`;

test('Services in the lab: ClusterIP, node ports, refusals, hairpin, traffic policy, NetworkPolicy, restart', async (t) => {
  const lab = TestLab.create(t);
  const file = join(lab.root, 'services.yaml');
  writeFileSync(file, CLUSTER);
  await lab.lab('up', '--nodes', '2', '-f', file);
  const exec = async (where: string[], ...cmd: string[]) => {
    const r = await lab.weft('lab', 'exec', '--name', lab.name, ...where, '--', ...cmd);
    return { code: r.code, out: r.stdout.trim(), err: r.stderr };
  };
  const curl = (where: string[], url: string, seconds = 3) =>
    exec(where, 'curl', '-s', '-m', String(seconds), url);
  const client = ['svc/client'];

  await t.test('a pod reaches a ClusterIP on TCP and UDP; the backend sees the pod', async () => {
    assert.deepEqual(await curl(client, 'http://10.96.7.10/hostname'), {
      code: 0,
      out: 'web-1',
      err: '',
    });
    const ip = await curl(client, 'http://10.96.7.10/clientip');
    assert.match(ip.out, /^10\.244\.2\.\d+:\d+$/, 'the client pod itself, not masqueraded');
    const udp = await exec(client, process.execPath, '-e', udpAsk('10.96.7.10', 53, 'hostname'));
    assert.equal(udp.out, 'web-1');
    const udpIp = await exec(client, process.execPath, '-e', udpAsk('10.96.7.10', 53, 'clientip'));
    assert.match(udpIp.out, /^10\.244\.2\.\d+:\d+$/);
  });

  await t.test('the external host reaches node ports on node addresses', async () => {
    // Cluster policy: from either node, masqueraded (the backend sees a node, not the host).
    for (const node of ['192.168.220.11', '192.168.220.12']) {
      const r = await curl(['--external'], `http://${node}:30081/clientip`);
      assert.equal(r.code, 0, `${node}: ${r.err}`);
      assert.doesNotMatch(r.out, new RegExp(`^${EXTERNAL}:`));
    }
    // Local policy: the node with the endpoint keeps the client's address; the other drops.
    const local = await curl(['--external'], 'http://192.168.220.11:30080/clientip');
    assert.match(local.out, new RegExp(`^${EXTERNAL.replace(/\./g, '\\.')}:\\d+$`));
    const elsewhere = await curl(['--external'], 'http://192.168.220.12:30080/clientip', 1);
    assert.equal(elsewhere.code, 28, 'dropped: a timeout');
  });

  await t.test(
    'status, metrics and health checks: what the proxy holds, and how it is',
    async () => {
      const status = JSON.parse(
        (await lab.weft('status', '--lab', lab.name, '-o', 'json')).stdout,
      ) as {
        agents: {
          node: string;
          status: { services?: { enabled: boolean; counts?: { ports: number } } };
        }[];
      };
      for (const a of status.agents) {
        assert.equal(a.status.services?.enabled, true, a.node);
        // web (2 ports), edge, wide, balanced, empty and self: 7 Service ports.
        assert.equal(a.status.services?.counts?.ports, 7, a.node);
      }
      const metrics = await exec(
        ['--node', 'node-1'],
        'curl',
        '-s',
        `http://192.168.220.11:${LAB_OBSERVE_PORT}${AgentRoutes.metrics.path}`,
      );
      assert.match(metrics.out, /^weft_services_sync_duration_seconds_count\{kind="full"\} [1-9]/m);
      assert.match(
        metrics.out,
        /^weft_services_no_local_endpoints\{traffic_policy="external"\} 0$/m,
      );
      // The Local LoadBalancer's healthCheckNodePort, as a cloud load balancer probes it: 200 where
      // its endpoint is, 503 on the other node.
      const code = async (node: string) =>
        (
          await exec(
            ['--external'],
            'curl',
            '-s',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            `http://${node}:32100/`,
          )
        ).out;
      assert.equal(await code('192.168.220.11'), '200');
      assert.equal(await code('192.168.220.12'), '503');
    },
  );

  await t.test(
    'no endpoints, or a port the ClusterIP does not serve: refused at once',
    async () => {
      for (const url of ['http://10.96.7.13/', 'http://10.96.7.10:81/']) {
        const t0 = Date.now();
        const r = await curl(client, url, 5);
        assert.equal(r.code, 7, `${url}: connection refused, exit ${r.code}`);
        assert.ok(Date.now() - t0 < 3000, `${url}: refused in ${Date.now() - t0} ms`);
      }
      // An address of the service range that no Service has: dropped, a timeout.
      assert.equal((await curl(client, 'http://10.96.7.99/', 1)).code, 28);
    },
  );

  await t.test('hairpin: a pod reaches itself through its Service', async () => {
    const r = await exec(client, process.execPath, '-e', tcpEcho('10.96.7.14', 7000));
    assert.equal(r.out, 'echo: hairpin');
  });

  await t.test(
    'NetworkPolicy through a Service: the pod port decides, the Service port allows nothing',
    async () => {
      const policy = join(lab.root, 'policy.yaml');
      writeFileSync(policy, allowOnly(80));
      await lab.lab('apply', '-f', policy);
      assert.equal((await curl(client, 'http://10.96.7.10/hostname', 1)).code, 28);
      writeFileSync(policy, allowOnly(8080));
      await lab.lab('apply', '-f', policy);
      assert.equal((await curl(client, 'http://10.96.7.10/hostname')).out, 'web-1');
    },
  );

  await t.test(
    'an agent restart leaves the same rules and keeps a connection through a Service',
    async () => {
      const rules = async () =>
        normalize(
          (await exec(['--node', 'node-2'], 'nft', 'list', 'table', 'inet', 'weft-services')).out,
        );
      const before = await rules();
      assert.match(before, /dnat ip to 10\.244\.1\.\d+:8080/);
      const go = join(lab.root, 'go');
      // The client's connection to its own echo through a ClusterIP (DNAT and masquerade, both
      // on node-2), held open while node-2's agent restarts: it echoes again afterwards.
      const held = exec(client, process.execPath, '-e', heldEcho('10.96.7.14', 7000, go));
      await new Promise((r) => setTimeout(r, 500));
      await lab.lab('restart', 'node-2');
      writeFileSync(go, '');
      assert.equal((await held).out, 'echo: before\necho: after');
      assert.equal(await rules(), before);
    },
  );
});

/** A TCP connection: one line sent, its echo printed. */
function tcpEcho(to: string, port: number): string {
  return (
    `const c=require('node:net').connect(${port},${JSON.stringify(to)},()=>c.write('hairpin\\n'));` +
    `c.on('data',(d)=>{console.log('echo: '+String(d).trim());c.destroy()});` +
    `c.on('error',(e)=>{console.log('error: '+e.message)});setTimeout(()=>process.exit(0),3000);`
  );
}

/** One connection: a line echoed before `go` exists, another after. */
function heldEcho(to: string, port: number, go: string): string {
  return (
    `const fs=require('node:fs');const c=require('node:net').connect(${port},${JSON.stringify(to)},()=>c.write('before\\n'));` +
    `let n=0;c.on('data',(d)=>{console.log('echo: '+String(d).trim());if(++n===2){c.destroy();return}` +
    `const t=setInterval(()=>{if(fs.existsSync(${JSON.stringify(go)})){clearInterval(t);c.write('after\\n')}},50)});` +
    `c.on('error',(e)=>{console.log('error: '+e.message);process.exit(0)});setTimeout(()=>process.exit(0),20000);`
  );
}
