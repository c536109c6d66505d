// What runtimes of different ages and habits do to weft-cni, through the real
// shim and agent into real namespaces: each version gets its own result shape;
// GC and STATUS exist from 1.1.0 only; GC releases every attachment the
// runtime no longer lists; a namespace that goes away without a DEL
// (`ctr run -d` and a kill, a crashed kubelet) gives its address and veth back.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import { Sandbox, agentGet, type AgentProcess } from '../support/sandbox.js';
import { cni, netconf, type CniOutcome } from '../support/cni.js';
import { AgentRoutes } from '../../src/api/routes.js';

const SUPPORTED = /weft supports 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/;

async function nodeWithAgent(sb: Sandbox, cidr: string) {
  const ns = await sb.netns('node');
  const agent = await sb.agent(ns, ['--node-name', 'n1', '--pod-cidr', cidr]);
  return { ns, agent };
}

async function allocated(agent: AgentProcess): Promise<number> {
  const usage = await agentGet(agent.socket, AgentRoutes.ipam);
  return usage[0]?.allocated ?? -1;
}

async function hostLinks(ns: string): Promise<string[]> {
  const links = JSON.parse(await run('ip', ['-n', ns, '-j', 'link', 'show'])) as {
    ifname: string;
  }[];
  return links.map((l) => l.ifname).filter((n) => n.startsWith('weft'));
}

function add(agent: AgentProcess, id: string, netns: string, version = '1.1.0') {
  return cni(agent.socket, {
    command: 'ADD',
    containerId: id,
    netns,
    ifname: 'eth0',
    config: netconf({ cniVersion: version }),
  });
}

function ok(o: CniOutcome, what: string): Record<string, unknown> {
  assert.equal(o.code, 0, `${what}: ${o.stdout}`);
  return o.json ?? {};
}

/** Polls `cond` every 100 ms for at most `ms`; returns the time it took. */
async function within(ms: number, what: string, cond: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - t0;
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('each version is answered in its own shape; others are refused with error 1', async (t) => {
  const sb = Sandbox.create(t);
  const { agent } = await nodeWithAgent(sb, '10.67.0.0/24');
  for (const [i, version] of ['0.4.0', '1.0.0', '1.1.0'].entries()) {
    const pod = await sb.netns(`v${i}`);
    const r = ok(await add(agent, `v${i}`, sb.nsPath(pod), version), version);
    assert.equal(r['cniVersion'], version);
    const ifs = r['interfaces'] as Record<string, unknown>[];
    const ips = r['ips'] as Record<string, unknown>[];
    assert.deepEqual(
      Object.keys(ifs[0] ?? {}).sort(),
      version === '1.1.0' ? ['mac', 'mtu', 'name'] : ['mac', 'name'],
    );
    assert.deepEqual(
      Object.keys(ifs[1] ?? {}).sort(),
      version === '1.1.0' ? ['mac', 'mtu', 'name', 'sandbox'] : ['mac', 'name', 'sandbox'],
    );
    assert.deepEqual(
      Object.keys(ips[0] ?? {}).sort(),
      version === '0.4.0'
        ? ['address', 'gateway', 'interface', 'version']
        : ['address', 'gateway', 'interface'],
    );
    assert.deepEqual(r['routes'], [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }]);
  }
  for (const version of ['0.2.0', '1.2.0', '2.0.0']) {
    const pod = await sb.netns(`bad${version.replaceAll('.', '')}`);
    const o = await add(agent, `bad-${version}`, sb.nsPath(pod), version);
    assert.equal(o.code, 1);
    assert.equal(o.json?.['code'], 1, o.stdout);
    assert.match(
      String(o.json?.['msg']),
      new RegExp(`"${version.replaceAll('.', '\\.')}" is not supported`),
    );
    assert.match(String(o.json?.['msg']), SUPPORTED);
  }
  assert.equal(await allocated(agent), 3, 'a refused ADD takes no address');
  for (const command of ['GC', 'STATUS']) {
    const o = await cni(agent.socket, {
      command,
      config: netconf({ cniVersion: '1.0.0', 'cni.dev/valid-attachments': [] }),
    });
    assert.equal(o.json?.['code'], 1, `${command} with 1.0.0: ${o.stdout}`);
    assert.match(String(o.json?.['msg']), new RegExp(`${command} needs cniVersion 1\\.1\\.0`));
  }
  assert.equal(await allocated(agent), 3, 'a refused GC removes nothing');
});

