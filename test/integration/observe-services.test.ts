// Flows through a Service, with real packets and the real kernel: a lab of
// two nodes, Services in its manifests, and the translation a Service proxy
// makes written by hand as nftables NAT rules in the nodes' namespaces
// (test/support/services-lab.ts). The pods' agnhost answers say which
// endpoint was reached and which source it saw; `weft observe` must say the
// same, on both nodes, naming the Service.
import test from 'node:test';
import assert from 'node:assert/strict';
import type { Flow, FlowService } from '../../src/core/flows/types.js';
import { TestLab } from '../support/lab.js';
import { NETEXEC_CLIENT, localPort, type NetexecAnswers } from '../support/netexec.js';
import { upServicesLab } from '../support/services-lab.js';

async function ask(lab: TestLab, from: string, host: string, port: number) {
  const out = await lab.lab(
    'exec',
    from,
    '--',
    process.execPath,
    '-e',
    NETEXEC_CLIENT,
    host,
    `${port}`,
  );
  return JSON.parse(out) as NetexecAnswers;
}

async function observe(lab: TestLab, ...args: string[]): Promise<string> {
  const r = await lab.weft('observe', '--lab', lab.name, ...args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function flowsOf(lab: TestLab, ...args: string[]): Promise<Flow[]> {
  const out = await observe(lab, '-o', 'json', ...args);
  return out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Flow);
}

/**
 * The starts of the connection from `port` (its client's own port), once
 * `count` are recorded; by node, then direction (two agents' conntrack
 * readers stamp their own times: which one comes first is not given).
 */
async function startsFrom(lab: TestLab, port: number, count: number, ...filters: string[]) {
  for (let i = 0; i < 50; i++) {
    const flows = (await flowsOf(lab, '--event', 'start', ...filters)).filter(
      (f) => f.source.port === port,
    );
    if (flows.length >= count)
      return flows.sort(
        (a, b) => a.node.localeCompare(b.node) || a.direction.localeCompare(b.direction),
      );
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the starts from port ${port} did not come`);
}

const clusterIp = (name: string, portName: string, ip: string): FlowService => ({
  namespace: 'svc',
  name,
  portName,
  frontend: { kind: 'ClusterIP', ip, port: 80 },
});

const brief = (f: Flow) => ({
  node: f.node,
  direction: f.direction,
  protocol: f.protocol,
  source: `${f.source.ip}:${f.source.port}`,
  destination: f.destination.kind === 'pod' ? `${f.destination.pod}:${f.destination.port}` : '?',
  service: f.service,
  masqueraded: f.masqueraded,
});

test('observe through Services: both nodes name the Service and the endpoint the pod answered from', async (t) => {
  const lab = TestLab.create(t);
  const { node1, ip } = await upServicesLab(lab);
  const [client, api2] = [ip('client'), ip('api-2')];

  // A ClusterIP whose endpoint is on the other node: TCP and UDP.
  const remote = await ask(lab, 'svc/client', '10.96.0.50', 80);
  assert.deepEqual(
    [remote.hostname, remote.clientip, remote.udpHostname].map((a) =>
      'body' in a ? a.body : 'answer' in a ? a.answer : a.error,
    ),
    ['api-2', `${client}:${localPort(remote.clientip)}`, 'api-2'],
  );
  const tcp = await startsFrom(lab, localPort(remote.clientip), 2, '--service', 'svc/remote');
  const want = {
    protocol: 'TCP',
    source: `${client}:${localPort(remote.clientip)}`,
    destination: 'api-2:8080',
    service: clusterIp('remote', 'http', '10.96.0.50'),
    masqueraded: undefined,
  };
  assert.deepEqual(tcp.map(brief), [
    { node: 'node-1', direction: 'egress', ...want },
    { node: 'node-2', direction: 'ingress', ...want },
  ]);
  const udp = await startsFrom(lab, localPort(remote.udpClientip), 2, '--protocol', 'udp');
  assert.deepEqual(
    udp.map((f) => [f.node, f.direction, f.service, brief(f).destination]),
    [
      ['node-1', 'egress', clusterIp('remote', 'udp', '10.96.0.50'), 'api-2:8080'],
      ['node-2', 'ingress', clusterIp('remote', 'udp', '10.96.0.50'), 'api-2:8080'],
    ],
  );

  // A ClusterIP whose endpoint is on the client's node: both directions there, the
  // ingress decided by the policy on the pod's port 8080 (the Service's is 80).
  const local = await ask(lab, 'svc/client', '10.96.0.51', 80);
  assert.equal('body' in local.hostname && local.hostname.body, 'api-1');
  const both = await startsFrom(lab, localPort(local.hostname), 2, '--service', 'svc/local');
  assert.deepEqual(
    both.map((f) => [f.node, f.direction, brief(f).destination, f.service, f.decidedBy]),
    [
      [
        'node-1',
        'egress',
        'api-1:8080',
        clusterIp('local', 'http', '10.96.0.51'),
        { kind: 'default' },
      ],
      [
        'node-1',
        'ingress',
        'api-1:8080',
        clusterIp('local', 'http', '10.96.0.51'),
        {
          kind: 'rule',
          rule: {
            policy: { kind: 'NetworkPolicy', namespace: 'svc', name: 'one-from-client' },
            direction: 'ingress',
            index: 0,
          },
        },
      ],
    ],
  );

  // node-1's node port, masqueraded: the address the flows say is the one api-2 saw.
  const viaNodePort = await ask(lab, 'svc/client', node1, 30080);
  const seen = 'body' in viaNodePort.clientip ? viaNodePort.clientip.body : 'none';
  const [seenIp, seenPort] = [seen.slice(0, seen.lastIndexOf(':')), Number(seen.split(':').pop())];
  assert.notEqual(seenIp, client, 'masqueraded');
  const masq = await startsFrom(lab, localPort(viaNodePort.clientip), 2, '--service', 'svc/remote');
  const nodePort: FlowService = {
    ...clusterIp('remote', 'http', node1),
    frontend: { kind: 'NodePort', ip: node1, port: 30080 },
  };
  const wantMasq = { ...want, source: `${client}:${localPort(viaNodePort.clientip)}` };
  assert.deepEqual(masq.map(brief), [
    {
      node: 'node-1',
      direction: 'egress',
      ...wantMasq,
      service: nodePort,
      masqueraded: { ip: seenIp, port: seenPort },
    },
    // node-2 saw the masqueraded address; joined, its flow names the client and that address.
    {
      node: 'node-2',
      direction: 'ingress',
      ...wantMasq,
      service: nodePort,
      masqueraded: { ip: seenIp, port: seenPort },
    },
  ]);

  // Hairpin: api-2 reaches itself through its Service; node-2 records both directions.
  const hairpin = await ask(lab, 'svc/api-2', '10.96.0.50', 80);
  assert.equal('body' in hairpin.hostname && hairpin.hostname.body, 'api-2');
  const back = 'body' in hairpin.clientip ? hairpin.clientip.body : 'none';
  const self = await startsFrom(lab, localPort(hairpin.clientip), 2, '--service', 'svc/remote');
  assert.deepEqual(
    self.map((f) => [f.node, f.direction, brief(f).source, brief(f).destination, f.masqueraded]),
    ['egress', 'ingress'].map((d) => [
      'node-2',
      d,
      `${api2}:${localPort(hairpin.clientip)}`,
      'api-2:8080',
      { ip: back.slice(0, back.lastIndexOf(':')), port: Number(back.split(':').pop()) },
    ]),
  );

  // The table says it on one line; a direct connection to a pod names no Service.
  const lines = (await observe(lab, '--service', 'svc/remote', '--event', 'start')).split('\n');
  const line = lines.find((l) => l.includes(`${client}`) || l.includes('svc/client'));
  t.diagnostic(`sample: ${line ?? ''}`);
  assert.match(
    line ?? '',
    / svc\/client:\d+ -> svc\/api-2:8080 via Service svc\/remote:http \(10\.96\.0\.50:80\) TCP /,
  );
  await ask(lab, 'svc/client', ip('api-1'), 8080);
  const direct = await flowsOf(lab, '--from-pod', 'svc/client', '--to-ip', ip('api-1'));
  assert.ok(direct.some((f) => f.destination.port === 8080 && f.service === undefined));
});
