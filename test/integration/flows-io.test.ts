// The flow readers against the real kernel: packets dropped by an nft rule
// with `log group G` come out of NflogReader decoded, with their prefix; a
// TCP connection through a router shows up in ConntrackReader as NEW then
// DESTROY with counters, and a sweep ends expired entries at once; a burst of 50k logged packets neither crashes the
// reader nor grows its memory, and every event is accounted for.
import test from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { run } from '../../src/host/exec.js';
import type { ConntrackEvent } from '../../src/kernel-readers/conntrack.js';
import { ConntrackReader } from '../../src/kernel-readers/conntrack-reader.js';
import { sweepExpiredConnections } from '../../src/kernel-readers/conntrack-sweep.js';
import { NflogReader } from '../../src/kernel-readers/nflog-reader.js';
import { ifindex, node, veth, within } from '../support/netpair.js';
import { Sandbox } from '../support/sandbox.js';
import { echoServer } from '../support/traffic.js';

/** Consumes an async iterable in the background, noting when each item arrived. */
function collect<T>(it: AsyncIterable<T>) {
  const events: { item: T; arrived: number }[] = [];
  const state: { error?: unknown } = {};
  const done = (async () => {
    try {
      for await (const item of it) events.push({ item, arrived: Date.now() });
    } catch (e) {
      state.error = e;
    }
  })();
  return { events, state, done };
}

/** A TCP connect from a fixed local port, given up after 300 ms (the SYN is dropped). */
const TCP_TRY = `
const net = require('node:net');
const [host, port, localPort] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port), localPort: Number(localPort), timeout: 300 });
s.on('timeout', () => s.destroy());
s.on('error', () => {});
`;

/** One UDP datagram "hello" from a fixed local port. */
const UDP_SEND = `
const dgram = require('node:dgram');
const [host, port, localPort] = process.argv.slice(1);
const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
u.bind(Number(localPort), () => u.send('hello', Number(port), host, () => u.close()));
`;

/** `count` UDP datagrams of 16 bytes as fast as the socket takes them; prints how many were sent. */
const UDP_FLOOD = `
const dgram = require('node:dgram');
const [host, port, count] = process.argv.slice(1);
const u = dgram.createSocket('udp4');
const b = Buffer.alloc(16);
let n = 0, acked = 0;
const N = Number(count);
const done = () => { if (++acked === N) { console.log(String(acked)); u.close(); } };
(function burst() {
  for (let i = 0; i < 250 && n < N; i++, n++) u.send(b, Number(port), host, done);
  if (n < N) setImmediate(burst);
})();
`;

async function nft(sb: Sandbox, ns: string, ruleset: string): Promise<void> {
  await sb.exec(ns, 'nft', ['-f', '-'], ruleset);
}

function dropRules(group: number, prefix: string): string {
  const log = `log group ${group} prefix "${prefix}" queue-threshold 1`;
  return `table inet flowtest {
  chain input {
    type filter hook input priority filter; policy accept;
    tcp dport 8080 ${log} drop
    udp dport 9999 counter ${log} drop
  }
}
`;
}

async function requireTools(): Promise<void> {
  await run('tcpdump', ['--version']).catch(() => {
    throw new Error('tcpdump is not installed: apt-get install -y tcpdump');
  });
}

