// The Kubernetes source under random fault schedules (seeded, bounded): many
// mutations of every kind interleaved with cut watches (mid-event too), 500s,
// 410s (HTTP and ERROR events), compactions, slow and silent answers and
// reset connections. Every Cluster the source hands on must show, for each
// resource, a state the server really had (nothing lost, duplicated or
// half-applied, even mid-relist), and the last one must be the server's.
import test from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/core/errors.js';
import { buildCluster } from '../../src/core/model/cluster.js';
import type { Cluster } from '../../src/core/model/types.js';
import { Rng } from '../../src/testing/random-cluster.js';
import type { FakeApiServer, Fault } from '../support/fake-apiserver.js';
import { FAKE_RESOURCES } from '../support/fake-store.js';
import {
  cnp,
  converged,
  node,
  np,
  ns,
  part,
  pod,
  seed,
  slice,
  svc,
  serverObjects,
  sleep,
  startServer,
  startSource,
} from '../support/kube-harness.js';

const RESOURCES = Object.keys(FAKE_RESOURCES);
const SEEDS = 8;
const STEPS = 80;

/** Every state each resource has had on the server, as `part` texts. */
class History {
  private readonly seen = new Map<string, Set<string>>(RESOURCES.map((r) => [r, new Set()]));

  record(server: FakeApiServer, resource: string): void {
    const cluster = buildCluster(serverObjects(server, [resource])).cluster;
    this.seen.get(resource)?.add(part(cluster, resource));
  }

  check(c: Cluster, where: string): void {
    for (const r of RESOURCES) {
      assert.ok(
        this.seen.get(r)?.has(part(c, r)),
        `${where}: ${r} in a state the server never had`,
      );
    }
  }
}

class Mutator {
  private next = 100;
  private readonly names = new Map<string, string[]>(RESOURCES.map((r) => [r, []]));

  constructor(
    private readonly r: Rng,
    private readonly server: FakeApiServer,
  ) {
    for (const name of RESOURCES) {
      for (const o of server.store.objects(name)) {
        const m = o['metadata'] as { name: string; namespace?: string };
        this.names.get(name)?.push(m.namespace ? `${m.namespace}/${m.name}` : m.name);
      }
    }
  }

  /** One random create, update or delete; returns the resource it touched. */
  mutate(): string {
    const { r, server } = this;
    const resource = r.pick(RESOURCES);
    const keys = this.names.get(resource) as string[];
    const op = keys.length === 0 ? 0 : r.int(3);
    if (op === 2) {
      const key = keys.splice(r.int(keys.length), 1)[0] as string;
      server.remove(resource, key);
      return resource;
    }
    const key = op === 1 ? r.pick(keys) : this.newKey(resource);
    const obj = this.object(resource, key);
    if (op === 1) server.update(resource, obj);
    else {
      server.create(resource, obj);
      keys.push(key);
    }
    return resource;
  }

  private newKey(resource: string): string {
    const n = this.next++;
    const namespaced = FAKE_RESOURCES[resource]?.namespaced;
    return namespaced ? `${this.r.pick(['prod', 'dev', 'other'])}/o${n}` : `o${n}`;
  }

  private object(resource: string, key: string): Record<string, unknown> {
    const [a, b] = key.split('/') as [string, string | undefined];
    const n = this.next++;
    const app = this.r.pick(['web', 'db', 'cache']);
    switch (resource) {
      case 'namespaces':
        return ns(a, { team: app });
      case 'pods':
        return pod(a, b as string, `10.9.${n >> 8}.${n & 255}`, { app });
      case 'nodes':
        return node(a, `10.${100 + (n % 100)}.0.0/24`);
      case 'networkpolicies': {
        const p = np(a, b as string, app);
        // Now and then an invalid one, which must stay out without stopping the rest.
        if (this.r.chance(0.1)) (p['spec'] as Record<string, unknown>)['policyTypes'] = ['Up'];
        return p;
      }
      case 'services':
        return svc(a, b as string, 1 + (n % 1000));
      case 'endpointslices':
        return slice(a, b as string, app, [`10.8.${n >> 8}.${n & 255}`], this.r.chance(0.5));
      default:
        return cnp(a, n % 1000);
    }
  }
}

function randomFault(r: Rng): Fault {
  const resource = r.pick(RESOURCES);
  switch (r.int(9)) {
    case 0:
      return {
        kind: 'drop',
        verb: 'watch',
        resource,
        afterLines: r.int(4),
        midLine: r.chance(0.5),
      };
    case 1:
      return {
        kind: 'status',
        code: r.pick([500, 503, 429]),
        verb: r.pick(['list', 'watch']),
        resource,
      };
    case 2:
      return { kind: 'status', code: 410, reason: 'Expired', verb: 'watch', resource };
    case 3:
      return { kind: 'expire', verb: 'watch', resource };
    case 4:
      return { kind: 'delay', ms: r.int(80), verb: r.pick(['list', 'watch']), resource };
    case 5:
      return { kind: 'reset', resource };
    case 6:
      return { kind: 'delay', ms: 50, verb: 'list', resource, continued: true };
    case 7:
      return { kind: 'stall', verb: 'list', resource };
    default:
      return { kind: 'silence', verb: 'watch', resource };
  }
}

for (let s = 1; s <= SEEDS; s++) {
  test(`kube source under random faults converges with nothing lost or duplicated (seed ${s})`, async (t) => {
    const r = new Rng(s);
    const server = await startServer(t, { bookmarkMs: 20 + r.int(200) });
    seed(server, 12);
    const history = new History();
    for (const res of RESOURCES) history.record(server, res);
    const mutator = new Mutator(r, server);
    const h = await startSource(t, server, {
      pageSize: 1 + r.int(6),
      idleTimeoutMs: 300,
      requestTimeoutMs: 300,
      watchTimeoutSeconds: r.pick([1, 300]),
    });
    for (let step = 0; step < STEPS; step++) {
      const action = r.int(10);
      if (action < 6) history.record(server, mutator.mutate());
      else if (action === 6) server.inject(randomFault(r));
      else if (action === 7) server.dropWatches(r.chance(0.5) ? r.pick(RESOURCES) : undefined);
      else if (action === 8) server.compact();
      await sleep(r.int(8));
    }
    await converged(h, 15_000);
    h.clusters.forEach((c, i) => history.check(c, `seed ${s}, cluster ${i}`));
    const bad = h.errors.filter(
      (e) => e instanceof WeftError && e.issues.some((i) => i.code !== 'WEFT_INVALID_FIELD'),
    );
    assert.deepEqual(bad, [], 'no duplicates or address conflicts');
    for (const st of h.watch.status().resources) assert.ok(st.synced, st.resource);
  });
}
