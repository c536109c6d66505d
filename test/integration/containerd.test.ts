// A real container runtime on weft: Debian's containerd 1.6 and runc, driven
// with `ctr run --cni` in a lab node's network namespace, through the conflist
// `weft cni config` prints. ADD gives the container its address and its
// reach; the DEL ctr sends when the task is killed gives every resource back.
// Then the same with Debian's portmap and bandwidth chained after weft.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../src/testing/paths.js';
import { PrivateContainerd, machineView, type CtrRun } from '../support/containerd.js';
import { mustRun, runFor } from '../support/host.js';
import { TestLab } from '../support/lab.js';

const demo = join(repoRoot(), 'examples/demo.yaml');

interface State {
  nodes: { name: string; netns: string; address: string; socket: string; stateDir: string }[];
  pods: Record<
    string,
    { node: string; ips: string[]; ports: { port: number; protocol: string }[] }
  >;
}

interface Conflist {
  cniVersion: string;
  cniVersions?: string[];
  name: string;
  plugins: Record<string, unknown>[];
}

/** What the container printed before READY: its eth0 address and each echo. */
interface Seen {
  readonly address: string;
  readonly echoes: Record<string, string>;
}

const BB = '/bin/busybox';

/** The container's script: print eth0's address, echo a token off each target, then sleep. */
function containerScript(targets: readonly string[], token: string, listen?: number): string {
  return [
    `${BB} ip -o -4 addr show dev eth0`,
    ...targets.map(
      (t) =>
        `echo "reach ${t} $(echo ${token} | ${BB} timeout 5 ${BB} nc -w 3 ${t.replace(':', ' ')})"`,
    ),
    ...(listen ? [`${BB} nc -ll -p ${listen} -e ${BB} echo mapped &`] : []),
    'echo READY',
    `exec ${BB} sleep 600`,
  ].join('\n');
}

function parseSeen(stdout: string): Seen {
  const address = /\binet (\d+\.\d+\.\d+\.\d+)\/32\b/.exec(stdout)?.[1];
  assert.ok(address, `eth0 has an IPv4 /32 inside the container:\n${stdout}`);
  const echoes: Record<string, string> = {};
  for (const m of stdout.matchAll(/^reach (\S+) ?(.*)$/gm)) echoes[m[1] ?? ''] = m[2] ?? '';
  return { address, echoes };
}

/** The first TCP port of a lab pod on (or off) `node`, as IP:PORT. */
function podTarget(state: State, node: string, same: boolean): string {
  for (const p of Object.values(state.pods)) {
    const tcp = p.ports.find((x) => x.protocol === 'TCP');
    if ((p.node === node) === same && tcp && p.ips[0]) return `${p.ips[0]}:${tcp.port}`;
  }
  throw new Error(`no lab pod with a TCP port ${same ? 'on' : 'off'} ${node}`);
}

/** weft's IPAM store on the node: the owner recorded for `ip`, or undefined. */
function ipamOwner(stateDir: string, ip: string): { containerId: string } | undefined {
  const ipam = join(stateDir, 'ipam');
  for (const pool of readdirSync(ipam)) {
    const file = join(ipam, pool, ip);
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { containerId: string };
  }
  return undefined;
}

function endpointRecord(
  stateDir: string,
  cniId: string,
): { addresses: string[]; hostIfname: string } | undefined {
  const file = join(stateDir, 'endpoints', `${cniId}@eth0.json`);
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { addresses: string[]; hostIfname: string })
    : undefined;
}

function inNode(netns: string, cmd: string, ...args: string[]): Promise<string> {
  return mustRun('ip', ['netns', 'exec', netns, cmd, ...args]);
}

interface Started {
  readonly lab: TestLab;
  readonly ctd: PrivateContainerd;
  readonly state: State;
  readonly node: State['nodes'][number];
  readonly conflist: Conflist;
}

/** A private containerd (stopped first at the end), a 2-node lab, and the conflist weft prints for node-1. */
async function start(t: test.TestContext): Promise<Started> {
  const ctd = await PrivateContainerd.start(t);
  const lab = TestLab.create(t);
  await lab.lab('up', '--nodes', '2', '-f', demo);
  const state = JSON.parse(readFileSync(lab.path('state.json'), 'utf8')) as State;
  const node = state.nodes.find((n) => n.name === 'node-1');
  assert.ok(node, 'the lab has node-1');
  const printed = await lab.weft('cni', 'config', '--socket', node.socket);
  assert.equal(printed.code, 0, printed.stderr);
  const conflist = JSON.parse(printed.stdout) as Conflist;
  // containerd 1.6's libcni reads results up to 1.0.0 only: the conflist must say so.
  assert.equal(conflist.cniVersion, '1.0.0');
  assert.deepEqual(conflist.cniVersions, ['0.4.0', '1.0.0', '1.1.0']);
  assert.deepEqual(conflist.plugins[0], { type: 'weft', agentSocket: node.socket });
  return { lab, ctd, state, node, conflist };
}