test('nflog: dropped TCP/UDP, IPv4/IPv6 packets arrive decoded with their prefix within a second', async (t) => {
  await requireTools();
  const sb = Sandbox.create(t);
  const cli = await sb.netns('cli');
  const srv = await sb.netns('srv');
  const l = await veth(sb, cli, srv, '10.231.1', 'fd00:231:1');
  await nft(sb, srv, dropRules(7, 'x1'));
  const reader = await NflogReader.start({ group: 7, netns: srv });
  t.after(() => reader.close());
  const got = collect(reader);
  const find = (sport: number) => got.events.find((e) => e.item.packet?.sport === sport);

  await node(sb, cli, TCP_TRY, l.b4, '8080', '41001');
  await node(sb, cli, UDP_SEND, l.b4, '9999', '41002');
  await node(sb, cli, TCP_TRY, l.b6, '8080', '41003');
  const tcp4 = await within(1000, 'TCP/IPv4 drop', () => find(41001));
  const udp4 = await within(1000, 'UDP/IPv4 drop', () => find(41002));
  const tcp6 = await within(1000, 'TCP/IPv6 drop', () => find(41003));

  const inIfindex = await ifindex(srv, 'v0');
  const common = { group: 7, prefix: 'x1', hook: 1, inIfindex };
  for (const e of [tcp4, udp4, tcp6]) {
    assert.deepEqual(
      {
        group: e.item.group,
        prefix: e.item.prefix,
        hook: e.item.hook,
        inIfindex: e.item.inIfindex,
      },
      common,
    );
    const latency = e.arrived - e.item.time;
    assert.ok(latency >= -50 && latency < 1000, `delivered ${latency} ms after the packet`);
  }
  assert.deepEqual(tcp4.item.packet, {
    ipVersion: 4,
    src: l.a4,
    dst: l.b4,
    ipProtocol: 6,
    ttl: 64,
    length: tcp4.item.packet?.length,
    fragment: false,
    sport: 41001,
    dport: 8080,
    tcpFlags: 0x02,
  });
  assert.ok((tcp4.item.packet?.length ?? 0) >= 40, 'an IPv4 SYN is at least 40 bytes');
  assert.deepEqual(udp4.item.packet, {
    ipVersion: 4,
    src: l.a4,
    dst: l.b4,
    ipProtocol: 17,
    ttl: 64,
    length: 20 + 8 + 5,
    fragment: false,
    sport: 41002,
    dport: 9999,
  });
  assert.equal(tcp6.item.packet?.ipVersion, 6);
  assert.equal(tcp6.item.packet?.src, l.a6);
  assert.equal(tcp6.item.packet?.dst, l.b6);
  assert.equal(tcp6.item.packet?.dport, 8080);
  assert.equal(tcp6.item.packet?.tcpFlags, 0x02);
  assert.equal(reader.stats().malformed, 0);
  // tcpdump's own counts, asked for with SIGUSR1: it read what the reader parsed.
  const counts = await reader.tcpdumpStats();
  assert.equal(counts?.captured, reader.stats().captured);
  assert.equal(counts?.droppedByKernel, 0);
});

test('nflog: a second reader of the same group is refused; a reader whose tcpdump dies ends with an error', async (t) => {
  await requireTools();
  const sb = Sandbox.create(t);
  const ns = await sb.netns('one');
  const first = await NflogReader.start({ group: 11, netns: ns });
  t.after(() => first.close());
  await assert.rejects(
    NflogReader.start({ group: 11, netns: ns }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'WEFT_FLOW_READER_START');
      assert.match(
        e.message,
        /cannot read nflog group 11: .*another process already reads nflog group 11/s,
      );
      return true;
    },
  );
  await assert.rejects(
    NflogReader.start({ group: 70000, netns: ns }),
    /must be an integer 0-65535/,
  );
  const got = collect(first);
  process.kill(first.pid as number, 'SIGKILL');
  await got.done;
  assert.match(String(got.state.error), /nflog reader stopped: .*killed by SIGKILL/);
});

