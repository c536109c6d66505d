// The lab end to end, through the weft CLI as a user runs it: up, probe,
// apply, delete, an agent restart under traffic, and down leaving nothing;
// exec in pods, nodes and the external host, which reaches pods only when
// routed to them, and the pods' agnhost hostname and clientip.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import { repoRoot } from '../../src/testing/paths.js';
import { TestLab, everyPair } from '../support/lab.js';
import { NETEXEC_CLIENT, localPort, type NetexecAnswers } from '../support/netexec.js';

const demo = join(repoRoot(), 'examples/demo.yaml');
const services = join(repoRoot(), 'examples/services.yaml');

interface State {
  nodes: { name: string; agentPid: number; netns: string }[];
  pods: Record<string, { node: string; netns: string; ips: string[] }>;
}

test('up with the demo: every pod reaches every pod on every declared port, same node and across nodes', async (t) => {
  const lab = TestLab.create(t);
  await lab.lab('up', '--nodes', '3', '-f', demo);
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as State;
  const nodesUsed = new Set(Object.values(state.pods).map((p) => p.node));
  assert.ok(nodesUsed.size >= 2, 'pods are spread across nodes');
  const matrices = await lab.probe();
  assert.equal(matrices.length, 5, 'one probe per declared port: 80, 5432, 7000/UDP, 8080, 9090');
  for (const m of matrices) {
    assert.equal(Object.keys(m).length, 4);
    for (const [from, to, ok] of everyPair(m)) assert.equal(ok, true, `${from} -> ${to}`);
  }
  // The readable form and status agree.
  const table = await lab.lab('probe', '--port', '80/TCP');
  assert.match(table, /80\/TCP: 16 of 16 pairs allowed/);
  const status = await lab.lab('status');
  assert.match(status, /node-3\s+192\.168\.220\.13\s+10\.244\.3\.0\/24\s+ready/);
  assert.match(status, /shop\/db\s+node-\d\s+10\.244\.\d\.\d+\s+running/);
  // exec runs inside the pod's namespace, or a node's.
  const addr = await lab.lab('exec', 'shop/db', '--', 'ip', '-o', '-4', 'addr', 'show', 'eth0');
  assert.ok(addr.includes(state.pods['shop/db']?.ips[0] ?? 'missing'), addr);
  const node = await lab.lab('exec', '--node', 'node-3', '--', 'ip', '-o', '-4', 'addr', 'show');
  assert.match(node, /eth0\s+inet 192\.168\.220\.13\/24 /);
  const typo = await lab.weft('lab', 'exec', '--name', lab.name, '--node', 'node3', '--', 'true');
  assert.equal(typo.code, 1);
  assert.equal(
    typo.stderr,
    `weft: node node3: is not a node of lab ${lab.name} (fix: name one of: node-1, node-2, node-3) [WEFT_NOT_FOUND]\n`,
  );

  // status -o json: the underlay to watch, and the external host with its default route.
  const json = JSON.parse(await lab.lab('status', '-o', 'json')) as Record<string, unknown>;
  assert.deepEqual(json['underlay'], {
    netns: `wl-${lab.name}-net`,
    bridge: 'br0',
    subnet: '192.168.220.0/24',
  });
  assert.deepEqual(json['external'], {
    netns: `wl-${lab.name}-external`,
    interface: 'eth0',
    address: '192.168.220.200',
    routes: [{ to: '192.168.230.0/24', via: '192.168.220.11', node: 'node-1' }],
  });
  assert.deepEqual(Object.keys(json), [
    'name',
    'routing',
    'underlay',
    'external',
    'nodes',
    'pods',
    'services',
  ]);
  assert.deepEqual(json['services'], []);
});