/** Runs the container until READY and checks what ADD gave it; returns what it saw and its CNI id. */
async function runUntilReady(
  s: Started,
  conflist: string,
  listen?: number,
): Promise<{ run: CtrRun; id: string; cniId: string; seen: Seen; targets: string[] }> {
  const id = `weft-${randomBytes(4).toString('hex')}`;
  const token = `token-${randomBytes(6).toString('hex')}`;
  const targets = [podTarget(s.state, s.node.name, true), podTarget(s.state, s.node.name, false)];
  const run = s.ctd.run({
    netns: s.node.netns,
    id,
    conflist,
    command: [BB, 'sh', '-c', containerScript(targets, token, listen)],
  });
  await run.waitForLine('READY', 30_000);
  const seen = parseSeen(run.stdout);
  for (const target of targets)
    assert.equal(seen.echoes[target], token, `the container reaches ${target}:\n${run.output()}`);
  return { run, id, cniId: `default-${id}`, seen, targets };
}

/** What weft recorded for the container agrees with its eth0; libcni cached a 1.0.0 result. */
async function assertAdded(s: Started, id: string, cniId: string, seen: Seen): Promise<string> {
  const cached = s.ctd.cachedResult(s.conflist.name, id) as
    { result?: { cniVersion?: string; ips?: { address: string }[] } } | undefined;
  assert.ok(cached?.result, 'libcni cached the ADD result');
  assert.equal(cached.result.cniVersion, '1.0.0', 'the result is in the conflist version');
  assert.deepEqual(
    cached.result.ips?.map((i) => i.address),
    [`${seen.address}/32`],
    'ADD returned the address eth0 holds',
  );
  const record = endpointRecord(s.node.stateDir, cniId);
  assert.ok(record, `the agent recorded endpoint ${cniId}`);
  assert.deepEqual(record.addresses, [`${seen.address}/32`]);
  assert.equal(ipamOwner(s.node.stateDir, seen.address)?.containerId, cniId, 'IPAM holds it');
  const route = await inNode(s.node.netns, 'ip', 'route', 'show', `${seen.address}/32`);
  assert.match(
    route,
    new RegExp(`^${seen.address.replaceAll('.', '\\.')} dev ${record.hostIfname} `, 'm'),
  );
  assert.match(
    await inNode(s.node.netns, 'ip', '-o', 'link', 'show'),
    new RegExp(`: ${record.hostIfname}@`),
  );
  return record.hostIfname;
}

/** Kills the task: ctr sends DEL and exits; nothing of the container is left on weft's side. */
async function killAndAssertReleased(
  s: Started,
  r: { run: CtrRun; id: string; cniId: string; seen: Seen },
  hostIf: string,
): Promise<void> {
  await s.ctd.ctr(['task', 'kill', '-s', 'SIGKILL', r.id]);
  const exit = await r.run.exit(30_000);
  assert.equal(exit.code, 137, `ctr run reports the killed task:\n${r.run.output()}`);
  // ctr logs a failed DEL ("network review") and still exits with the task's code.
  assert.doesNotMatch(r.run.stderr, /level=error|network review|failed/, r.run.output());
  // libcni removes its cached result only once every plugin's DEL succeeded: the
  // proof that DEL worked (the agent also releases, within 2 s, an endpoint
  // whose namespace is gone, so a released address alone proves less).
  assert.equal(
    s.ctd.cachedResult(s.conflist.name, r.id),
    undefined,
    'libcni dropped the cache: every DEL succeeded',
  );
  assert.equal(endpointRecord(s.node.stateDir, r.cniId), undefined, 'the endpoint record is gone');
  assert.equal(ipamOwner(s.node.stateDir, r.seen.address), undefined, 'the address is released');
  assert.equal(
    (await inNode(s.node.netns, 'ip', 'route', 'show', `${r.seen.address}/32`)).trim(),
    '',
  );
  assert.doesNotMatch(
    await inNode(s.node.netns, 'ip', '-o', 'link', 'show'),
    new RegExp(`: ${hostIf}@`),
  );
  assert.equal(
    (await s.ctd.ctr(['container', 'ls', '-q'])).trim(),
    '',
    'ctr --rm removed the container',
  );
}

