import test from 'node:test';
import assert from 'node:assert/strict';
import { clusterFrom } from '../../testing/policy.js';
import { Rng, randomCluster } from '../../testing/random-cluster.js';
import { hostCidr, mergeCidrs } from '../net/cidr.js';
import { podKey, type Cluster, type Pod } from '../model/types.js';
import { compilePolicies, PolicyCompiler } from './compile.js';
import { irToJson } from './ir-json.js';
import type { PolicyIr } from './ir.js';

/** Two clusters drawn from different seeds over the same namespaces and pods, mixed. */
function mutate(base: Cluster, other: Cluster, r: Rng): Cluster {
  const pick = <T>(a: readonly T[], b: readonly T[]) =>
    a.map((x, i) => (r.chance(0.3) && b[i] !== undefined ? (b[i] as T) : x));
  return {
    ...base,
    networkPolicies: pick(base.networkPolicies, other.networkPolicies),
    clusterNetworkPolicies: pick(base.clusterNetworkPolicies, other.clusterNetworkPolicies),
  };
}

const json = (ir: PolicyIr) => JSON.stringify(irToJson(ir));

test('a compiler reused across changes gives the IR a fresh compile gives, over 60 random histories', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const a = clusterFrom(randomCluster({ seed, pods: 8, policies: 5, clusterPolicies: 2 }));
    const b = clusterFrom(
      randomCluster({ seed: seed + 1000, pods: 8, policies: 5, clusterPolicies: 2 }),
    );
    const r = new Rng(seed);
    const compiler = new PolicyCompiler();
    let current = a;
    for (let step = 0; step < 6; step++) {
      const scopePods = new Set(current.pods.filter(() => r.chance(0.5)).map(podKey));
      const scope = (p: Pod) => scopePods.has(podKey(p));
      assert.equal(
        json(compiler.compile(current, scope)),
        json(compilePolicies(current, scope)),
        `seed ${seed} step ${step}`,
      );
      // Alternate policy-only changes (reused world) and pod changes (a new one).
      current =
        step % 2 === 0
          ? mutate(current, b, r)
          : {
              ...current,
              pods: current.pods.map((p) => (r.chance(0.2) ? { ...p, labels: {} } : p)),
            };
    }
  }
});

test('an unchanged policy keeps its IR objects; a changed one gets new ones', () => {
  const a = clusterFrom(randomCluster({ seed: 7, pods: 8, policies: 6, clusterPolicies: 2 }));
  const compiler = new PolicyCompiler();
  const first = compiler.compile(a);
  const [changed, ...rest] = a.networkPolicies;
  assert.ok(changed);
  const edited = { ...changed, ingress: [], egress: [] };
  const second = compiler.compile({ ...a, networkPolicies: [edited, ...rest] });
  let reused = 0;
  for (const [id, p] of second.policies) {
    const before = first.policies.get(id);
    const mine = id.startsWith(`np/${changed.namespace}/${changed.name}/`);
    if (mine) assert.notEqual(p, before, `${id} was recompiled`);
    else {
      assert.equal(p, before, `${id} is the same object`);
      reused++;
    }
  }
  assert.ok(reused >= 5, `reused ${reused}`);
});

test('a scope keeps only its pods as endpoints, each with the policies a full compile gives it', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const c = clusterFrom(randomCluster({ seed, pods: 9, policies: 5, clusterPolicies: 2 }));
    const full = compilePolicies(c);
    const inScope = new Set(c.pods.filter((_, i) => i % 3 === 0).map(podKey));
    const scoped = compilePolicies(c, (p) => inScope.has(podKey(p)));
    assert.deepEqual([...scoped.endpoints.keys()].sort(), [...inScope].sort(), `seed ${seed}`);
    for (const [key, e] of scoped.endpoints) {
      const f = full.endpoints.get(key);
      assert.deepEqual(e, f, `seed ${seed} ${key}`);
      for (const d of ['ingress', 'egress'] as const)
        for (const id of [...e[d].admin, ...e[d].networkPolicies, ...e[d].baseline])
          assert.deepEqual(scoped.policies.get(id), full.policies.get(id), `seed ${seed} ${id}`);
    }
    // Nothing else: every compiled policy selects a pod in scope.
    const used = new Set(
      [...scoped.endpoints.values()].flatMap((e) =>
        (['ingress', 'egress'] as const).flatMap((d) => [
          ...e[d].admin,
          ...e[d].networkPolicies,
          ...e[d].baseline,
        ]),
      ),
    );
    assert.deepEqual([...scoped.policies.keys()].sort(), [...used].sort(), `seed ${seed}`);
  }
});

