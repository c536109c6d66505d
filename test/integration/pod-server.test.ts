// Pod servers inside two network namespaces joined by a veth pair, driven over
// their unix control sockets from this process in the root namespace: echo,
// refused and dropped (timeout) with real packets, then shutdown and SIGTERM;
// and agnhost's hostname and clientip asked from the other namespace.
import test from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import { repoRoot } from '../../src/testing/paths.js';
import {
  podServerHealth,
  podServerShutdown,
  probeFrom,
  type ProbeResult,
  type ProbeTarget,
} from '../../src/lab/probe-client.js';
import { NETEXEC_CLIENT, localPort, type NetexecAnswers } from '../support/netexec.js';
import { Sandbox } from '../support/sandbox.js';

const A = { v4: '10.77.0.1', v6: 'fd77::1' };
const B = { v4: '10.77.0.2', v6: 'fd77::2' };
const PORT = 8080;
const DNS = 53;
const CLOSED = 9999;
const TIMEOUT_MS = 300;

interface Pod {
  readonly ns: string;
  readonly control: string;
  readonly child: ChildProcess;
  readonly output: string[];
}

/** `weft lab pod-server` (through its standalone runner) inside `ns`; resolves once it prints ready. */
async function podServer(
  sb: Sandbox,
  ns: string,
  ports: string[],
  extra: string[] = [],
): Promise<Pod> {
  const control = join(sb.dir(), 'control.sock');
  const bin = join(repoRoot(), 'dist/lab/pod-server-bin.js');
  const output: string[] = [];
  const args = [bin, '--control', control, ...ports.flatMap((p) => ['--port', p]), ...extra];
  const child = sb.spawnIn(ns, process.execPath, args, (l) => output.push(l));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready:\n${output.join('')}`)), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (String(d).split('\n').includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${output.join('')}`)));
  });
  return { ns, control, child, output };
}