test('conntrack: a TCP connection through a router gives NEW, then DESTROY with counters', async (t) => {
  const sb = Sandbox.create(t);
  const c = await sb.netns('c');
  const r = await sb.netns('r');
  const s = await sb.netns('s');
  const cr = await veth(sb, c, r, '10.232.1', 'fd00:232:1', { a: 'v0', b: 'c0' });
  const rs = await veth(sb, r, s, '10.232.2', 'fd00:232:2', { a: 's0', b: 'v0' });
  await run('ip', ['-n', c, 'route', 'add', 'default', 'via', cr.b4]);
  await run('ip', ['-n', s, 'route', 'add', 'default', 'via', rs.a4]);
  // The tracker runs where a ruleset uses it; the mark shows up in the events.
  await nft(
    sb,
    r,
    'table inet flowtest {\n chain fw {\n  type filter hook forward priority filter; policy accept;\n  ct state new ct mark set 42\n }\n}\n',
  );
  await sb.exec(r, 'sysctl', [
    '-qw',
    'net.ipv4.ip_forward=1',
    'net.netfilter.nf_conntrack_acct=1',
    'net.netfilter.nf_conntrack_timestamp=1',
  ]);
  const reader = await ConntrackReader.start({ netns: r });
  t.after(() => reader.close());
  const got = collect(reader);
  await echoServer(sb, s, '0.0.0.0', 7070);

  const ECHO_3000 = `
const net = require('node:net');
const [host, port, localPort] = process.argv.slice(1);
let got = 0;
const s = net.connect({ host, port: Number(port), localPort: Number(localPort) }, () => s.write('x'.repeat(3000)));
s.on('data', (d) => { got += d.length; if (got >= 3000) s.end(); });
s.on('close', () => console.log(got));
`;
  assert.equal((await node(sb, c, ECHO_3000, rs.b4, '7070', '42001')).trim(), '3000');
  const mine = (type: ConntrackEvent['type']) => () =>
    got.events.find((e) => e.item.type === type && e.item.original.sport === 42001);
  const created = (await within(1000, 'NEW event', mine('new'))).item;
  assert.equal(created.protocol, 'tcp');
  assert.equal(created.family, 4);
  assert.equal(created.state, 'SYN_SENT');
  assert.deepEqual(created.original, { src: cr.a4, dst: rs.b4, sport: 42001, dport: 7070 });
  assert.deepEqual(created.reply, { src: rs.b4, dst: cr.a4, sport: 7070, dport: 42001 });
  assert.deepEqual(created.flags, ['UNREPLIED']);
  assert.equal(created.mark, 42);
  assert.ok(Math.abs(created.time - Date.now()) < 5000, 'event time is wall-clock time');

  // The closed connection lingers in TIME_WAIT; deleting it sends its DESTROY now.
  await sb.exec(r, 'conntrack', ['-D', '-p', 'tcp', '--orig-port-src', '42001']);
  const destroyed = (await within(1000, 'DESTROY event', mine('destroy'))).item;
  assert.equal(destroyed.id, created.id);
  assert.equal(destroyed.mark, 42);
  assert.ok(destroyed.flags.includes('ASSURED'));
  const o = destroyed.original;
  const p = destroyed.reply;
  assert.ok((o.packets ?? 0) >= 4, `client packets ${o.packets}: SYN, ACK, data, FIN at least`);
  assert.ok((o.bytes ?? 0) >= 3000 + 4 * 40, `client bytes ${o.bytes}`);
  assert.ok((p.packets ?? 0) >= 3, `server packets ${p.packets}: SYN-ACK, data, FIN at least`);
  assert.ok((p.bytes ?? 0) >= 3000 + 3 * 40, `server bytes ${p.bytes}`);
  assert.equal(reader.stats().malformed, 0);
  assert.equal(reader.stats().kernelOverflows, 0);

  // Paused, the reader hands out nothing; resumed, it hands out what waited, nothing lost.
  reader.pause();
  assert.equal((await node(sb, c, ECHO_3000, rs.b4, '7070', '42002')).trim(), '3000');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(
    got.events.find((e) => e.item.original.sport === 42002),
    undefined,
    'nothing read while paused',
  );
  reader.resume();
  await within(1000, 'NEW event after resume', () =>
    got.events.find((e) => e.item.type === 'new' && e.item.original.sport === 42002),
  );
  assert.equal(reader.stats().kernelOverflows, 0);
});