test('GC (1.1.0) releases every attachment not in cni.dev/valid-attachments', async (t) => {
  const sb = Sandbox.create(t);
  const { ns, agent } = await nodeWithAgent(sb, '10.67.1.0/24');
  const pods = ['keep', 'drop1', 'drop2'];
  for (const id of pods) ok(await add(agent, id, sb.nsPath(await sb.netns(id))), `ADD ${id}`);
  assert.equal((await hostLinks(ns)).length, 3);
  const gc = await cni(agent.socket, {
    command: 'GC',
    config: netconf({ 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] }),
  });
  assert.equal(gc.code, 0, gc.stdout);
  assert.equal(await allocated(agent), 1);
  const endpoints = await agentGet(agent.socket, AgentRoutes.endpoints);
  assert.deepEqual(
    endpoints.map((e) => e.containerId),
    ['keep'],
  );
  assert.equal((await hostLinks(ns)).length, 1, 'the veths of the others are gone');
  // The kept pod still has its address.
  assert.match(
    await run('ip', ['-n', `${sb.prefix}-keep`, '-o', 'addr', 'show', 'eth0']),
    /10\.67\.1\./,
  );
});

test('a namespace gone without DEL gives its address and veth back within seconds', async (t) => {
  const sb = Sandbox.create(t);
  const { ns, agent } = await nodeWithAgent(sb, '10.67.2.0/24');

  // A runtime's bind-mounted namespace, removed with nothing holding it.
  const mounted = await sb.netns('mounted');
  ok(await add(agent, 'mounted', sb.nsPath(mounted)), 'ADD mounted');
  // `ctr run -d` then a kill: the namespace is /proc/PID/ns/net of the task.
  const task = spawn('unshare', ['--net', 'sh', '-c', 'echo up; exec sleep 60'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  sb.own(task);
  await once(task.stdout, 'data');
  ok(await add(agent, 'task', `/proc/${task.pid}/ns/net`), 'ADD task');
  // One that stays: only the departed are released.
  const stays = await sb.netns('stays');
  ok(await add(agent, 'stays', sb.nsPath(stays)), 'ADD stays');
  assert.equal(await allocated(agent), 3);

  await run('ip', ['netns', 'del', mounted]);
  task.kill('SIGKILL');
  const took = await within(5000, 'both released', async () => (await allocated(agent)) === 1);
  t.diagnostic(`released ${took} ms after the namespaces went away`);
  assert.equal((await hostLinks(ns)).length, 1);
  const endpoints = await agentGet(agent.socket, AgentRoutes.endpoints);
  assert.deepEqual(
    endpoints.map((e) => e.containerId),
    ['stays'],
  );
  assert.match(
    agent.output.join(''),
    /released an endpoint \(container task, eth0, 10\.67\.2\.\d+\/32\): its network namespace is gone and no DEL came/,
  );
  // A late DEL from the runtime is still fine.
  const del = await cni(agent.socket, { command: 'DEL', containerId: 'task', ifname: 'eth0' });
  assert.equal(del.code, 0, del.stdout);
  // The freed addresses are handed out again.
  for (const id of ['again1', 'again2'])
    ok(await add(agent, id, sb.nsPath(await sb.netns(id))), `ADD ${id}`);
  assert.equal(await allocated(agent), 3);
});

/** Every file and directory under `dir`, with its permission bits. */
function modes(dir: string): [string, number][] {
  const out: [string, number][] = [];
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    out.push([entry, statSync(join(dir, entry)).mode & 0o777]);
  }
  return out;
}

test("the agent's state, which names pods and containers, is root's alone, also what an older agent left", async (t) => {
  const sb = Sandbox.create(t);
  const { agent } = await nodeWithAgent(sb, '10.67.3.0/24');
  ok(await add(agent, 'private', sb.nsPath(await sb.netns('private'))), 'ADD');
  assert.equal(statSync(agent.stateDir).mode & 0o777, 0o700);
  const files = modes(agent.stateDir).filter(([p]) => /endpoints\/|ipam\//.test(p));
  assert.ok(
    files.some(([p]) => p.startsWith('endpoints/private@eth0')),
    String(files),
  );
  for (const [p, mode] of files)
    if (statSync(join(agent.stateDir, p)).isFile()) assert.equal(mode, 0o600, p);
  // A record an older agent wrote readable by all is made private at the next start.
  const record = join(agent.stateDir, 'endpoints', 'private@eth0.json');
  chmodSync(record, 0o644);
  chmodSync(agent.stateDir, 0o755);
  await agent.restart();
  assert.equal(statSync(record).mode & 0o777, 0o600);
  assert.equal(statSync(agent.stateDir).mode & 0o777, 0o700);
});