test('the peers of a rule, one by one, add up to its addresses', () => {
  let checked = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const c = clusterFrom(randomCluster({ seed, pods: 8, policies: 5, clusterPolicies: 2 }));
    for (const s of compilePolicies(c).sets.values()) {
      if (s.kind !== 'addresses') continue;
      assert.ok(s.parts, `${s.id} has parts`);
      const union = mergeCidrs(s.parts.flatMap((p) => p.cidrs));
      assert.deepEqual(union, mergeCidrs(s.cidrs), `seed ${seed} ${s.id}`);
      for (const p of s.parts) {
        if (p.hosts)
          for (const x of p.cidrs)
            assert.deepEqual(x, hostCidr({ family: x.family, value: x.base }));
      }
      checked++;
    }
  }
  assert.ok(checked > 100, `checked ${checked} sets`);
});

test('after a pod change, only the policies whose selections it touches are compiled again', () => {
  const c = clusterFrom(randomCluster({ seed: 11, pods: 12, policies: 8, clusterPolicies: 2 }));
  const compiler = new PolicyCompiler();
  const first = compiler.compile(c);
  const [changed, ...others] = c.pods;
  assert.ok(changed);
  // A label no selector of the generator uses: every selection stays the same.
  const quiet = { ...changed, labels: { ...changed.labels, unrelated: 'yes' } };
  const second = compiler.compile({ ...c, pods: [quiet, ...others] });
  assert.equal(json(second), json(compilePolicies({ ...c, pods: [quiet, ...others] })));
  for (const [id, p] of second.policies) assert.equal(p, first.policies.get(id), `${id} reused`);
  // Dropping its labels changes what selects it: some policies are compiled again, not all.
  const bare = { ...changed, labels: {} };
  const third = compiler.compile({ ...c, pods: [bare, ...others] });
  assert.equal(json(third), json(compilePolicies({ ...c, pods: [bare, ...others] })));
  const recompiled = [...third.policies].filter(([id, p]) => p !== second.policies.get(id));
  assert.ok(recompiled.length > 0, 'some policy selected the pod');
  assert.ok(
    recompiled.length < third.policies.size,
    `${recompiled.length} of ${third.policies.size}`,
  );
});

test('with the same scope, policies edited, added and removed give the IR a fresh compile gives', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const base = clusterFrom(randomCluster({ seed, pods: 10, policies: 12, clusterPolicies: 3 }));
    const other = clusterFrom(
      randomCluster({ seed: seed + 500, pods: 10, policies: 12, clusterPolicies: 3 }),
    );
    const r = new Rng(seed);
    const scopePods = new Set(base.pods.filter(() => r.chance(0.4)).map(podKey));
    const scope = (p: Pod) => scopePods.has(podKey(p));
    const compiler = new PolicyCompiler();
    let nps = [...base.networkPolicies];
    let cnps = [...base.clusterNetworkPolicies];
    for (let step = 0; step < 12; step++) {
      const current = { ...base, networkPolicies: nps, clusterNetworkPolicies: cnps };
      assert.equal(
        json(compiler.compile(current, scope)),
        json(compilePolicies(current, scope)),
        `seed ${seed} step ${step}`,
      );
      // One edit at a time, as a manifests change brings: replace, remove or add back.
      nps = [...nps];
      const i = r.int(Math.max(1, nps.length));
      const edit = r.int(4);
      if (edit === 0 && nps[i]) nps[i] = { ...nps[i], ingress: [] };
      else if (edit === 1 && nps.length > 1) nps.splice(i, 1);
      else if (edit === 2) {
        const back = other.networkPolicies[r.int(other.networkPolicies.length)];
        const taken = new Set(nps.map(podKey));
        if (back && !taken.has(podKey(back))) {
          nps.push(back);
          nps.sort((a, b) => podKey(a).localeCompare(podKey(b)));
        }
      } else if (cnps.length > 0) cnps = cnps.map((c, k) => (k === 0 ? { ...c } : c));
    }
  }
});
