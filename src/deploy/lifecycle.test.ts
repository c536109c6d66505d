import test from 'node:test';
import assert from 'node:assert/strict';
import { daemonSetPath, decideOnStop, parseDaemonSetRef, type ApiAnswer } from './lifecycle.js';

const ref = { namespace: 'kube-system', name: 'weft' };
const http = (status: number, body = ''): ApiAnswer => ({ kind: 'http', status, body });

test('a DaemonSet that still exists keeps the config (rolling upgrade, eviction)', () => {
  const body = JSON.stringify({ kind: 'DaemonSet', metadata: { name: 'weft', uid: 'u1' } });
  const d = decideOnStop(http(200, body), ref);
  assert.equal(d.action, 'keep');
  assert.match(d.reason, /daemonset kube-system\/weft still exists/);
});

test('a DaemonSet being deleted (foreground cascade) removes it', () => {
  const body = JSON.stringify({
    metadata: { name: 'weft', deletionTimestamp: '2026-11-22T10:00:00Z' },
  });
  assert.equal(decideOnStop(http(200, body), ref).action, 'remove');
});

test('a DaemonSet that is gone removes it', () => {
  const d = decideOnStop(http(404, '{"kind":"Status","code":404}'), ref);
  assert.equal(d.action, 'remove');
  assert.match(d.reason, /is gone: weft is being uninstalled/);
});

test('credentials deleted with weft (401, 403) remove it', () => {
  assert.equal(decideOnStop(http(401), ref).action, 'remove');
  assert.equal(decideOnStop(http(403), ref).action, 'remove');
});

test('anything uncertain keeps it', () => {
  for (const status of [0, 429, 500, 503]) {
    assert.equal(decideOnStop(http(status), ref).action, 'keep', `status ${status}`);
  }
  assert.equal(decideOnStop(http(200, 'not json'), ref).action, 'keep');
  assert.equal(decideOnStop(http(200, '[]'), ref).action, 'keep');
  const d = decideOnStop({ kind: 'unreachable', message: 'ECONNREFUSED' }, ref);
  assert.equal(d.action, 'keep');
  assert.match(d.reason, /ECONNREFUSED/);
});

test('DaemonSet references follow the Kubernetes name rules', () => {
  assert.deepEqual(parseDaemonSetRef('kube-system/weft'), ref);
  assert.deepEqual(parseDaemonSetRef('ns/weft.agent'), { namespace: 'ns', name: 'weft.agent' });
  for (const bad of ['weft', 'a/b/c', '/weft', 'kube-system/', 'Kube/weft', 'ns/we_ft', 'ns/-w']) {
    assert.equal(parseDaemonSetRef(bad), undefined, bad);
  }
  assert.equal(daemonSetPath(ref), '/apis/apps/v1/namespaces/kube-system/daemonsets/weft');
});
