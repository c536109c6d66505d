// weft-cni through a real agent in a node namespace, into real pod namespaces:
// the runtime's view (env + stdin, stdout + exit code) and the kernel's.
import test from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/host/exec.js';
import { Sandbox, agentGet, stopChild, type AgentProcess } from '../support/sandbox.js';
import { cni, netconf } from '../support/cni.js';
import { echoServer, probe } from '../support/traffic.js';
import { AgentRoutes } from '../../src/api/routes.js';

const NODE_IP = '192.168.66.1';

async function node(sb: Sandbox, cidrs: string[]): Promise<{ ns: string; agent: AgentProcess }> {
  const ns = await sb.netns('node');
  await run('ip', ['-n', ns, 'addr', 'add', `${NODE_IP}/32`, 'dev', 'lo']);
  const agent = await sb.agent(ns, [
    '--node-name',
    'n1',
    ...cidrs.flatMap((c) => ['--pod-cidr', c]),
  ]);
  return { ns, agent };
}

function ipsOf(json: Record<string, unknown> | undefined): string[] {
  return ((json?.['ips'] as { address: string }[] | undefined) ?? []).map((i) => i.address);
}

async function add(sb: Sandbox, agent: AgentProcess, role: string, id = role) {
  const ns = await sb.netns(role);
  const out = await cni(agent.socket, {
    command: 'ADD',
    containerId: id,
    netns: sb.nsPath(ns),
    ifname: 'eth0',
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${role};K8S_POD_UID=u-${role}`,
  });
  assert.equal(out.code, 0, out.stdout);
  return { ns, id, out, ips: ipsOf(out.json) };
}

test('ADD, CHECK, DEL, repeated DEL, VERSION and STATUS', async (t) => {
  const sb = Sandbox.create(t);
  const { agent } = await node(sb, ['10.66.0.0/24']);
  const pod = await add(sb, agent, 'a');
  const r = pod.out.json as {
    interfaces: { name: string; sandbox?: string; mac: string }[];
    ips: { address: string; interface: number; gateway: string }[];
    cniVersion: string;
  };
  assert.equal(r.cniVersion, '1.1.0');
  assert.equal(r.ips.length, 1);
  assert.match(r.ips[0]?.address ?? '', /^10\.66\.0\.\d+\/32$/);
  assert.equal(r.ips[0]?.gateway, '169.254.1.1');
  const inPod = r.interfaces[r.ips[0]?.interface ?? -1];
  assert.equal(inPod?.name, 'eth0');
  assert.equal(inPod?.sandbox, sb.nsPath(pod.ns), 'ips[].interface points at the in-pod interface');

  // The kernel agrees: the address and default route inside the pod, the host route outside.
  const addr = await run('ip', ['-n', pod.ns, '-j', 'addr', 'show', 'dev', 'eth0']);
  assert.ok(addr.includes(`"local":"${r.ips[0]?.address.split('/')[0]}"`), addr);
  assert.match(
    await run('ip', ['-n', pod.ns, 'route', 'show', 'default']),
    /default via 169\.254\.1\.1 dev eth0/,
  );
  assert.equal(
    inPod?.mac,
    JSON.parse(await run('ip', ['-n', pod.ns, '-j', 'link', 'show', 'eth0']))[0].address,
  );

  const check = await cni(agent.socket, {
    command: 'CHECK',
    containerId: 'a',
    netns: sb.nsPath(pod.ns),
    ifname: 'eth0',
    config: netconf({ prevResult: r }),
  });
  assert.equal(check.code, 0, check.stdout);
  assert.equal(check.stdout, '');

  // CHECK notices damage.
  await run('ip', ['-n', pod.ns, 'route', 'del', 'default']);
  const broken = await cni(agent.socket, {
    command: 'CHECK',
    containerId: 'a',
    netns: sb.nsPath(pod.ns),
    ifname: 'eth0',
    config: netconf({ prevResult: r }),
  });
  assert.equal(broken.code, 1);
  assert.equal(broken.json?.['code'], 100);
  assert.match(String(broken.json?.['msg']), /default route/);

  const hostIf = r.interfaces[0]?.name ?? '';
  for (let i = 0; i < 2; i++) {
    const del = await cni(agent.socket, {
      command: 'DEL',
      containerId: 'a',
      netns: sb.nsPath(pod.ns),
      ifname: 'eth0',
    });
    assert.equal(del.code, 0, `DEL #${i + 1}: ${del.stdout}`);
  }
  assert.equal(
    (await sb.exec(sb.prefix + '-node', 'ip', ['link', 'show'])).includes(hostIf),
    false,
    'host veth removed',
  );
  const usage = await agentGet(agent.socket, AgentRoutes.ipam);
  assert.equal(usage[0]?.allocated, 0);

  const version = await cni(agent.socket, { command: 'VERSION', config: '' });
  assert.equal(version.code, 0);
  assert.ok((version.json?.['supportedVersions'] as string[]).includes('1.1.0'));
  assert.equal((await cni(agent.socket, { command: 'STATUS' })).code, 0);
});

