// Cross-node pod routing on a real kernel, one suite for every backend: three
// node namespaces on one L2 segment (a bridge in a fourth namespace), a "pod"
// address on each node's lo, and the backend syncing inside each node.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/host/exec.js';
import type { SyncReport } from '../../src/routing/backend.js';
import { HostGwBackend } from '../../src/routing/hostgw.js';
import { VXLAN_DEVICE, VxlanBackend } from '../../src/routing/vxlan.js';
import { vtepMac, type RoutingMode } from '../../src/core/routing/plan.js';
import { Sandbox } from '../support/sandbox.js';

interface Implementation {
  readonly mode: RoutingMode;
  /** The module exporting the backend class, and the class (its name is the export). */
  readonly module: URL;
  readonly backend: { readonly name: string };
  /** Pod address families the backend routes. */
  readonly families: readonly (4 | 6)[];
  /** A device the backend owns, which must survive a sync with an unchanged plan. */
  readonly device?: { readonly name: string; readonly mtu: number };
  /** `ip` / `bridge` arguments listing what the backend programmed. */
  readonly dumps: readonly (readonly string[])[];
}

const OWN_ROUTES = [
  ['ip', 'route', 'show', 'proto', '77'],
  ['ip', '-6', 'route', 'show', 'proto', '77'],
];

const IMPLEMENTATIONS: readonly Implementation[] = [
  {
    mode: 'vxlan',
    module: new URL('../../src/routing/vxlan.js', import.meta.url),
    backend: VxlanBackend,
    families: [4, 6],
    device: { name: VXLAN_DEVICE, mtu: 1500 - 50 },
    dumps: [
      ...OWN_ROUTES,
      ['ip', 'neigh', 'show', 'dev', VXLAN_DEVICE],
      ['bridge', 'fdb', 'show', 'dev', VXLAN_DEVICE],
    ],
  },
  {
    mode: 'host-gw',
    module: new URL('../../src/routing/hostgw.js', import.meta.url),
    backend: HostGwBackend,
    families: [4],
    dumps: OWN_ROUTES,
  },
];

/** A node as the runner takes it: plain strings, parsed on the other side. */
interface NodeSpec {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly podCidrs: readonly string[];
}

interface LabNode extends NodeSpec {
  readonly ns: string;
  /** The pod address on lo, per family. */
  readonly pod: { readonly 4: string; readonly 6: string };
}

/** Plans and syncs inside a node namespace; prints the SyncReport as JSON. */
const RUNNER = `
const [self, mode, nodesJson, exportName, backendUrl, planUrl, ipUrl, cidrUrl] = process.argv.slice(1);
const [{ planRoutes }, { parseIp }, { parseCidr }, backends] = await Promise.all(
  [planUrl, ipUrl, cidrUrl, backendUrl].map((u) => import(u)),
);
const nodes = JSON.parse(nodesJson).map((n) => ({
  kind: 'Node', name: n.name, labels: {},
  addresses: n.addresses.map(parseIp), podCidrs: n.podCidrs.map((c) => parseCidr(c).cidr),
}));
const report = await new backends[exportName]().sync(planRoutes(self, nodes, mode));
console.log(JSON.stringify(report));
`;

const MODULES = ['core/routing/plan.js', 'core/net/ip.js', 'core/net/cidr.js'].map(
  (m) => new URL(`../../src/${m}`, import.meta.url).href,
);

async function sync(
  sb: Sandbox,
  impl: Implementation,
  node: { readonly ns: string; readonly name: string },
  nodes: readonly NodeSpec[],
): Promise<SyncReport> {
  const spec = nodes.map(({ name, addresses, podCidrs }) => ({ name, addresses, podCidrs }));
  const out = await sb.exec(node.ns, process.execPath, [
    ...['--input-type=module', '-e', RUNNER, node.name, impl.mode, JSON.stringify(spec)],
    ...[impl.backend.name, impl.module.href, ...MODULES],
  ]);
  return JSON.parse(out) as SyncReport;
}

/** `ip -n NS -batch -`. */
async function ipBatch(ns: string, lines: readonly string[]): Promise<void> {
  await run('ip', ['-n', ns, '-batch', '-'], `${lines.join('\n')}\n`);
}

