// The real agent with `--source kubernetes`, against the fake API server in
// its node's namespace: pod CIDRs from Node.spec.podCIDRs (waiting, and
// saying why, until the Node has them), its Node annotations, policy from
// the API enforced on real traffic, and a SIGTERM that leaves the dataplane.
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import { repoRoot } from '../../src/testing/paths.js';
import { Sandbox, agentGet, stopChild } from '../support/sandbox.js';
import { cni } from '../support/cni.js';
import { echoServer, probe } from '../support/traffic.js';
import { RemoteApiServer } from '../support/remote-apiserver.js';
import { AgentRoutes } from '../../src/api/routes.js';

const NODE_IP = '192.168.66.1';

async function until<T>(
  what: string,
  get: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    try {
      last = await get();
      if (ok(last)) return last;
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within ${ms} ms; last ${JSON.stringify(last)}`);
}

/** The probe's connection timed out (exit 2): dropped, not refused. */
const timedOut = (r: string): boolean => /\(exit 2\)/.test(r);

/** The MAC the kernel gave a link: what a peer's neighbor entry must say. */
async function deviceMac(ns: string, dev: string): Promise<string> {
  const links = await until(
    `link ${dev}`,
    () => run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', dev]),
    (out) => out.includes('address'),
  );
  return (JSON.parse(links) as { address: string }[])[0]?.address ?? '';
}

function pod(name: string, app: string, ip?: string): Record<string, unknown> {
  return {
    metadata: { namespace: 'default', name, labels: { app } },
    spec: {
      nodeName: 'n1',
      containers: [{ name: 'c', image: 'i', ports: [{ name: 'echo', containerPort: 7000 }] }],
    },
    status: ip ? { phase: 'Running', podIP: ip, podIPs: [{ ip }] } : { phase: 'Pending' },
  };
}

function denyIngress(): Record<string, unknown> {
  return {
    metadata: { namespace: 'default', name: 'deny-b' },
    spec: { podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Ingress'] },
  };
}

test('agent --source kubernetes: Node pod CIDRs, annotations, API policy enforced, SIGTERM keeps rules', async (t) => {
  const sb = Sandbox.create(t);
  const ns = await sb.netns('node');
  await run('ip', ['-n', ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
  await run('ip', ['-n', ns, 'addr', 'add', `${NODE_IP}/24`, 'dev', 'u0']);
  await run('ip', ['-n', ns, 'link', 'set', 'u0', 'up']);
  const api = await RemoteApiServer.start(sb, ns);
  await api.create('namespaces', { metadata: { name: 'default' } });
  const nodeObj = {
    metadata: { name: 'n1', annotations: { 'example.com/keep': 'yes' } },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address: NODE_IP }] },
  };
  await api.create('nodes', nodeObj);
  await api.create('pods', pod('a', 'a'));
  await api.create('pods', pod('b', 'b'));

  const dir = sb.dir();
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: t',
      'contexts: [{name: t, context: {cluster: c, user: u}}]',
      `clusters: [{name: c, cluster: {server: "${api.url}"}}]`,
      'users: [{name: u, user: {token: t0k3n}}]',
    ].join('\n'),
  );
  const socket = join(dir, 'cni.sock');
  const output: string[] = [];
  const agent = sb.spawnIn(
    ns,
    process.execPath,
    [
      join(repoRoot(), 'bin/weft.js'),
      'agent',
      '--node-name=n1',
      '--source=kubernetes',
      `--kubeconfig=${kubeconfig}`,
      '--routing=vxlan',
      `--socket=${socket}`,
      `--state-dir=${join(dir, 'state')}`,
      // Every address: the agent publishes its node's, for its peers' UI.
      '--observe=0.0.0.0:9963',
    ],
    (l) => output.push(l),
  );

  // The Node has no spec.podCIDRs yet: the agent waits and says why.
  await until(
    'the agent waiting for podCIDRs',
    () => Promise.resolve(output.join('')),
    (o) =>
      /waiting: Node n1 has no spec.podCIDRs yet \(fix: run kube-controller-manager with --allocate-node-cidrs/.test(
        o,
      ),
  );
  await assert.rejects(
    agentGet(socket, AgentRoutes.status),
    'no CNI socket before the pod CIDRs are known',
  );

  await api.update('nodes', { ...nodeObj, spec: { podCIDRs: ['10.66.0.0/24'] } });
  const status = await until(
    'ready',
    () => agentGet(socket, AgentRoutes.status),
    (s) => s.ready,
  );
  assert.match(status.message ?? '', /pods from 10\.66\.0\.0\/24/);

  // Its Node annotations: weft's keys, and the annotation that was there stays.
  const node = await until(
    'node annotations',
    () => api.get('nodes', 'n1'),
    (n) =>
      Boolean(
        (n?.['metadata'] as { annotations?: Record<string, string> }).annotations?.[
          'weft.dev/pod-cidrs'
        ],
      ),
  );
  assert.deepEqual((node?.['metadata'] as { annotations: unknown }).annotations, {
    'example.com/keep': 'yes',
    'weft.dev/routing': 'vxlan',
    'weft.dev/pod-cidrs': '10.66.0.0/24',
    'weft.dev/agent-version': '0.1.0',
    'weft.dev/underlay-address': NODE_IP,
    'weft.dev/vtep-mac': await deviceMac(ns, 'weft-vxlan'),
    'weft.dev/vtep-addresses': '10.66.0.0',
    'weft.dev/observe-url': `http://${NODE_IP}:9963`,
  });

  // Two pods from the Node's CIDR; the kubelet's part (status.podIPs) done by hand.
  const ips: Record<string, string> = {};
  for (const name of ['a', 'b']) {
    const pns = await sb.netns(name);
    const out = await cni(socket, {
      command: 'ADD',
      containerId: `c-${name}`,
      netns: sb.nsPath(pns),
      ifname: 'eth0',
      args: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name};K8S_POD_UID=u-${name}`,
    });
    assert.equal(out.code, 0, out.stdout);
    const ip = ((out.json?.['ips'] as { address: string }[])[0]?.address ?? '').split('/')[0] ?? '';
    assert.match(ip, /^10\.66\.0\.\d+$/);
    ips[name] = ip;
    await api.update('pods', pod(name, name, ip));
    if (name === 'b') await echoServer(sb, pns, ip, 7000);
  }
  const [nsA] = [`${sb.prefix}-a`];
  assert.equal(await probe(sb, nsA, 'tcp', ips['b'] ?? '', 7000), 'ping');

  // A NetworkPolicy written to the API isolates b; deleting it opens b again.
  await api.create('networkpolicies', denyIngress());
  await until('denied', () => probe(sb, nsA, 'tcp', ips['b'] ?? '', 7000), timedOut);
  const rules = await run('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'weft']);
  assert.match(rules, /NetworkPolicy default\/deny-b/);
  await api.remove('networkpolicies', 'default/deny-b');
  await until(
    'allowed again',
    () => probe(sb, nsA, 'tcp', ips['b'] ?? '', 7000),
    (r) => r === 'ping',
  );

  const source = await agentGet(socket, AgentRoutes.source);
  assert.equal(source.source?.kind, 'kubernetes');
  assert.equal(source.source.synced, true);
  assert.equal(source.nodeAnnotations?.published, true);

  // SIGTERM: a clean exit that leaves the table, the pods' interfaces and addresses.
  await api.create('networkpolicies', denyIngress());
  await until('denied', () => probe(sb, nsA, 'tcp', ips['b'] ?? '', 7000), timedOut);
  const exited = new Promise<number | null>((resolve) =>
    agent.once('exit', (code) => resolve(code)),
  );
  await stopChild(agent, 'SIGTERM');
  assert.equal(await exited, 0, output.join(''));
  const after = await run('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'weft']);
  assert.match(after, /NetworkPolicy default\/deny-b/);
  assert.ok(
    timedOut(await probe(sb, nsA, 'tcp', ips['b'] ?? '', 7000)),
    'still enforced with no agent',
  );
});
