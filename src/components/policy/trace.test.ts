// The rules weft puts in the kernel decide as the policy evaluator does.
// For random clusters spread over two nodes, each node's table (rendered for
// its own pods and applied to the strict fake) is walked by the packet
// tracer: the first packet of every connection between two pods, and between
// a pod and a node, on each of several ports, through every hook it crosses
// on its way (the source's node, then the destination's). The verdict must
// be the evaluator's (`weft policy trace`), which never sees an nft rule.
// Replies, and later packets of an allowed connection, always pass.
import test from 'node:test';
import assert from 'node:assert/strict';
import { formatIp, parseIp } from '../../core/net/ip.js';
import type { IpAddr } from '../../core/net/types.js';
import { podKey, type Cluster, type Pod, type Protocol } from '../../core/model/types.js';
import { compilePolicies } from '../../core/policy/compile.js';
import { Evaluator } from '../../core/policy/evaluate.js';
import { FakeNft } from '../../nft/fake.js';
import type { NftHook } from '../../nft/model.js';
import { transactionText } from '../../nft/text.js';
import { traceText, type Packet, type TraceResult } from '../../nft/trace.js';
import { fullTransaction } from '../../nft/transactions.js';
import { clusterFrom } from '../../testing/policy.js';
import { randomCluster, Rng } from '../../testing/random-cluster.js';
import { renderTable } from './render.js';

const SEEDS = 20;
const NODES = [
  { name: 'node-a', ip: '10.242.0.1' },
  { name: 'node-b', ip: '10.242.0.2' },
];
/** The random clusters' ports, and ports just inside or outside their ranges, on each protocol. */
const PROBES: readonly { port: number; protocol: Protocol }[] = [
  { port: 80, protocol: 'TCP' },
  { port: 8080, protocol: 'TCP' },
  { port: 53, protocol: 'UDP' },
  { port: 9000, protocol: 'UDP' },
  { port: 53, protocol: 'TCP' },
  { port: 75, protocol: 'TCP' },
  { port: 100, protocol: 'UDP' },
  { port: 9000, protocol: 'SCTP' },
];

/** A random cluster whose pods take turns on the two nodes. */
function twoNodeCluster(seed: number): Cluster {
  const objects = randomCluster({ seed, pods: 8, policies: 4, clusterPolicies: 2 })
    .split('\n---\n')
    .map((d) => JSON.parse(d) as { kind: string; spec?: Record<string, unknown> });
  let i = 0;
  for (const o of objects)
    if (o.kind === 'Pod') o.spec = { ...o.spec, nodeName: NODES[i++ % NODES.length]?.name };
  const nodes = NODES.map((n) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: n.name },
    status: { addresses: [{ type: 'InternalIP', address: n.ip }] },
  }));
  return clusterFrom([...nodes, ...objects].map((o) => JSON.stringify(o)).join('\n---\n'));
}

interface Host {
  readonly name: string;
  readonly ip: string;
  readonly fake: FakeNft;
}

/** Each node with its table, rendered for its own pods and applied to a fake of its own. */
async function hosts(cluster: Cluster, seed: number): Promise<Host[]> {
  const ir = compilePolicies(cluster);
  const r = new Rng(seed);
  return Promise.all(
    NODES.map(async (n) => {
      const local = new Set(cluster.pods.filter((p) => p.nodeName === n.name).map(podKey));
      const logDrops = r.chance(0.5) ? { logDrops: { group: 3, ratePerSecond: 10 } } : {};
      const table = renderTable(ir, local, 1 + r.int(65535), logDrops);
      const fake = new FakeNft();
      const tx = fullTransaction(table);
      await fake.apply(tx, transactionText(tx));
      return { ...n, fake };
    }),
  );
}

/** One place a packet is traced: a host and a hook. */
interface Hop {
  readonly host: Host;
  readonly hook: NftHook;
}

interface Probe {
  readonly what: string;
  readonly saddr: string;
  readonly daddr: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly hops: readonly Hop[];
}

/** The first packet of a connection, a reply, or a later packet (with the mark the connection got). */
type Which = 'first' | 'reply' | 'later';

function packet(p: Probe, host: Host, which: Which, ctMark = 0): Packet {
  const reply = which === 'reply';
  const [saddr, daddr] = reply ? [p.daddr, p.saddr] : [p.saddr, p.daddr];
  const [sport, dport] = reply ? [p.port, 40000] : [40000, p.port];
  return {
    family: 4,
    saddr,
    daddr,
    l4proto: p.protocol.toLowerCase(),
    sport,
    dport,
    ct: {
      state: which === 'first' ? 'new' : 'established',
      direction: reply ? 'reply' : 'original',
      mark: ctMark,
    },
    localAddresses: [host.ip],
  };
}

