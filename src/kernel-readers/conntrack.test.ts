import test from 'node:test';
import assert from 'node:assert/strict';
import { parseConntrackLine } from './conntrack.js';

// Lines printed by conntrack v1.4.7 `-E -o extended,timestamp,id` (TAB after the time).
const NEW_TCP =
  '[1795330842.849591]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.98.1.2 dst=10.98.2.2 sport=51614 dport=8080 [UNREPLIED] src=10.98.2.2 dst=10.98.1.2 sport=8080 dport=51614 id=1819001248';
const DESTROY_TCP =
  '[1795330864.303886]\t[DESTROY] ipv4     2 tcp      6 TIME_WAIT src=10.98.1.2 dst=10.98.2.2 sport=51614 dport=8080 packets=5 bytes=273 src=10.98.2.2 dst=10.98.1.2 sport=8080 dport=51614 packets=5 bytes=5268 [ASSURED] delta-time=1 id=1819001248';
const DESTROY_UDP =
  '[1795330864.303952]\t[DESTROY] ipv4     2 udp      17 src=10.98.1.2 dst=10.98.2.2 sport=38342 dport=53 packets=1 bytes=31 [UNREPLIED] src=10.98.2.2 dst=10.98.1.2 sport=53 dport=38342 packets=0 bytes=0 delta-time=2 id=2130977310';
const NEW_ICMP =
  '[1795330800.213666]\t    [NEW] ipv4     2 icmp     1 30 src=10.98.1.2 dst=10.98.2.2 type=8 code=0 id=10589 [UNREPLIED] src=10.98.2.2 dst=10.98.1.2 type=0 code=0 id=10589 id=3393399521';

function parsed(line: string) {
  const r = parseConntrackLine(line);
  if (!r.ok) assert.fail(r.reason);
  return r.event;
}

test('NEW TCP: timeout, state, both tuples, UNREPLIED, conntrack id', () => {
  assert.deepEqual(parsed(NEW_TCP), {
    type: 'new',
    time: 1795330842849.591,
    family: 4,
    protocol: 'tcp',
    protocolNumber: 6,
    timeout: 120,
    state: 'SYN_SENT',
    original: { src: '10.98.1.2', dst: '10.98.2.2', sport: 51614, dport: 8080 },
    reply: { src: '10.98.2.2', dst: '10.98.1.2', sport: 8080, dport: 51614 },
    flags: ['UNREPLIED'],
    id: 1819001248,
  });
});

test('DESTROY TCP: counters per direction, delta-time, ASSURED', () => {
  const e = parsed(DESTROY_TCP);
  assert.equal(e.type, 'destroy');
  assert.equal(e.timeout, undefined);
  assert.equal(e.state, 'TIME_WAIT');
  assert.deepEqual(e.original, {
    src: '10.98.1.2',
    dst: '10.98.2.2',
    sport: 51614,
    dport: 8080,
    packets: 5,
    bytes: 273,
  });
  assert.deepEqual(e.reply, {
    src: '10.98.2.2',
    dst: '10.98.1.2',
    sport: 8080,
    dport: 51614,
    packets: 5,
    bytes: 5268,
  });
  assert.deepEqual(e.flags, ['ASSURED']);
  assert.equal(e.deltaTime, 1);
  assert.equal(e.id, 1819001248);
});

test('DESTROY UDP: no state, zero reply counters kept', () => {
  const e = parsed(DESTROY_UDP);
  assert.equal(e.protocol, 'udp');
  assert.equal(e.state, undefined);
  assert.deepEqual(e.reply, {
    src: '10.98.2.2',
    dst: '10.98.1.2',
    sport: 53,
    dport: 38342,
    packets: 0,
    bytes: 0,
  });
  assert.equal(e.deltaTime, 2);
});

test('ICMP: the tuple id and the conntrack id are told apart', () => {
  const e = parsed(NEW_ICMP);
  assert.deepEqual(e.original, {
    src: '10.98.1.2',
    dst: '10.98.2.2',
    icmp: { type: 8, code: 0, id: 10589 },
  });
  assert.deepEqual(e.reply.icmp, { type: 0, code: 0, id: 10589 });
  assert.equal(e.id, 3393399521);
  const acct =
    '[1700000000.5]\t[DESTROY] ipv4     2 icmp     1 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=7 packets=1 bytes=84 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=7 packets=1 bytes=84 mark=4096 zone=3 use=1 id=99';
  const d = parsed(acct);
  assert.equal(d.time, 1700000000500);
  assert.deepEqual(d.reply, {
    src: '10.0.0.2',
    dst: '10.0.0.1',
    icmp: { type: 0, code: 0, id: 7 },
    packets: 1,
    bytes: 84,
  });
  assert.equal(d.mark, 4096);
  assert.equal(d.zone, 3);
  assert.equal(d.id, 99);
  assert.deepEqual(d.extra, { use: '1' });
});

test('IPv6 and ICMPv6', () => {
  const line =
    '[1700000000.000001]\t    [NEW] ipv6     10 icmpv6   58 30 src=fd00::1 dst=fd00::2 type=128 code=0 id=12 [UNREPLIED] src=fd00::2 dst=fd00::1 type=129 code=0 id=12 id=5';
  const e = parsed(line);
  assert.equal(e.family, 6);
  assert.equal(e.protocolNumber, 58);
  assert.equal(e.time, 1700000000000.001);
  assert.deepEqual(e.original.icmp, { type: 128, code: 0, id: 12 });
  assert.equal(e.id, 5);
});

test('lines that are not events say why', () => {
  const bad = (line: string, why: RegExp) => {
    const r = parseConntrackLine(line);
    assert.equal(r.ok, false, line);
    if (!r.ok) assert.match(r.reason, why);
  };
  bad('', /timestamp first/);
  bad(
    '    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=1.2.3.4',
    /timestamp first \(use -o timestamp\)/,
  );
  bad('[1.5]\t[WHAT] ipv4 2 tcp 6', /expected \[NEW\], \[UPDATE\] or \[DESTROY\], found \[WHAT\]/);
  bad('[1.5]\t[NEW] arp 2 tcp 6 src=1.1.1.1', /layer 3 arp/);
  bad('[1.5]\t[NEW] tcp 6 120 src=1.1.1.1', /layer 3 tcp/);
  bad('[1.5]\t[NEW] ipv4 2 tcp 6 120 src=10.0.0.1 dport=x', /dport=x: not a number/);
  bad(
    '[1.5]\t[NEW] ipv4 2 udp 17 30 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2',
    /reply tuple without src\/dst/,
  );
  bad(
    '[1.5]\t[NEW] ipv4 2 tcp 6 120 src=10.0.0.1 WEIRD dst=1',
    /unexpected WEIRD after the tuples began/,
  );
});