test('Services in the lab: status lists their ClusterIPs, node ports and endpoints; probe --to-service names the Service and port', async (t) => {
  const lab = TestLab.create(t);
  await lab.lab('up', '--nodes', '2', '-f', demo, '-f', services);
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as State;
  const at = (pod: string) => ({
    ip: state.pods[pod]?.ips[0] ?? 'missing',
    node: state.pods[pod]?.node ?? 'missing',
  });
  interface Listed {
    namespace: string;
    name: string;
    type: string;
    clusterIPs: string[];
    ports: {
      name: string;
      port: number;
      nodePort?: number;
      endpoints: Record<string, unknown>[];
    }[];
    nodes: { node: string; ports: { nodePorts: string[] }[] }[];
  }
  const json = JSON.parse(await lab.lab('status', '-o', 'json')) as { services: Listed[] };
  // Allocated in namespace/name order from 10.96.0.2 (10.96.0.1 is kept for the
  // kubernetes Service), node ports from 30000: examples/services.yaml.
  assert.deepEqual(
    json.services.map((s) => [
      `${s.namespace}/${s.name}`,
      s.type,
      s.clusterIPs,
      s.ports.map((p) => `${p.name} ${p.port}${p.nodePort ? ` node ${p.nodePort}` : ''}`),
    ]),
    [
      ['shop/api', 'ClusterIP', ['10.96.0.2'], ['http 80', 'metrics 9090']],
      ['shop/db', 'ClusterIP', ['10.96.0.3'], ['sql 5432']],
      ['shop/frontend', 'NodePort', ['10.96.0.4'], ['http 80 node 30000']],
    ],
  );
  const ready = (pod: string, port: number) => ({
    ip: at(pod).ip,
    port,
    pod,
    node: at(pod).node,
    ready: true,
    serving: true,
    terminating: false,
  });
  assert.deepEqual(json.services[2]?.ports[0]?.endpoints, [ready('shop/frontend', 80)]);
  assert.deepEqual(json.services[0]?.ports[0]?.endpoints, [ready('shop/api', 8080)]);
  assert.deepEqual(
    json.services[2]?.nodes.map((n) => [n.node, n.ports[0]?.nodePorts]),
    [
      ['node-1', ['192.168.220.11:30000']],
      ['node-2', ['192.168.220.12:30000']],
    ],
  );
  assert.match(
    await lab.lab('status'),
    /\nshop\/frontend +NodePort +10\.96\.0\.4 +- +http 80->http\/TCP node 30000 +1 ready +-\n/,
  );

  // Real connections to the ClusterIP ports, from every pod; the outcome is
  // what the nodes' rules make of them, named per Service port.
  const probed = JSON.parse(await lab.lab('probe', '--to-service', 'shop/api', '-o', 'json')) as {
    service: string;
    clusterIPs: string[];
    probes: {
      from: string;
      port: string;
      servicePort: number;
      clusterIP: string;
      outcome: string;
    }[];
  };
  assert.equal(probed.service, 'shop/api');
  assert.deepEqual(probed.clusterIPs, ['10.96.0.2']);
  assert.deepEqual(
    probed.probes.map((p) => `${p.from} ${p.port} ${p.clusterIP}:${p.servicePort}`),
    ['shop/api', 'shop/db', 'shop/frontend', 'tools/loadgen'].flatMap((from) => [
      `${from} http 10.96.0.2:80`,
      `${from} metrics 10.96.0.2:9090`,
    ]),
  );
  for (const p of probed.probes)
    assert.ok(['connected', 'refused', 'timeout', 'error'].includes(p.outcome), p.outcome);
  const table = await lab.lab('probe', '--to-service', 'shop/db', '--from', 'tools/loadgen');
  assert.match(
    table,
    /^Service shop\/db, ClusterIP 10\.96\.0\.3: real connections from 1 pod \(timeout 1000 ms\)\nFROM +SERVICE PORT +RESULT +TIME\ntools\/loadgen +sql 10\.96\.0\.3:5432\/TCP +/,
  );
  const typo = await lab.weft('lab', 'probe', '--name', lab.name, '--to-service', 'shop/dbb');
  assert.deepEqual(
    [typo.code, typo.stderr],
    [
      2,
      `weft: --to-service shop/dbb: no such Service in lab ${lab.name}\n  fix: did you mean shop/db?\n`,
    ],
  );
});