/** Two namespaces, one veth pair, IPv4 and IPv6 on both ends. */
async function pair(sb: Sandbox): Promise<[string, string]> {
  const a = await sb.netns('a');
  const b = await sb.netns('b');
  await run('ip', [
    '-n',
    a,
    'link',
    'add',
    'eth0',
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    b,
  ]);
  for (const [ns, ip] of [
    [a, A],
    [b, B],
  ] as const) {
    await run('ip', ['-n', ns, 'addr', 'add', `${ip.v4}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', ns, 'addr', 'add', `${ip.v6}/64`, 'dev', 'eth0', 'nodad']);
    await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  }
  await Promise.all([ipv6Ready(a), ipv6Ready(b)]);
  return [a, b];
}

/**
 * A fresh link takes IPv6 multicast — neighbour discovery — only once its
 * link-local address is configured, up to a few seconds after it comes up;
 * until then neighbour solicitations are dropped (Ip6InNoRoutes).
 */
async function ipv6Ready(ns: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const local = await run('ip', ['-n', ns, '-6', 'route', 'show', 'table', 'local']);
    if (/^multicast ff00::\/8 dev eth0 /m.test(local)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`IPv6 on eth0 in ${ns} not ready within 10 s`);
}

const target = (ip: string, port: number, protocol: 'TCP' | 'UDP'): ProbeTarget => ({
  ip,
  port,
  protocol,
  timeoutMs: TIMEOUT_MS,
});

/** Every (ip, port, protocol) of `to`, probed from `from`; outcome by `ip port/PROTO`. */
async function sweep(from: Pod, to: typeof A, ports: number[]): Promise<Record<string, string>> {
  const targets = [to.v4, to.v6].flatMap((ip) =>
    ports.flatMap((port) => [target(ip, port, 'TCP'), target(ip, port, 'UDP')]),
  );
  const results = await probeFrom(from.control, targets);
  return Object.fromEntries(
    targets.map((t, i) => [`${t.ip} ${t.port}/${t.protocol}`, outcome(results[i])]),
  );
}

function outcome(r: ProbeResult | undefined): string {
  return r?.outcome ?? 'missing';
}

function expectAll(ip: typeof A, ports: number[], outcomeOf: (port: number) => string) {
  return Object.fromEntries(
    [ip.v4, ip.v6].flatMap((addr) =>
      ports.flatMap((port) => [
        [`${addr} ${port}/TCP`, outcomeOf(port)],
        [`${addr} ${port}/UDP`, outcomeOf(port)],
      ]),
    ),
  );
}

test('pod servers in two namespaces probe each other: connected, refused, dropped', async (t) => {
  const sb = Sandbox.create(t);
  const [nsA, nsB] = await pair(sb);
  const [a, b] = await Promise.all([
    podServer(sb, nsA, [`${PORT}/TCP`]),
    podServer(sb, nsB, [`${PORT}/TCP`, `${DNS}/UDP`, '132/SCTP']),
  ]);

  const health = await podServerHealth(b.control);
  assert.equal(health.pid, b.child.pid, 'ip netns exec execs the server itself');
  assert.deepEqual(
    health.ports.map((p) => `${p.port}/${p.protocol}`),
    ['53/TCP', '53/UDP', '132/TCP', '132/UDP', '8080/TCP', '8080/UDP'],
  );
  assert.deepEqual(
    health.notServed.map((p) => `${p.port}/${p.protocol}`),
    ['132/SCTP'],
  );

  const served = (p: number) => (p === CLOSED ? 'refused' : 'connected');
  assert.deepEqual(
    await sweep(a, B, [PORT, DNS, CLOSED]),
    expectAll(B, [PORT, DNS, CLOSED], served),
  );
  assert.deepEqual(await sweep(b, A, [PORT, CLOSED]), expectAll(A, [PORT, CLOSED], served));

  // B drops everything addressed to A: A's SYNs and datagrams arrive at B, but
  // neither the SYN-ACK, the echo, the RST nor the ICMP error gets back.
  await run('ip', ['-n', nsB, 'route', 'add', 'blackhole', `${A.v4}/32`]);
  await run('ip', ['-n', nsB, 'route', 'add', 'blackhole', `${A.v6}/128`]);
  assert.deepEqual(
    await sweep(a, B, [PORT, CLOSED]),
    expectAll(B, [PORT, CLOSED], () => 'timeout'),
  );
  // From B itself the route fails locally: an error, at once — not a timeout.
  const fromB = await probeFrom(b.control, [target(A.v4, PORT, 'TCP'), target(A.v4, PORT, 'UDP')]);
  assert.deepEqual(
    fromB.map((r) => r.outcome),
    ['error', 'error'],
    JSON.stringify(fromB),
  );

  // Both servers still answer, and stop cleanly: /shutdown, then SIGTERM.
  await podServerShutdown(a.control);
  const [codeA] = (await once(a.child, 'exit')) as [number | null];
  assert.equal(codeA, 0, a.output.join(''));
  assert.equal(existsSync(a.control), false);
  assert.equal((await podServerHealth(b.control)).ok, true);
  b.child.kill('SIGTERM');
  const [codeB] = (await once(b.child, 'exit')) as [number | null];
  assert.equal(codeB, 0, b.output.join(''));
  assert.equal(existsSync(b.control), false);
});

test("agnhost's hostname and clientip, asked from another namespace: the pod name and the client's own address", async (t) => {
  const sb = Sandbox.create(t);
  const [nsA, nsB] = await pair(sb);
  await podServer(sb, nsB, [`${PORT}/TCP`], ['--hostname', 'web-b']);
  for (const [to, from] of [
    [B.v4, `${A.v4}:`],
    [B.v6, `[${A.v6}]:`],
  ] as const) {
    const out = JSON.parse(
      await sb.exec(nsA, process.execPath, ['-e', NETEXEC_CLIENT, to, String(PORT)]),
    ) as NetexecAnswers;
    const [http1, http2, udp1, udp2] = [
      localPort(out.hostname),
      localPort(out.clientip),
      localPort(out.udpHostname),
      localPort(out.udpClientip),
    ];
    assert.deepEqual(
      out,
      {
        hostname: { status: 200, body: 'web-b', localPort: http1 },
        clientip: { status: 200, body: `${from}${http2}`, localPort: http2 },
        udpHostname: { answer: 'web-b', localPort: udp1 },
        udpClientip: { answer: `${from}${udp2}`, localPort: udp2 },
      },
      to,
    );
  }
});
