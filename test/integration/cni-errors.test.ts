// Every CNI error code weft returns, provoked by real bad input through the
// real shim and agent. The runtime reads {code, msg} from stdout and a
// non-zero exit.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import { Sandbox, agentGet } from '../support/sandbox.js';
import { cni, netconf, type CniOutcome } from '../support/cni.js';
import { AgentRoutes } from '../../src/api/routes.js';

function assertError(o: CniOutcome, code: number, msg: RegExp): void {
  assert.notEqual(o.code, 0, `exit code for error ${code}`);
  assert.equal(o.json?.['code'], code, o.stdout);
  assert.match(String(o.json?.['msg']), msg);
}

test('each CNI error code from real bad input', async (t) => {
  const sb = Sandbox.create(t);
  const nodeNs = await sb.netns('node');
  const agent = await sb.agent(nodeNs, ['--node-name', 'n1', '--pod-cidr', '10.66.9.0/29']);
  const podNs = await sb.netns('pod');
  const netns = sb.nsPath(podNs);
  const base = { command: 'ADD', containerId: 'c1', netns, ifname: 'eth0' };

  assertError(
    await cni(agent.socket, { ...base, config: netconf({ cniVersion: '9.9.9' }) }),
    1,
    /9\.9\.9/,
  );
  assertError(
    await cni(agent.socket, { ...base, config: netconf({ ipam: { type: 'host-local' } }) }),
    2,
    /ipam/,
  );
  assertError(
    await cni(agent.socket, {
      command: 'CHECK',
      containerId: 'nobody',
      netns,
      ifname: 'eth0',
      config: netconf({ prevResult: { ips: [] } }),
    }),
    3,
    /nobody/,
  );
  assertError(
    await cni(agent.socket, { command: 'ADD', netns, ifname: 'eth0' }),
    4,
    /CNI_CONTAINERID/,
  );
  assertError(await cni(agent.socket, { ...base, ifname: 'has space' }), 4, /CNI_IFNAME/);
  assertError(
    await cni(agent.socket, { ...base, netns: '/var/run/netns/does-not-exist' }),
    4,
    /CNI_NETNS/,
  );
  assertError(await cni(agent.socket, { ...base, command: 'SHOUT' }), 4, /CNI_COMMAND/);
  assertError(await cni(agent.socket, { ...base, config: '{"cniVersion": "1.1.0",' }), 6, /./);
  assertError(
    await cni(agent.socket, { ...base, config: { cniVersion: '1.1.0', type: 'weft' } }),
    7,
    /name/,
  );
  assertError(await cni(agent.socket, { ...base, config: netconf({ mtu: 'big' }) }), 7, /mtu/);

  // I/O: the kernel refuses — the interface name is already taken inside the pod.
  await run('ip', ['-n', podNs, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'taken1']);
  assertError(await cni(agent.socket, base), 5, /kernel refused/);
  assert.equal(
    (await run('ip', ['-n', nodeNs, '-o', 'link', 'show'])).includes('weft'),
    false,
    'a failed ADD leaves no host veth',
  );

  // Unreachable agent: ADD must be retried later (11); STATUS says not available (50).
  const nowhere = join(sb.dir(), 'no-agent.sock');
  assertError(await cni(nowhere, base), 11, /not reachable|try again/i);
  assertError(await cni(nowhere, { command: 'STATUS' }), 50, /not reachable/);

  // A failed ADD releases its address: the /29 has 6, and all 6 can still be taken.
  await run('ip', ['-n', podNs, 'link', 'del', 'eth0']);
  for (let i = 0; i < 6; i++) {
    const ns = await sb.netns(`fill${i}`);
    const o = await cni(agent.socket, {
      command: 'ADD',
      containerId: `f${i}`,
      netns: sb.nsPath(ns),
      ifname: 'eth0',
    });
    assert.equal(o.code, 0, `ADD f${i}: ${o.stdout}`);
  }
  const ns7 = await sb.netns('fill7');
  assertError(
    await cni(agent.socket, {
      command: 'ADD',
      containerId: 'f7',
      netns: sb.nsPath(ns7),
      ifname: 'eth0',
    }),
    101,
    /10\.66\.9\.0\/29/,
  );
});

/** A namespace bind-mounted at `target` in a private mount namespace: the agent never sees the mount. */
async function unpropagatedMount(
  t: test.TestContext,
  source: string,
  target: string,
): Promise<void> {
  writeFileSync(target, '');
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mount --bind ${source} ${target} && echo ok && exec sleep 30`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => child.kill('SIGKILL'));
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  assert.equal(line.toString().trim(), 'ok');
}

test('a namespace path the agent cannot see fails ADD with the path and the fix, and takes no address', async (t) => {
  const sb = Sandbox.create(t);
  const nodeNs = await sb.netns('node');
  const agent = await sb.agent(nodeNs, ['--node-name', 'n1', '--pod-cidr', '10.66.8.0/29']);
  const podNs = await sb.netns('pod');
  const base = { command: 'ADD', containerId: 'c1', ifname: 'eth0' };

  const absent = '/run/containerd/io.containerd.grpc.v1.cri/netns/cni-weft-test-absent';
  const gone = await cni(agent.socket, { ...base, netns: absent });
  assertError(gone, 4, new RegExp(`^CNI_NETNS ${absent} does not exist in the weft agent's view`));
  assert.match(
    String(gone.json?.['details']),
    /mount \/run\/containerd\/io\.containerd\.grpc\.v1\.cri\/netns into the weft agent's container with mountPropagation: HostToContainer/,
  );

  // The runtime's bind mount lives in a mount namespace that does not propagate to the agent.
  const hidden = join(sb.dir(), 'netns-cni-hidden');
  await unpropagatedMount(t, sb.nsPath(podNs), hidden);
  const plain = await cni(agent.socket, { ...base, netns: hidden });
  assertError(plain, 4, /is not a network namespace in the weft agent's view \(a plain file/);
  assert.match(String(plain.json?.['msg']), new RegExp(hidden));
  assert.match(String(plain.json?.['details']), /mountPropagation: HostToContainer/);
  assert.doesNotMatch(plain.stdout, /RTNETLINK|Invalid argument/);

  const usage = await agentGet(agent.socket, AgentRoutes.ipam);
  assert.equal(usage[0]?.allocated, 0, 'no address is taken');
  assert.equal((await run('ip', ['-n', nodeNs, '-o', 'link', 'show'])).includes('weft'), false);
  // The same namespace by a path the agent sees works.
  const ok = await cni(agent.socket, { ...base, netns: sb.nsPath(podNs) });
  assert.equal(ok.code, 0, ok.stdout);
});