test('conntrack sweep: an expired entry ends at the sweep; live ones stay', async (t) => {
  const sb = Sandbox.create(t);
  const ns = await sb.netns('sw');
  await nft(
    sb,
    ns,
    'table inet flowtest {\n chain out {\n  type filter hook output priority filter; policy accept;\n  ct state new counter\n }\n}\n',
  );
  const reader = await ConntrackReader.start({ netns: ns });
  t.after(() => reader.close());
  const got = collect(reader);
  // Live entries with a long timeout (the collector then comes by rarely),
  // then one that expires after a second.
  await sb.exec(ns, 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=600']);
  for (let i = 0; i < 4; i++) await node(sb, ns, UDP_SEND, '127.0.0.1', '9000', String(43000 + i));
  await sb.exec(ns, 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=1']);
  await node(sb, ns, UDP_SEND, '127.0.0.1', '9000', '43100');
  const ofPort = (type: ConntrackEvent['type'], port: number) => () =>
    got.events.find((e) => e.item.type === type && e.item.original.sport === port);
  await within(1000, 'NEW of the short entry', ofPort('new', 43100));
  await new Promise((r) => setTimeout(r, 1500)); // expired, still in the table

  const swept = Date.now();
  await sweepExpiredConnections({ netns: ns });
  const end = await within(1000, 'DESTROY of the expired entry after the sweep', () =>
    ofPort('destroy', 43100)(),
  );
  assert.ok(end.arrived - swept < 1000, `ended ${end.arrived - swept} ms after the sweep`);
  const live = await sb.exec(ns, 'conntrack', ['-L', '-p', 'udp']);
  for (let i = 0; i < 4; i++)
    assert.match(live, new RegExp(`sport=${43000 + i} `), `live entry ${43000 + i} stays`);
  assert.equal(
    got.events.filter((e) => e.item.type === 'destroy').length,
    1,
    'only the expired one ended',
  );

  await assert.rejects(
    sweepExpiredConnections({ netns: ns, conntrack: '/nonexistent/conntrack' }),
    /nonexistent\/conntrack/,
  );
});

function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

async function udpCounter(sb: Sandbox, ns: string): Promise<number> {
  const out = await sb.exec(ns, 'nft', ['list', 'chain', 'inet', 'flowtest', 'input']);
  const m = /udp dport 9999 counter packets (\d+)/.exec(out);
  if (!m) throw new Error(`no counter in:\n${out}`);
  return Number(m[1]);
}

/** Until the reader's capture count stands still for 300 ms (at most 20 s). */
async function settled(reader: NflogReader): Promise<void> {
  let last = -1;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    const c = reader.stats().captured;
    if (c === last) return;
    last = c;
  }
}

test('nflog burst: 50k logged packets, a consumer that does not read; the reader reads on, bounded memory, all accounted for', async (t) => {
  await requireTools();
  const sb = Sandbox.create(t);
  const cli = await sb.netns('cli');
  const srv = await sb.netns('srv');
  const l = await veth(sb, cli, srv, '10.233.1', 'fd00:233:1');
  await nft(sb, srv, dropRules(9, 'burst'));
  const CAPACITY = 1000;
  const reader = await NflogReader.start({ group: 9, netns: srv, queueCapacity: CAPACITY });
  t.after(() => reader.close());
  const heap0 = heapAfterGc();

  const sent = Number(await node(sb, cli, UDP_FLOOD, l.b4, '9999', '50000'));
  assert.equal(sent, 50_000);
  await settled(reader);
  const heap1 = heapAfterGc();
  const logged = await udpCounter(sb, srv);
  const s = reader.stats();
  t.diagnostic(
    `sent ${sent}, logged by the kernel ${logged}, captured ${s.captured}, queued ${s.queued}, ` +
      `dropped in the queue ${s.queueDropped}, lost before tcpdump ${logged - s.captured}, ` +
      `heap growth ${((heap1 - heap0) / 1e6).toFixed(1)} MB`,
  );
  assert.ok(logged <= sent && logged > sent * 0.5, `the rule logged ${logged} of ${sent}`);
  // Nobody read: the reader read on, the queue filled, and every event past
  // its capacity was discarded here, counted one by one (none left uncounted
  // in the kernel's socket buffer by a reader that stopped reading).
  assert.ok(s.captured > CAPACITY * 10, `captured ${s.captured}: reading went on`);
  assert.equal(s.queued, CAPACITY, 'the queue is full');
  assert.ok(s.queued <= CAPACITY);
  assert.equal(s.delivered, 0);
  assert.equal(s.queueDropped, s.captured - s.malformed - s.queued, 'the rest counted as dropped');
  assert.ok(heap1 - heap0 < 16e6, `heap grew by ${heap1 - heap0} bytes`);

  // The reader still works: the queue drains, reading goes on, one more packet comes through.
  const queued = s.queued;
  const got = collect(reader);
  await within(2000, 'queue drained', () => (got.events.length >= queued ? true : undefined));
  assert.ok(got.events.slice(0, queued).every((e) => e.item.packet?.dport === 9999));
  await settled(reader);
  await node(sb, cli, UDP_SEND, l.b4, '9999', '41999');
  await within(1000, 'a packet after the burst', () =>
    got.events.find((e) => e.item.packet?.sport === 41999),
  );
  const final = await reader.close();
  await got.done;
  t.diagnostic(
    `tcpdump: ${JSON.stringify(final.tcpdump)} (its kernel drops count overflows, not packets)`,
  );
  assert.equal(final.delivered + final.queueDropped, final.captured - final.malformed);
  // tcpdump counts on its own what it read from the kernel: the same number.
  assert.equal(final.tcpdump?.captured, final.captured);
});
