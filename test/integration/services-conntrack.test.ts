// The Service proxy's conntrack cleanup against the real kernel: a client
// namespace sends UDP datagrams through DNAT rules (written here, in the
// node namespace) to Service frontends, so the node's conntrack table holds
// real entries; when the Service model loses an endpoint, and when a
// Service gets its first endpoint, the planned `conntrack -D` filters
// remove exactly the entries that would blackhole a client and leave every
// other entry (other endpoints, another Service on the same endpoint, TCP).
import test from 'node:test';
import assert from 'node:assert/strict';
import { deleteStaleEntries } from '../../src/components/services/conntrack-cleanup.js';
import { planConntrackCleanup } from '../../src/core/services/conntrack-plan.js';
import { buildServiceModel } from '../../src/core/services/model.js';
import {
  clusterOf,
  endpointSlice,
  node as nodeObject,
  service,
  type EndpointSpec,
} from '../../src/testing/services.js';
import { node, veth } from '../support/netpair.js';
import { Sandbox } from '../support/sandbox.js';
import { echoServer } from '../support/traffic.js';

/** One datagram from each [host, port, localPort]; prints "sent" when all went out. */
const SEND = `
const dgram = require('node:dgram');
const all = JSON.parse(process.argv[1]);
let left = all.length;
for (const [host, port, localPort] of all) {
  const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  u.bind(localPort, () => u.send('x', port, host, () => {
    u.close();
    if (--left === 0) console.log('sent');
  }));
}
`;

/** A TCP connection from a fixed local port, held open; prints "connected". */
const HOLD = `
const net = require('node:net');
const [host, port, localPort] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port), localPort: Number(localPort) }, () =>
  console.log('connected'),
);
s.on('error', (e) => console.log(e.message));
`;

/**
 * DNAT as a proxy would, chosen by the client's source port so each entry's
 * endpoint is known: ClusterIP 10.96.0.10:53 and its node port 30053 to
 * three endpoints, 10.96.0.11:53 (another Service) to one of them, and the
 * IPv6 ClusterIP to two.
 */
const RULES = `table inet svcops {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr 10.96.0.10 udp dport 53 udp sport 41001 dnat ip to 10.244.0.5:5353
    ip daddr 10.96.0.10 udp dport 53 udp sport 41002 dnat ip to 10.244.0.6:5353
    ip daddr 10.96.0.10 udp dport 53 udp sport 41003 dnat ip to 10.244.0.7:5353
    ip daddr 10.96.0.10 tcp dport 53 dnat ip to 10.244.0.6:5353
    ip daddr 10.96.0.11 udp dport 53 dnat ip to 10.244.0.6:5353
    ip daddr 10.9.0.2 udp dport 30053 udp sport 42002 dnat ip to 10.244.0.6:5353
    ip daddr 10.9.0.2 udp dport 30053 udp sport 42005 dnat ip to 10.244.0.5:5353
    ip6 daddr fd00:10:96::a udp dport 53 udp sport 41011 dnat ip6 to [fd00:244::5]:5353
    ip6 daddr fd00:10:96::a udp dport 53 udp sport 41012 dnat ip6 to [fd00:244::6]:5353
  }
}
`;