/** After stop() and lab down: no process of containerd's dir, no cgroup, no namespace of the lab. */
async function assertNothingLeft(s: Started): Promise<void> {
  await s.ctd.stop();
  assert.deepEqual(s.ctd.survivors(), [], 'no containerd, shim, runc or ctr process survives');
  assert.deepEqual(s.ctd.leftoverCgroups(), []);
  assert.equal(existsSync(s.ctd.dir), false);
  assert.deepEqual(
    machineView(s.ctd.dir),
    s.ctd.machineBefore,
    'no dir or mount of the machine changed',
  );
  await s.lab.lab('down');
  const netns = (await mustRun('ip', ['netns', 'list'])).split('\n');
  assert.deepEqual(
    netns.filter((l) => l.startsWith(`wl-${s.lab.name}-`)),
    [],
  );
}

test('containerd: ADD gives eth0 the address weft records, the container reaches pods, DEL releases it', async (t) => {
  const s = await start(t);
  const r = await runUntilReady(s, JSON.stringify(s.conflist));
  const hostIf = await assertAdded(s, r.id, r.cniId, r.seen);
  await killAndAssertReleased(s, r, hostIf);
  await assertNothingLeft(s);
});

test('containerd with portmap and bandwidth chained after weft: their rules exist while it runs, DEL removes them', async (t) => {
  const s = await start(t);
  const [hostPort, containerPort] = [18080, 8080];
  const rate = 8_000_000;
  const chained: Conflist = {
    ...s.conflist,
    plugins: [
      ...s.conflist.plugins,
      {
        type: 'portmap',
        capabilities: { portMappings: true },
        runtimeConfig: { portMappings: [{ hostPort, containerPort, protocol: 'tcp' }] },
      },
      {
        type: 'bandwidth',
        ingressRate: rate,
        ingressBurst: 100_000,
        egressRate: rate,
        egressBurst: 100_000,
      },
    ],
  };
  const r = await runUntilReady(s, JSON.stringify(chained), containerPort);
  const hostIf = await assertAdded(s, r.id, r.cniId, r.seen);
  const ns = s.node.netns;

  // bandwidth: a token bucket on the host veth (ingress to the pod), an ifb with one for egress.
  const qdiscs = await inNode(ns, 'tc', 'qdisc', 'show');
  assert.match(qdiscs, new RegExp(`qdisc tbf \\S+ dev ${hostIf} root .*rate 8Mbit`), qdiscs);
  assert.match(qdiscs, new RegExp(`qdisc ingress ffff: dev ${hostIf} `), qdiscs);
  const ifb = /qdisc tbf \S+ dev (bwp[0-9a-f]+) root .*rate 8Mbit/.exec(qdiscs)?.[1];
  assert.ok(ifb, `bandwidth made an ifb device with a token bucket:\n${qdiscs}`);
  // portmap: a DNAT of hostPort to the container, and it carries packets.
  const nat = await inNode(ns, 'iptables-save', '-t', 'nat');
  const dnat = `--dport ${hostPort} -j DNAT --to-destination ${r.seen.address}:${containerPort}`;
  assert.ok(nat.includes(dnat), `portmap's DNAT rule:\n${nat}`);
  const mapped = await runFor(
    'ip',
    ['netns', 'exec', ns, 'timeout', '5', BB, 'nc', '-w', '3', s.node.address, String(hostPort)],
    10_000,
  );
  assert.equal(
    mapped.stdout.trim(),
    'mapped',
    `${s.node.address}:${hostPort} reaches the container: ${mapped.stderr}`,
  );

  await killAndAssertReleased(s, r, hostIf);
  const after = await inNode(ns, 'tc', 'qdisc', 'show');
  assert.doesNotMatch(after, /qdisc (tbf|ingress) /, after);
  assert.doesNotMatch(await inNode(ns, 'ip', '-o', 'link', 'show'), new RegExp(`: ${ifb}:`));
  const natAfter = await inNode(ns, 'iptables-save', '-t', 'nat');
  assert.ok(!natAfter.includes(r.seen.address), `no NAT rule names the container:\n${natAfter}`);
  assert.ok(!natAfter.includes(r.cniId), natAfter);
  assert.doesNotMatch(natAfter, /^-A CNI-HOSTPORT-DNAT /m, 'the hostport chain is empty again');
  await assertNothingLeft(s);
});
