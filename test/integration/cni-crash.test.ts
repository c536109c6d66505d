// The agent killed while ADDs are in flight, then restarted: no address is
// ever held twice, and once the runtime has retried its DELs (as it must for
// every failed ADD) nothing is leaked.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, agentGet, stopChild } from '../support/sandbox.js';
import { cni } from '../support/cni.js';
import { AgentRoutes } from '../../src/api/routes.js';

test('agent killed mid-allocation and restarted: no duplicate, no leak', async (t) => {
  const sb = Sandbox.create(t);
  const nodeNs = await sb.netns('node');
  const agent = await sb.agent(nodeNs, ['--node-name', 'n1', '--pod-cidr', '10.66.5.0/24']);
  const pods = await Promise.all(Array.from({ length: 24 }, (_, i) => sb.netns(`k${i}`)));
  const addAll = (ids: number[]) =>
    Promise.all(
      ids.map((i) =>
        cni(agent.socket, {
          command: 'ADD',
          containerId: `k${i}`,
          netns: sb.nsPath(pods[i] ?? ''),
          ifname: 'eth0',
        }),
      ),
    );

  // Kill the agent as soon as the first ADD has answered: the rest are mid-flight.
  const inflight = addAll(pods.map((_, i) => i));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const usage = await agentGet(agent.socket, AgentRoutes.ipam).catch(() => [{ allocated: 0 }]);
    if ((usage[0]?.allocated ?? 0) >= 3) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  await stopChild(agent.child, 'SIGKILL');
  const first = await inflight;
  const ok = first.flatMap((o, i) => (o.code === 0 ? [i] : []));
  const failed = first.flatMap((o, i) => (o.code === 0 ? [] : [i]));
  assert.ok(failed.length > 0, 'the kill interrupted some ADDs');
  for (const i of failed)
    assert.equal(first[i]?.json?.['code'], 11, `failed ADD k${i} says try again later`);

  await agent.restart();
  // The runtime DELs every failed ADD, then ADDs again.
  for (const i of failed) {
    const del = await cni(agent.socket, {
      command: 'DEL',
      containerId: `k${i}`,
      netns: sb.nsPath(pods[i] ?? ''),
      ifname: 'eth0',
    });
    assert.equal(del.code, 0, del.stdout);
  }
  const retried = await addAll(failed);
  retried.forEach((o, k) => assert.equal(o.code, 0, `retry k${failed[k]}: ${o.stdout}`));
  const addresses = [...ok.map((i) => first[i]), ...retried].map(
    (o) => (o?.json?.['ips'] as { address: string }[])[0]?.address,
  );
  assert.equal(new Set(addresses).size, pods.length, 'every pod holds a different address');
  const held = await agentGet(agent.socket, AgentRoutes.ipam);
  assert.equal(held[0]?.allocated, pods.length, 'exactly one address per pod: nothing leaked');

  for (let i = 0; i < pods.length; i++) {
    const del = await cni(agent.socket, {
      command: 'DEL',
      containerId: `k${i}`,
      netns: sb.nsPath(pods[i] ?? ''),
      ifname: 'eth0',
    });
    assert.equal(del.code, 0);
  }
  assert.equal((await agentGet(agent.socket, AgentRoutes.ipam))[0]?.allocated, 0);
});