test('the external host: its own address on the underlay, its range routed through the node chosen, pods reached only when routed', async (t) => {
  const lab = TestLab.create(t);
  const pods = join(lab.root, 'web.yaml');
  writeFileSync(
    pods,
    `apiVersion: v1
kind: Pod
metadata: {namespace: default, name: web}
spec:
  nodeName: node-2
  containers: [{name: c, image: i, ports: [{containerPort: 8080}]}]
`,
  );
  await lab.lab(
    'up',
    ...['--nodes', '2', '-f', pods],
    ...['--external-cidr', '192.168.240.0/24', '--external-via', 'node-2'],
  );
  const ext = (...cmd: string[]) => lab.lab('exec', '--external', '--', ...cmd);
  assert.match(await ext('ip', '-o', '-4', 'addr', 'show'), /eth0\s+inet 192\.168\.220\.200\/24 /);
  assert.deepEqual(
    (await ext('ip', '-4', 'route', 'show'))
      .trim()
      .split('\n')
      .map((l) => l.trim()),
    [
      '192.168.220.0/24 dev eth0 proto kernel scope link src 192.168.220.200',
      '192.168.240.0/24 via 192.168.220.12 dev eth0',
    ],
  );
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as State;
  const web = state.pods['default/web']?.ips[0] ?? 'missing';
  const ask = async () =>
    JSON.parse(await ext(process.execPath, '-e', NETEXEC_CLIENT, web, '8080')) as NetexecAnswers;

  // No route to pods: nothing gets there.
  assert.deepEqual(await ask(), {
    hostname: { error: 'ENETUNREACH' },
    clientip: { error: 'ENETUNREACH' },
    udpHostname: { error: 'ENETUNREACH' },
    udpClientip: { error: 'ENETUNREACH' },
  });
  // Routed through the pod's node, as a router would: the pod answers, and
  // sees the external host's own address (nothing is masqueraded).
  await ext('ip', 'route', 'add', '10.244.2.0/24', 'via', '192.168.220.12');
  const out = await ask();
  const [http1, http2, udp1, udp2] = [
    localPort(out.hostname),
    localPort(out.clientip),
    localPort(out.udpHostname),
    localPort(out.udpClientip),
  ];
  assert.deepEqual(out, {
    hostname: { status: 200, body: 'web', localPort: http1 },
    clientip: { status: 200, body: `192.168.220.200:${http2}`, localPort: http2 },
    udpHostname: { answer: 'web', localPort: udp1 },
    udpClientip: { answer: `192.168.220.200:${udp2}`, localPort: udp2 },
  });

  // The probe between pods works as before, and down removes the external host too.
  const [m] = await lab.probe('--port', '8080/TCP');
  assert.deepEqual(m, { 'default/web': { 'default/web': true } });
  await lab.lab('down');
  const left = (await run('ip', ['netns', 'list'])).split('\n');
  assert.deepEqual(
    left.filter((l) => l.startsWith(`wl-${lab.name}-`)),
    [],
  );
});

test('apply and delete while running; an agent restart keeps established connections; down leaves nothing', async (t) => {
  const lab = TestLab.create(t);
  await lab.lab('up', '--nodes', '2', '-f', demo);
  const extra = join(lab.root, 'extra.yaml');
  writeFileSync(
    extra,
    `apiVersion: v1
kind: Pod
metadata: {namespace: tools, name: late, labels: {app: late}}
spec:
  nodeName: node-2
  containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]
`,
  );
  await lab.lab('apply', '-f', extra);
  let [m] = await lab.probe('--port', '8080/TCP');
  assert.equal(m?.['shop/frontend']?.['tools/late'], true, 'the new pod is reachable');
  assert.equal(m?.['tools/late']?.['shop/api'], true, 'and reaches others');

  // An established TCP connection across nodes survives a restart of both agents.
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as State;
  const client = state.pods['tools/late'];
  const server = state.pods['shop/api'];
  assert.ok(client && server);
  const conn = run('ip', [
    'netns',
    'exec',
    client.netns,
    process.execPath,
    '-e',
    LONG_CONNECTION,
    server.ips[0] ?? '',
    '8080',
    '3000',
  ]);
  await new Promise((r) => setTimeout(r, 500));
  for (const node of ['node-1', 'node-2']) await lab.lab('restart', node);
  const summary = await conn;
  assert.match(summary, /^ok \d+ echoes/, summary);
  [m] = await lab.probe('--port', '8080/TCP');
  assert.equal(m?.['tools/late']?.['shop/api'], true, 'new connections work after the restart');

  const removed = await lab.lab('delete', 'pod/tools/late');
  assert.match(removed, /deleted Pod\/tools\/late/);
  [m] = await lab.probe('--port', '8080/TCP');
  assert.equal(m?.['tools/late'], undefined, 'the deleted pod is gone from the probe');
  assert.equal(existsSync(lab.path('manifests', 'Pod.tools.late.yaml')), false);

  // A crash loses the state file: down still finds and removes everything.
  const netns = (await run('ip', ['netns', 'list']))
    .split('\n')
    .filter((l) => l.startsWith(`wl-${lab.name}-`));
  assert.ok(netns.length >= 6, 'underlay, 2 nodes and pods');
  writeFileSync(lab.path('state.json'), '{ half-written');
  await lab.lab('down');
  const left = (await run('ip', ['netns', 'list']))
    .split('\n')
    .filter((l) => l.startsWith(`wl-${lab.name}-`));
  assert.deepEqual(left, []);
  assert.equal(existsSync(lab.path()), false);
  for (const n of state.nodes)
    assert.throws(() => process.kill(n.agentPid, 0), 'agent processes are gone');
});

