// The healthCheckNodePort servers as a load balancer sees them: the servers
// run in a node namespace on the node's addresses (IPv4 and IPv6), and a
// prober in another namespace reaches them over a veth; answers follow the
// model's counts as they change, a port held by another process is
// reported while the other Services are served, and nothing listens on an
// address that was not given.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { HealthCheckStatus } from '../../src/components/services/health-check.js';
import type { HealthCheck } from '../../src/core/services/types.js';
import { repoRoot } from '../../src/testing/paths.js';
import { node, veth } from '../support/netpair.js';
import { Sandbox } from '../support/sandbox.js';
import { echoServer } from '../support/traffic.js';

/** Runs ServiceHealthServers; each stdin line `{checks, addresses}` is a sync, answered by its status. */
const SERVERS = `
const { ServiceHealthServers } = await import(process.argv[1]);
const hc = new ServiceHealthServers();
const { createInterface } = await import('node:readline');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const { checks, addresses } = JSON.parse(line);
  console.log(JSON.stringify(await hc.sync(checks, addresses)));
}
await hc.close();
`;

/** One GET; prints `STATUS localEndpoints`, or the error's code. */
const PROBE = `
const http = require('node:http');
const [host, port] = process.argv.slice(1);
http.get({ host, port: Number(port), path: '/healthz', timeout: 2000 }, (res) => {
  let body = '';
  res.on('data', (d) => (body += d));
  res.on('end', () => console.log(res.statusCode, JSON.parse(body).localEndpoints));
}).on('error', (e) => console.log(e.code));
`;

const web = (n: number): HealthCheck => ({
  service: { namespace: 'shop', name: 'web' },
  nodePort: 32001,
  localEndpoints: n,
});
const api: HealthCheck = {
  service: { namespace: 'shop', name: 'api' },
  nodePort: 32002,
  localEndpoints: 0,
};
const db: HealthCheck = {
  service: { namespace: 'shop', name: 'db' },
  nodePort: 32003,
  localEndpoints: 1,
};

test('health checks answer a load balancer on the node addresses, follow the model, report a port in use', async (t) => {
  const sb = Sandbox.create(t);
  const lb = await sb.netns('lb');
  const nodeNs = await sb.netns('node');
  await veth(sb, lb, nodeNs, '10.9.0', 'fd09:0:0');
  const module = join(repoRoot(), 'dist/components/services/health-check.js');
  const child = spawn(
    'ip',
    ['netns', 'exec', nodeNs, process.execPath, '--input-type=module', '-e', SERVERS, module],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  sb.own(child);
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const sync = async (checks: HealthCheck[], addresses: string[]): Promise<HealthCheckStatus> => {
    child.stdin.write(`${JSON.stringify({ checks, addresses })}\n`);
    const next = await answers.next();
    assert.ok(!next.done, 'the servers process ended');
    return JSON.parse(next.value as string) as HealthCheckStatus;
  };
  const probe = async (ns: string, host: string, port: number) =>
    (await node(sb, ns, PROBE, host, String(port))).trim();

  const nodeAddresses = ['10.9.0.2', 'fd09::2'];
  const first = await sync([web(2), api], nodeAddresses);
  assert.deepEqual(first.failed, []);
  assert.equal(await probe(lb, '10.9.0.2', 32001), '200 2');
  assert.equal(await probe(lb, 'fd09::2', 32001), '200 2');
  assert.equal(await probe(lb, '10.9.0.2', 32002), '503 0');
  // Only the addresses given: not the node's loopback.
  assert.equal(await probe(nodeNs, '127.0.0.1', 32001), 'ECONNREFUSED');

  // The last local endpoint of shop/web goes: the load balancer is told at once.
  await sync([web(0), api], nodeAddresses);
  assert.equal(await probe(lb, '10.9.0.2', 32001), '503 0');

  // Another process holds 10.9.0.2:32003: shop/db is reported, the others still answer.
  await echoServer(sb, nodeNs, '10.9.0.2', 32003);
  const busy = await sync([web(1), api, db], nodeAddresses);
  assert.deepEqual(
    busy.failed.map((f) => f.message),
    [
      'Service shop/db: healthCheckNodePort 32003 on 10.9.0.2:32003: the port is already in use (another process listens there); its health check is not served here (retried at the next sync)',
    ],
  );
  assert.deepEqual(
    busy.serving.map((s) => [s.service.name, s.localEndpoints]),
    [
      ['api', 0],
      ['web', 1],
    ],
  );
  assert.equal(await probe(lb, '10.9.0.2', 32001), '200 1');
  // Nothing of shop/db was left open on its other address.
  assert.equal(await probe(lb, 'fd09::2', 32003), 'ECONNREFUSED');

  // shop/web and shop/api are gone from the model: their ports close.
  await sync([], nodeAddresses);
  assert.equal(await probe(lb, '10.9.0.2', 32001), 'ECONNREFUSED');
  assert.equal(await probe(lb, '10.9.0.2', 32002), 'ECONNREFUSED');
  child.stdin.end();
});