/** Three nodes with one IPv4 and one IPv6 pod CIDR each, bridged in a `sw` namespace. */
async function cluster(sb: Sandbox): Promise<LabNode[]> {
  const sw = await sb.netns('sw');
  await ipBatch(sw, ['link add br0 type bridge', 'link set br0 up']);
  const nodes: LabNode[] = [];
  for (const i of [1, 2, 3]) {
    const ns = await sb.netns(`n${i}`);
    await ipBatch(sw, [
      `link add p${i} type veth peer eth0 netns ${ns}`,
      `link set p${i} master br0 up`,
    ]);
    const node: LabNode = {
      ns,
      name: `node-${i}`,
      addresses: [`172.31.77.${i}`],
      podCidrs: [`10.77.${i}.0/24`, `fd00:77:${i}::/64`],
      pod: { 4: `10.77.${i}.10`, 6: `fd00:77:${i}::10` },
    };
    await ipBatch(ns, [
      `addr add ${node.addresses[0]}/24 dev eth0`,
      'link set eth0 up',
      `addr add ${node.pod[4]}/32 dev lo`,
      `addr add ${node.pod[6]}/128 dev lo`,
      // Not ours: must survive every sync.
      'route add 192.0.2.0/24 via 172.31.77.254 dev eth0 onlink',
    ]);
    nodes.push(node);
  }
  return nodes;
}

/** Whether a ping from pod `from` reaches pod `to` within `tries` tries of 2 s. */
async function reaches(
  sb: Sandbox,
  from: LabNode,
  to: LabNode,
  family: 4 | 6,
  tries = 3,
): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    try {
      await sb.exec(from.ns, 'ping', [
        `-${family}`,
        '-c1',
        '-W2',
        '-I',
        from.pod[family],
        to.pod[family],
      ]);
      return true;
    } catch {
      // unreachable, or a first packet lost: try again
    }
  }
  return false;
}

async function assertMesh(sb: Sandbox, impl: Implementation, nodes: readonly LabNode[]) {
  for (const family of impl.families)
    for (const from of nodes)
      for (const to of nodes) {
        if (from === to) continue;
        assert.ok(await reaches(sb, from, to, family), `IPv${family} ${from.name} → ${to.name}`);
      }
}

async function dump(sb: Sandbox, impl: Implementation, node: LabNode): Promise<string> {
  const parts = await Promise.all(
    impl.dumps.map(([cmd, ...args]) => sb.exec(node.ns, cmd ?? 'ip', args)),
  );
  return parts.join('');
}

interface LinkJson {
  readonly ifindex: number;
  readonly mtu: number;
  readonly address: string;
}

async function link(sb: Sandbox, ns: string, dev: string): Promise<LinkJson> {
  const [found] = JSON.parse(
    await sb.exec(ns, 'ip', ['-j', 'link', 'show', 'dev', dev]),
  ) as LinkJson[];
  assert.ok(found, dev);
  return found;
}

async function scenario(t: TestContext, impl: Implementation): Promise<void> {
  const sb = Sandbox.create(t);
  const nodes = await cluster(sb);
  const [n1, n2, n3] = nodes as [LabNode, LabNode, LabNode];
  assert.equal(await reaches(sb, n1, n2, 4, 1), false, 'no route before the first sync');
  for (const node of nodes) assert.notEqual((await sync(sb, impl, node, nodes)).changed.length, 0);
  await assertMesh(sb, impl, nodes);

  // Every sync is a fresh process, as after an agent restart: an unchanged plan
  // changes nothing, and the device is the same one.
  const device = impl.device && (await link(sb, n1.ns, impl.device.name));
  const again = await sync(sb, impl, n1, nodes);
  assert.deepEqual([again.changed, again.removed], [[], []]);
  if (impl.device && device) {
    assert.equal(device.mtu, impl.device.mtu);
    assert.equal((await link(sb, n1.ns, impl.device.name)).ifindex, device.ifindex);
  }

  // Drift heals: a route deleted by hand comes back on the next sync.
  await run('ip', ['-n', n1.ns, 'route', 'del', n2.podCidrs[0] ?? '']);
  assert.equal(await reaches(sb, n1, n2, 4, 1), false);
  const healed = await sync(sb, impl, n1, nodes);
  assert.equal(healed.changed.length, 1, healed.changed.join('\n'));
  assert.match(healed.changed[0] ?? '', /^route 10\.77\.2\.0\/24 via .* \(node node-2\)$/);
  assert.ok(await reaches(sb, n1, n2, 4));

  // A node leaves the plan: everything programmed for it disappears elsewhere.
  const remaining = [n1, n2];
  const mentions = [n3.addresses[0], ...n3.podCidrs.map((c) => c.split('/')[0])];
  for (const node of remaining) {
    const before = await dump(sb, impl, node);
    assert.ok(
      mentions.some((m) => m && before.includes(m)),
      before,
    );
    const report = await sync(sb, impl, node, remaining);
    assert.deepEqual(report.changed, []);
    assert.notEqual(report.removed.length, 0);
    const after = await dump(sb, impl, node);
    for (const m of mentions) assert.ok(m && !after.includes(m), `${m} still in:\n${after}`);
  }
  assert.equal(await reaches(sb, n1, n3, 4, 1), false);
  await assertMesh(sb, impl, remaining);

  // Routes that are not ours were never touched.
  for (const node of nodes)
    assert.match(
      await sb.exec(node.ns, 'ip', ['route', 'show', '192.0.2.0/24']),
      /via 172\.31\.77\.254/,
    );
}

