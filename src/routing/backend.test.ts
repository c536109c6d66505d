import test from 'node:test';
import assert from 'node:assert/strict';
import type { RoutePlan } from '../core/routing/plan.js';
import { diffEntries, startRouteSync, type RoutingBackend, type SyncReport } from './backend.js';

const PLAN: RoutePlan = {
  mode: 'host-gw',
  node: 'a',
  underlay: { family: 4, value: 1n },
  routes: [],
  warnings: [],
};

const CLEAN: SyncReport = { backend: 'host-gw', changed: [], removed: [] };

/** A backend whose syncs finish only when the test says so; it records overlaps. */
class GatedBackend implements RoutingBackend {
  readonly name = 'host-gw';
  calls = 0;
  active = 0;
  maxActive = 0;
  private gates: (() => void)[] = [];
  outcomes: (SyncReport | Error)[] = [];

  async sync(): Promise<SyncReport> {
    this.calls++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    this.active--;
    const outcome = this.outcomes.shift() ?? CLEAN;
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }

  /** Lets the running sync finish, waiting (bounded) for one to start. */
  async release(): Promise<void> {
    for (let i = 0; i < 1000 && this.gates.length === 0; i++) await pause();
    const gate = this.gates.shift();
    assert.ok(gate, 'a sync should be running');
    gate();
  }
}

const tick = () => new Promise((r) => setImmediate(r));
const pause = () => new Promise((r) => setTimeout(r, 1));

test('syncs at start; triggers during a sync coalesce into one more, never two at once', async () => {
  const backend = new GatedBackend();
  const log: string[] = [];
  backend.outcomes.push({
    backend: 'host-gw',
    changed: ['route x (node b)'],
    removed: ['route y'],
  });
  const loop = startRouteSync({
    backend,
    plan: () => PLAN,
    intervalMs: 3_600_000,
    log: (l) => log.push(l),
  });
  assert.equal(backend.calls, 1);
  loop.trigger();
  loop.trigger();
  loop.trigger();
  await backend.release();
  await backend.release();
  const last = await loop.settled();
  assert.equal(backend.calls, 2);
  assert.equal(backend.maxActive, 1);
  assert.deepEqual(last?.ok && last.report, CLEAN);
  assert.deepEqual(log, ['routing (host-gw): +route x (node b); -route y']);
  await loop.stop();
});

test('a failure is logged and recorded, and the next trigger retries', async () => {
  const backend = new GatedBackend();
  const log: string[] = [];
  backend.outcomes.push(new Error('RTNETLINK answers: Network is unreachable'));
  const loop = startRouteSync({
    backend,
    plan: () => PLAN,
    intervalMs: 3_600_000,
    log: (l) => log.push(l),
  });
  await backend.release();
  const failed = await loop.settled();
  assert.equal(failed?.ok, false);
  assert.equal(!failed?.ok && failed?.error, 'RTNETLINK answers: Network is unreachable');
  assert.deepEqual(log, [
    'routing (host-gw): sync failed, retrying later: RTNETLINK answers: Network is unreachable',
  ]);
  loop.trigger();
  await backend.release();
  assert.equal((await loop.settled())?.ok, true);
  await loop.stop();
});

test('no plan yet: nothing is synced; warnings are logged once while unchanged', async () => {
  const backend = new GatedBackend();
  const log: string[] = [];
  const source: { plan?: RoutePlan } = {};
  const loop = startRouteSync({
    backend,
    plan: () => source.plan,
    intervalMs: 3_600_000,
    log: (l) => log.push(l),
  });
  assert.equal(await loop.settled(), undefined);
  assert.equal(backend.calls, 0);
  source.plan = { ...PLAN, warnings: ['node b: pod CIDR overlaps'] };
  for (let i = 0; i < 2; i++) {
    loop.trigger();
    await backend.release();
    await loop.settled();
  }
  assert.equal(backend.calls, 2);
  assert.deepEqual(log, ['routing: node b: pod CIDR overlaps']);
  await loop.stop();
});

test('the periodic sync runs without triggers, and stop ends it', async () => {
  const backend = new GatedBackend();
  const loop = startRouteSync({ backend, plan: () => PLAN, intervalMs: 1, log: () => undefined });
  for (let i = 0; i < 3; i++) await backend.release();
  assert.ok(backend.calls >= 3);
  const stopping = loop.stop();
  if (backend.active > 0) await backend.release();
  await stopping;
  const calls = backend.calls;
  loop.trigger();
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(backend.calls, calls, 'no sync after stop');
});

test('diffEntries: deletes what is not wanted, writes what is missing or different', () => {
  const e = (key: string, state: string, line: string) => ({ key, state, line, text: line });
  const diff = diffEntries(
    [e('a', '1', 'write a'), e('b', '2', 'write b'), e('c', '3', 'write c')],
    [e('a', '1', 'del a'), e('b', 'old', 'del b'), e('d', '4', 'del d')],
  );
  assert.deepEqual(diff, {
    deletes: ['del d'],
    writes: ['write b', 'write c'],
    changed: ['write b', 'write c'],
    removed: ['del d'],
  });
});