test('DEL after the pod namespace is gone still frees everything', async (t) => {
  const sb = Sandbox.create(t);
  const { ns: nodeNs, agent } = await node(sb, ['10.66.1.0/24']);
  const pod = await add(sb, agent, 'gone');
  const hostIf = (pod.out.json?.['interfaces'] as { name: string }[])[0]?.name ?? '';
  await run('ip', ['netns', 'del', pod.ns]);
  const del = await cni(agent.socket, {
    command: 'DEL',
    containerId: 'gone',
    netns: sb.nsPath(pod.ns),
    ifname: 'eth0',
  });
  assert.equal(del.code, 0, del.stdout);
  const delNoNetns = await cni(agent.socket, {
    command: 'DEL',
    containerId: 'gone',
    ifname: 'eth0',
  });
  assert.equal(delNoNetns.code, 0, 'DEL without CNI_NETNS');
  assert.equal((await sb.exec(nodeNs, 'ip', ['link', 'show'])).includes(hostIf), false);
  assert.equal((await agentGet(agent.socket, AgentRoutes.ipam))[0]?.allocated, 0);
});

test('DEL while no agent runs succeeds; the agent that starts again releases what the pod held', async (t) => {
  const sb = Sandbox.create(t);
  const { ns: nodeNs, agent } = await node(sb, ['10.66.2.0/24']);
  const kept = await add(sb, agent, 'kept');
  const pod = await add(sb, agent, 'deleted');
  const hostIf = (pod.out.json?.['interfaces'] as { name: string }[])[0]?.name ?? '';
  await stopChild(agent.child, 'SIGTERM');
  const del = await cni(agent.socket, {
    command: 'DEL',
    containerId: 'deleted',
    netns: sb.nsPath(pod.ns),
    ifname: 'eth0',
  });
  assert.equal(del.code, 0, del.stdout);
  // What the runtime does after a DEL: the pod's namespace goes, its veth with it.
  await run('ip', ['netns', 'del', pod.ns]);
  assert.equal((await sb.exec(nodeNs, 'ip', ['link', 'show'])).includes(hostIf), false);
  await agent.restart();
  assert.equal(
    (await agentGet(agent.socket, AgentRoutes.ipam))[0]?.allocated,
    1,
    'only the pod that still exists holds an address',
  );
  const check = await cni(agent.socket, {
    command: 'CHECK',
    containerId: 'kept',
    netns: sb.nsPath(kept.ns),
    ifname: 'eth0',
    config: netconf({ prevResult: kept.out.json }),
  });
  assert.equal(check.code, 0, check.stdout);
});

test('two pods reach each other over TCP and UDP, and reach their node', async (t) => {
  const sb = Sandbox.create(t);
  const { agent } = await node(sb, ['10.66.2.0/24']);
  const a = await add(sb, agent, 'pa');
  const b = await add(sb, agent, 'pb');
  const bIp = b.ips[0]?.split('/')[0] ?? '';
  await echoServer(sb, b.ns, bIp, 8080);
  assert.equal(await probe(sb, a.ns, 'tcp', bIp, 8080), 'ping');
  assert.equal(await probe(sb, a.ns, 'udp', bIp, 8080), 'ping');
  assert.match(await sb.exec(a.ns, 'ping', ['-c', '1', '-W', '2', NODE_IP]), /1 received/);
  assert.notEqual(await probe(sb, a.ns, 'tcp', bIp, 8081), 'ping', 'a closed port does not answer');
});

test('dual-stack: one address per family, and pods talk over IPv6', async (t) => {
  const sb = Sandbox.create(t);
  const { agent } = await node(sb, ['10.66.3.0/24', 'fd00:66:3::/120']);
  const a = await add(sb, agent, 'da');
  const b = await add(sb, agent, 'db');
  assert.equal(a.ips.length, 2);
  assert.match(a.ips[0] ?? '', /^10\.66\.3\.\d+\/32$/);
  assert.match(a.ips[1] ?? '', /^fd00:66:3::[0-9a-f]+\/128$/);
  const b6 = b.ips[1]?.split('/')[0] ?? '';
  await echoServer(sb, b.ns, b6, 9000);
  assert.equal(await probe(sb, a.ns, 'tcp', b6, 9000), 'ping');
  assert.equal(await probe(sb, a.ns, 'udp', b6, 9000), 'ping');
});

test('50 parallel ADDs get 50 different addresses; GC frees all but the valid ones', async (t) => {
  const sb = Sandbox.create(t);
  const { ns: nodeNs, agent } = await node(sb, ['10.66.4.0/24']);
  const namespaces = await Promise.all(Array.from({ length: 50 }, (_, i) => sb.netns(`p${i}`)));
  const outs = await Promise.all(
    namespaces.map((ns, i) =>
      cni(agent.socket, {
        command: 'ADD',
        containerId: `c${i}`,
        netns: sb.nsPath(ns),
        ifname: 'eth0',
      }),
    ),
  );
  outs.forEach((o, i) => assert.equal(o.code, 0, `ADD c${i}: ${o.stdout}`));
  const ips = outs.map((o) => ipsOf(o.json)[0]);
  assert.equal(new Set(ips).size, 50, 'all addresses distinct');
  const valid = [0, 1, 2].map((i) => ({ containerID: `c${i}`, ifname: 'eth0' }));
  const gc = await cni(agent.socket, {
    command: 'GC',
    config: netconf({ 'cni.dev/valid-attachments': valid }),
  });
  assert.equal(gc.code, 0, gc.stdout);
  assert.equal((await agentGet(agent.socket, AgentRoutes.ipam))[0]?.allocated, 3);
  const links = await sb.exec(nodeNs, 'ip', ['-o', 'link', 'show']);
  assert.equal(links.split('\n').filter((l) => /weft[0-9a-f]{11}/.test(l)).length, 3);
  assert.match(
    await run('ip', ['-n', namespaces[1] ?? '', 'addr', 'show', 'eth0']),
    /inet 10\.66\.4\./,
    'a valid pod keeps its network',
  );
});