/** The node's Services: kube-system/dns (dual-stack, node port), other/dns2, late/new. */
function cluster(dns4: readonly string[], dns6: readonly string[], late: readonly string[]) {
  const eps = (ips: readonly string[]): EndpointSpec[] => ips.map((ip) => ({ ip, node: 'node-a' }));
  const udp = [{ name: 'dns', port: 5353, protocol: 'UDP' }];
  return clusterOf(
    nodeObject('node-a', ['10.9.0.2']),
    service('kube-system', 'dns', {
      type: 'NodePort',
      clusterIPs: ['10.96.0.10', 'fd00:10:96::a'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353, nodePort: 30053 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353, nodePort: 30053 },
      ],
    }),
    endpointSlice(
      'kube-system',
      'dns-4',
      'dns',
      [...udp, { name: 'dns-tcp', port: 5353, protocol: 'TCP' }],
      eps(dns4),
    ),
    endpointSlice('kube-system', 'dns-6', 'dns', udp, eps(dns6), { addressType: 'IPv6' }),
    service('other', 'dns2', {
      clusterIP: '10.96.0.11',
      ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }],
    }),
    endpointSlice('other', 'dns2-1', 'dns2', udp, eps(['10.244.0.6'])),
    service('late', 'new', {
      clusterIP: '10.96.0.12',
      ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }],
    }),
    endpointSlice('late', 'new-1', 'new', udp, eps(late)),
  );
}

/** The node's conntrack entries as `proto client > frontend reply-src endpoint`, sorted. */
async function entries(sb: Sandbox, ns: string): Promise<string[]> {
  const out: string[] = [];
  for (const family of ['ipv4', 'ipv6']) {
    const text = await sb.exec(ns, 'conntrack', ['-L', '-f', family]);
    for (const line of text.split('\n')) {
      const f = [...line.matchAll(/(src|dst|sport|dport)=(\S+)/g)].map((m) => m[2] as string);
      const proto = line.split(/\s+/)[0];
      if (f.length < 8 || (proto !== 'udp' && proto !== 'tcp')) continue;
      const [src, dst, sport, dport, rsrc, , rsport] = f;
      const host = (ip: string | undefined) => (ip?.includes(':') ? `[${ip}]` : ip);
      out.push(
        `${proto} ${host(src)}:${sport} > ${host(dst)}:${dport} reply-src ${host(rsrc)}:${rsport}`,
      );
    }
  }
  return out.sort();
}

