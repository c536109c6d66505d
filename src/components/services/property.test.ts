// A property: for random Services and endpoints, the first packet of every
// connection to every frontend of every node, from a pod there, a pod
// elsewhere, the node itself and clients outside (in and out of the load
// balancer source ranges), traced through the table synced on the fake,
// does what the model's traffic plan says — evaluated here on its own, step
// by step: DNAT to an endpoint of the plan's set (each one reachable),
// masqueraded when the step says so or when the endpoint reaches itself;
// else refused or dropped.
import test from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, parseCidr } from '../../core/net/cidr.js';
import { formatIp, parseIp } from '../../core/net/ip.js';
import type { Frontend, ServicePortModel, TrafficStep } from '../../core/services/types.js';
import { clusterOf } from '../../testing/services.js';
import { LB_SOURCE_RANGE, RANDOM_NODES, randomServices } from '../../testing/random-services.js';
import { outcome, POD_CIDRS, ProxyOnFake, type Send } from '../../testing/service-proxy.js';

interface Client {
  readonly from: string;
  readonly origin: 'network' | 'local';
  readonly what: string;
}

function clients(node: { name: string; address: string }): Client[] {
  const n = Number(node.name.slice(1));
  return [
    { from: `10.244.${n}.250`, origin: 'network', what: 'a pod on this node' },
    { from: `10.244.${(n % 3) + 1}.250`, origin: 'network', what: 'a pod elsewhere' },
    { from: node.address, origin: 'local', what: 'the node itself' },
    { from: '198.51.100.7', origin: 'network', what: 'outside, in the source ranges' },
    { from: '203.0.113.7', origin: 'network', what: 'outside, not in them' },
  ];
}

const inCidr = (text: string, ip: string) => {
  const c = parseCidr(text)?.cidr;
  const a = parseIp(ip);
  return c !== undefined && a !== undefined && cidrContains(c, a);
};

/** The step of the plan a client's connection takes (the model's semantics, read here). */
function stepOf(p: ServicePortModel, f: Frontend, c: Client): TrafficStep | 'dropped' {
  if (f.kind === 'LoadBalancer' && f.sources.kind === 'only') {
    const allowed = f.sources.cidrs.some((cidr) => {
      const a = parseIp(c.from);
      return a !== undefined && cidrContains(cidr, a);
    });
    if (!allowed) return 'dropped';
  }
  const plan = f.kind === 'ClusterIP' ? p.internal : p.external;
  assert.ok(plan, `${p.id}: a ${f.kind} frontend without an external plan`);
  const fromPod = POD_CIDRS.some((cidr) => {
    const a = parseIp(c.from);
    return a !== undefined && cidrContains(cidr, a);
  });
  const step = plan.steps.find(
    (s) =>
      s.from === 'any' ||
      (s.from === 'pod' && fromPod) ||
      (s.from === 'node' && c.origin === 'local'),
  );
  assert.ok(step, `${p.id}: no step of the plan takes ${c.what}`);
  return step;
}

function expected(p: ServicePortModel, f: Frontend, c: Client): string[] {
  const step = stepOf(p, f, c);
  if (step === 'dropped') return ['dropped'];
  const v = step.verdict;
  if (v.kind === 'drop') return ['dropped'];
  const refused = p.protocol === 'TCP' ? 'refused (tcp reset)' : 'refused (icmpx port-unreachable)';
  if (v.kind === 'reject') return [refused];
  const set = v.set === 'cluster' ? p.clusterEndpoints : p.localEndpoints;
  if (set.length === 0) return [refused];
  return set.map((e) => {
    const ip = formatIp(e.ip);
    const masq = step.masquerade || ip === c.from ? ', masqueraded' : '';
    return `to ${ip}:${e.port}${masq}`;
  });
}

test('random Services: every first packet to every frontend does what the traffic plan says', async () => {
  let checked = 0;
  const seen = new Set<string>();
  for (let seed = 1; seed <= 25; seed++) {
    const cluster = clusterOf(...randomServices(seed, 4));
    for (const node of RANDOM_NODES) {
      const proxy = new ProxyOnFake(node.name, [node.address]);
      await proxy.sync(cluster);
      let time = 0;
      for (const p of proxy.model?.ports ?? [])
        for (const f of p.frontends)
          for (const c of clients(node)) {
            const want = expected(p, f, c);
            const got = new Set<string>();
            // Enough tries for numgen to reach every endpoint; far apart, so affinity has expired.
            for (let random = 0; random < want.length; random++) {
              time += 100_000;
              const send: Send = {
                from: c.from,
                to: formatIp(f.ip),
                port: f.port,
                proto: p.protocol.toLowerCase() as Send['proto'],
                origin: c.origin,
                random,
                time,
                sport: 40000 + random * 7919,
              };
              got.add(outcome(proxy.send(send)));
            }
            const where = `seed ${seed} ${node.name} ${p.id} ${f.kind} ${formatIp(f.ip)}:${f.port} from ${c.what}`;
            for (const g of got)
              assert.ok(want.includes(g), `${where}: ${g}, expected one of ${want.join(' | ')}`);
            if (p.loadBalancing === 'random')
              assert.deepEqual(
                [...got].sort(),
                [...want].sort(),
                `${where}: every endpoint reachable`,
              );
            seen.add(`${f.kind} ${[...got][0]?.split(' ')[0]}`);
            checked++;
          }
    }
  }
  // The clusters cover every kind of frontend and answer.
  for (const kind of ['ClusterIP', 'NodePort', 'ExternalIP', 'LoadBalancer'])
    for (const answer of ['to', 'refused', 'dropped'])
      assert.ok(
        seen.has(`${kind} ${answer}`),
        `no ${kind} frontend answered ${answer}: ${[...seen].join(', ')}`,
      );
  assert.ok(checked > 500, `${checked} connections checked`);
  assert.ok(inCidr(LB_SOURCE_RANGE, '198.51.100.7') && !inCidr(LB_SOURCE_RANGE, '203.0.113.7'));
});