/** Every connection to try: pod to pod, pod to node, node to pod, with the hops each crosses. */
function probes(cluster: Cluster, all: readonly Host[]): Probe[] {
  const hostOf = (node: string | undefined) => all.find((h) => h.name === node) as Host;
  const ip = (pod: Pod) => {
    const first = pod.ips[0];
    assert.ok(first, `${podKey(pod)} has an address`);
    return formatIp(first);
  };
  const out: Probe[] = [];
  const add = (what: string, saddr: string, daddr: string, hops: Hop[]) => {
    for (const { port, protocol } of PROBES) out.push({ what, saddr, daddr, port, protocol, hops });
  };
  for (const src of cluster.pods) {
    const from = hostOf(src.nodeName);
    for (const dst of cluster.pods) {
      if (ip(src) === ip(dst)) continue; // to itself, a pod never leaves its own namespace
      const to = hostOf(dst.nodeName);
      const hops: Hop[] = [{ host: from, hook: 'forward' }];
      if (to !== from) hops.push({ host: to, hook: 'forward' });
      add(`${podKey(src)} → ${podKey(dst)}`, ip(src), ip(dst), hops);
    }
    for (const node of all) {
      const own = node === from;
      // To its own node: the input hook. To another: out through the forward hook, in through the other's input.
      const there: Hop[] = own
        ? [{ host: from, hook: 'input' }]
        : [
            { host: from, hook: 'forward' },
            { host: node, hook: 'input' },
          ];
      add(`${podKey(src)} → ${node.name}`, ip(src), node.ip, there);
      const back: Hop[] = own
        ? [{ host: from, hook: 'output' }]
        : [
            { host: node, hook: 'output' },
            { host: from, hook: 'forward' },
          ];
      add(`${node.name} → ${podKey(src)}`, node.ip, ip(src), back);
    }
  }
  return out;
}

/** The packet through every hop: dropped at the first that drops. */
function walk(p: Probe, which: Which, ctMarks: readonly number[] = []) {
  const hops = which === 'reply' ? [...p.hops].reverse() : p.hops;
  const traces: { hop: Hop; packet: Packet; result: TraceResult }[] = [];
  for (const [i, hop] of hops.entries()) {
    const pk = packet(p, hop.host, which, ctMarks[i]);
    const result = hop.host.fake.trace(hop.hook, pk);
    traces.push({ hop, packet: pk, result });
    if (result.verdict === 'drop') break;
  }
  const allowed = traces.every((t) => t.result.verdict === 'accept');
  const text = traces
    .map(
      (t) =>
        `${t.hop.host.name} ${t.hop.hook}: ${JSON.stringify(t.packet)}\n${traceText(t.result)}`,
    )
    .join('\n');
  return { allowed, traces, text };
}

test('traced through the rendered tables, every first packet meets the evaluator’s verdict', async () => {
  let flows = 0;
  let allowed = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const cluster = twoNodeCluster(seed);
    const evaluator = new Evaluator(compilePolicies(cluster));
    const all = await hosts(cluster, seed);
    for (const p of probes(cluster, all)) {
      const want = evaluator.trace({
        src: parseAddr(p.saddr),
        dst: parseAddr(p.daddr),
        protocol: p.protocol,
        port: p.port,
      });
      const first = walk(p, 'first');
      const where = `seed ${seed}: ${p.what} ${p.port}/${p.protocol}`;
      assert.equal(
        first.allowed,
        want.allowed,
        `${where}: the tables ${first.allowed ? 'allow' : 'drop'} it, the evaluator ${want.allowed ? 'allows' : 'denies'} it\n` +
          `egress: ${JSON.stringify(want.egress)}\ningress: ${JSON.stringify(want.ingress)}\n${first.text}`,
      );
      flows++;
      if (!first.allowed) continue;
      allowed++;
      const reply = walk(p, 'reply');
      assert.ok(reply.allowed, `${where}: its reply is dropped\n${reply.text}`);
      // The connection's mark lets its later packets through without the policy chains.
      const later = walk(
        p,
        'later',
        first.traces.map((t) => t.result.ctMark),
      );
      assert.ok(later.allowed, `${where}: a later packet is dropped\n${later.text}`);
      for (const t of later.traces.filter((x) => x.hop.hook === 'forward'))
        assert.match(
          t.result.matched[0]?.comment ?? '',
          /^connection allowed under the current policy/,
          `${where}: a later packet goes through the policy chains again\n${later.text}`,
        );
    }
  }
  assert.ok(
    flows > 10000 && allowed > flows / 5 && allowed < flows - flows / 5,
    `${allowed} of ${flows} allowed`,
  );
});

function parseAddr(text: string): IpAddr {
  const ip = parseIp(text);
  assert.ok(ip, text);
  return ip;
}