test('conntrack cleanup deletes exactly the entries of gone endpoints and of newly opened frontends', async (t) => {
  const sb = Sandbox.create(t);
  const cli = await sb.netns('cli');
  const nodeNs = await sb.netns('node');
  await veth(sb, cli, nodeNs, '10.9.0', 'fd09:0:0');
  const sink = await sb.netns('sink');
  await veth(sb, nodeNs, sink, '10.8.0', 'fd08:0:0', { a: 'v1', b: 'v0' });
  for (const a of ['10.244.0.5/32', '10.244.0.6/32', '10.244.0.7/32'])
    await sb.exec(nodeNs, 'ip', ['addr', 'add', a, 'dev', 'lo']);
  for (const a of ['fd00:244::5/128', 'fd00:244::6/128'])
    await sb.exec(nodeNs, 'ip', ['addr', 'add', a, 'dev', 'lo']);
  // Before late/new has a rule, its ClusterIP is routed on (to a sink namespace): the
  // entry is made and confirmed, undisturbed by any DNAT, as traffic to a frontend
  // that does not forward yet would be.
  await sb.exec(nodeNs, 'ip', ['route', 'add', '10.96.0.0/16', 'via', '10.8.0.2']);
  await sb.exec(nodeNs, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await sb.exec(cli, 'ip', ['route', 'add', '10.96.0.0/16', 'via', '10.9.0.2']);
  await sb.exec(cli, 'ip', ['-6', 'route', 'add', 'fd00:10:96::/64', 'via', 'fd09::2']);
  await sb.exec(nodeNs, 'nft', ['-f', '-'], RULES);

  const sent = await node(
    sb,
    cli,
    SEND,
    JSON.stringify([
      ['10.96.0.10', 53, 41001],
      ['10.96.0.10', 53, 41002],
      ['10.96.0.10', 53, 41003],
      ['10.96.0.11', 53, 41004],
      ['10.96.0.12', 53, 43000],
      ['10.9.0.2', 30053, 42002],
      ['10.9.0.2', 30053, 42005],
      ['fd00:10:96::a', 53, 41011],
      ['fd00:10:96::a', 53, 41012],
    ]),
  );
  assert.equal(sent.trim(), 'sent');
  await echoServer(sb, nodeNs, '10.244.0.6', 5353);
  const held = sb.spawnIn(cli, process.execPath, ['-e', HOLD, '10.96.0.10', '53', '41050']);
  await new Promise<void>((resolve, reject) => {
    held.stdout?.on('data', (d: Buffer) =>
      String(d).includes('connected') ? resolve() : reject(new Error(String(d))),
    );
  });

  const expectedBefore = [
    'tcp 10.9.0.1:41050 > 10.96.0.10:53 reply-src 10.244.0.6:5353',
    'udp 10.9.0.1:41001 > 10.96.0.10:53 reply-src 10.244.0.5:5353',
    'udp 10.9.0.1:41002 > 10.96.0.10:53 reply-src 10.244.0.6:5353',
    'udp 10.9.0.1:41003 > 10.96.0.10:53 reply-src 10.244.0.7:5353',
    'udp 10.9.0.1:41004 > 10.96.0.11:53 reply-src 10.244.0.6:5353',
    'udp 10.9.0.1:42002 > 10.9.0.2:30053 reply-src 10.244.0.6:5353',
    'udp 10.9.0.1:42005 > 10.9.0.2:30053 reply-src 10.244.0.5:5353',
    'udp 10.9.0.1:43000 > 10.96.0.12:53 reply-src 10.96.0.12:53',
    'udp [fd09::1]:41011 > [fd00:10:96::a]:53 reply-src [fd00:244::5]:5353',
    'udp [fd09::1]:41012 > [fd00:10:96::a]:53 reply-src [fd00:244::6]:5353',
  ].sort();
  // Datagrams leave when the neighbour (IPv6: after neighbour discovery) is known.
  let before = await entries(sb, nodeNs);
  for (let i = 0; i < 50 && before.length < expectedBefore.length; i++) {
    await new Promise((r) => setTimeout(r, 20));
    before = await entries(sb, nodeNs);
  }
  assert.deepEqual(before, expectedBefore);

  // 10.244.0.6 and fd00:244::6 leave kube-system/dns (not other/dns2); late/new gets 10.244.0.7.
  const prev = buildServiceModel(
    cluster(['10.244.0.5', '10.244.0.6', '10.244.0.7'], ['fd00:244::5', 'fd00:244::6'], []),
    'node-a',
  );
  const next = buildServiceModel(
    cluster(['10.244.0.5', '10.244.0.7'], ['fd00:244::5'], ['10.244.0.7']),
    'node-a',
  );
  const started = Date.now();
  const filters = planConntrackCleanup(prev, next);
  const result = await deleteStaleEntries(filters, { netns: nodeNs });
  const took = Date.now() - started;
  assert.deepEqual(result.failures, []);
  assert.equal(result.done, filters.length);
  assert.equal(result.deleted, 4);
  assert.ok(took < 1000, `cleanup took ${took} ms`);

  const gone = [
    'udp 10.9.0.1:41002 > 10.96.0.10:53 reply-src 10.244.0.6:5353',
    'udp 10.9.0.1:42002 > 10.9.0.2:30053 reply-src 10.244.0.6:5353',
    'udp 10.9.0.1:43000 > 10.96.0.12:53 reply-src 10.96.0.12:53',
    'udp [fd09::1]:41012 > [fd00:10:96::a]:53 reply-src [fd00:244::6]:5353',
  ];
  assert.deepEqual(
    await entries(sb, nodeNs),
    expectedBefore.filter((e) => !gone.includes(e)),
  );

  // Run again: nothing matches, which is no failure ("0 flow entries have been deleted").
  const again = await deleteStaleEntries(filters, { netns: nodeNs });
  assert.deepEqual(again.failures, []);
  assert.equal(again.done, filters.length);
  assert.equal(again.deleted, 0);
});