/** Sends a byte every 50 ms for DURATION ms on one TCP connection and checks each echo. */
const LONG_CONNECTION = `
const net = require('node:net');
const [host, port, duration] = process.argv.slice(1);
let sent = 0, got = 0;
const s = net.connect({ host, port: Number(port) });
s.on('data', (d) => { got += d.length; });
s.on('error', (e) => { console.log('error ' + e.code + ' after ' + got + ' echoes'); process.exit(1); });
s.on('close', () => { if (sent < 10) { console.log('closed early'); process.exit(1); } });
const timer = setInterval(() => { s.write('x'); sent++; }, 50);
setTimeout(() => {
  clearInterval(timer);
  setTimeout(() => { console.log((got === sent ? 'ok ' : 'lost ') + got + ' echoes of ' + sent); s.destroy(); process.exit(got === sent ? 0 : 1); }, 500);
}, Number(duration));
`;

/** The results the lab's runtime cached for DEL on every node, by file name. */
function cachedResults(
  lab: TestLab,
): Map<string, { version: string; result: Record<string, unknown> }> {
  const out = new Map<string, { version: string; result: Record<string, unknown> }>();
  for (const node of readdirSync(lab.path('nodes'))) {
    const dir = lab.path('nodes', node, 'cni-cache');
    for (const f of existsSync(dir) ? readdirSync(dir) : [])
      out.set(f, JSON.parse(readFileSync(join(dir, f), 'utf8')));
  }
  return out;
}

test("pods get their network as runtimes give it: from the conflist weft wrote, in each runtime's version", async (t) => {
  for (const [runtime, expected] of [
    ['1.0.0', '1.0.0'], // containerd 1.6/1.7: reads cniVersion, results up to 1.0.0
    ['1.1.0', '1.1.0'], // libcni 1.2+: the highest of cniVersions
  ] as const) {
    const lab = TestLab.create(t);
    await lab.lab('up', '--nodes', '2', '-f', demo, '--runtime-cni-version', runtime);
    const conflist = JSON.parse(
      readFileSync(lab.path('nodes', 'node-1', 'net.d', '10-weft.conflist'), 'utf8'),
    ) as Record<string, unknown>;
    assert.equal(conflist['cniVersion'], '1.0.0');
    assert.deepEqual(conflist['cniVersions'], ['0.4.0', '1.0.0', '1.1.0']);
    const results = cachedResults(lab);
    assert.equal(results.size, 4, 'one cached ADD result per pod');
    for (const [file, c] of results) {
      assert.equal(c.version, expected, file);
      assert.equal(c.result['cniVersion'], expected, file);
      const ifs = c.result['interfaces'] as Record<string, unknown>[];
      assert.equal('mtu' in (ifs[0] ?? {}), expected === '1.1.0', `${file}: mtu only in 1.1.0`);
    }
    const [m] = await lab.probe('--port', '80/TCP');
    for (const [from, to, ok] of everyPair(m ?? {})) assert.equal(ok, true, `${from} -> ${to}`);
    await lab.lab('delete', 'pod/shop/db');
    assert.equal(cachedResults(lab).size, 3, 'DEL removed the cached result');
    const status = JSON.parse(await lab.lab('status', '-o', 'json')) as { pods: unknown[] };
    assert.equal(status.pods.length, 3);
  }
});