for (const impl of IMPLEMENTATIONS) {
  test(
    `${impl.mode}: pods reach each other; removed nodes, drift and restarts`,
    { timeout: 120_000 },
    (t) => scenario(t, impl),
  );
}

interface VxlanJson {
  readonly ifindex: number;
  readonly mtu: number;
  readonly address: string;
  readonly flags: readonly string[];
  readonly linkinfo: { readonly info_data: { readonly id: number; readonly learning: boolean } };
  readonly addr_info: readonly { readonly local: string; readonly prefixlen: number }[];
}

/** What the kernel says about weft-vxlan in `ns`. */
async function vxlanDevice(sb: Sandbox, ns: string) {
  const out = await sb.exec(ns, 'ip', ['-j', '-d', 'addr', 'show', 'dev', VXLAN_DEVICE]);
  const [l] = JSON.parse(out) as VxlanJson[];
  assert.ok(l, VXLAN_DEVICE);
  return {
    ifindex: l.ifindex,
    vni: l.linkinfo.info_data.id,
    learning: l.linkinfo.info_data.learning,
    mtu: l.mtu,
    mac: l.address,
    up: l.flags.includes('UP'),
    addrs: l.addr_info
      .filter((a) => !a.local.startsWith('fe80'))
      .map((a) => `${a.local}/${a.prefixlen}`),
  };
}

test('vxlan: a device of the wrong VNI is recreated, a drifted one fixed in place', async (t) => {
  const sb = Sandbox.create(t);
  const ns = await sb.netns('solo');
  const vxlan = IMPLEMENTATIONS.find((i) => i.mode === 'vxlan');
  assert.ok(vxlan);
  await ipBatch(ns, [
    'link add eth0 type veth peer eth1',
    'addr add 172.31.78.1/24 dev eth0',
    'link set eth0 up',
    'link set eth1 up',
    `link add ${VXLAN_DEVICE} type vxlan id 2 local 172.31.78.1 dev eth0 dstport 4789`,
  ]);
  const self = { ns, name: 'node-1' };
  const nodes: NodeSpec[] = [
    { name: 'node-1', addresses: ['172.31.78.1'], podCidrs: ['10.78.1.0/24'] },
    { name: 'node-2', addresses: ['172.31.78.2'], podCidrs: ['10.78.2.0/24'] },
  ];
  const wrong = await vxlanDevice(sb, ns);
  const recreated = await sync(sb, vxlan, self, nodes);
  assert.equal(recreated.device, 'recreated');
  assert.match(recreated.changed[0] ?? '', /recreated: it had VNI 2/);
  const good = await vxlanDevice(sb, ns);
  assert.notEqual(good.ifindex, wrong.ifindex);
  const expected = {
    ifindex: good.ifindex,
    vni: 1,
    learning: false,
    mtu: 1500 - 50,
    mac: vtepMac('node-1'),
    up: true,
    addrs: ['10.78.1.0/32'],
  };
  assert.deepEqual(good, expected);

  // What may change in place is fixed in place: the same device, set right again.
  await ipBatch(ns, [
    `link set dev ${VXLAN_DEVICE} down mtu 1300 address 02:00:00:00:00:01`,
    `link set dev ${VXLAN_DEVICE} type vxlan learning`,
    `addr add 10.99.0.1/32 dev ${VXLAN_DEVICE}`,
  ]);
  const fixed = await sync(sb, vxlan, self, nodes);
  assert.equal(fixed.device, 'updated');
  assert.deepEqual(await vxlanDevice(sb, ns), expected);
  assert.equal((await sync(sb, vxlan, self, nodes)).device, 'unchanged');
});
