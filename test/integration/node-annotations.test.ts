// The agent's Node annotations against the fake API server: a merge patch
// that touches only weft's keys, retried through failures, and a refusal
// explained.
import test from 'node:test';
import assert from 'node:assert/strict';
import { NodeAnnotationPublisher } from '../../src/sources/kubernetes/node-annotations.js';
import { httpConfig, node, startServer, waitFor } from '../support/kube-harness.js';
import type { FakeApiServer } from '../support/fake-apiserver.js';

const FAST = { initialMs: 10, maxMs: 50 };

function annotationsOf(server: FakeApiServer, name: string): Record<string, string> {
  const json = server.store.current('nodes', name);
  const meta = (JSON.parse(json ?? '{}') as { metadata?: { annotations?: Record<string, string> } })
    .metadata;
  return meta?.annotations ?? {};
}

test("publishes weft's annotations and keeps everyone else's", async (t) => {
  const server = await startServer(t);
  const n = node('n1', '10.1.0.0/24');
  (n['metadata'] as Record<string, unknown>)['annotations'] = {
    'example.com/keep': 'yes',
    'weft.dev/vtep-mac': 'stale',
  };
  server.create('nodes', n);
  const lines: string[] = [];
  const p = new NodeAnnotationPublisher(httpConfig(server), 'n1', (l) => lines.push(l), FAST);
  t.after(() => p.close());
  p.publish({ 'weft.dev/routing': 'host-gw', 'weft.dev/pod-cidrs': '10.1.0.0/24' });
  await waitFor('published', () => p.status().published);
  assert.deepEqual(annotationsOf(server, 'n1'), {
    'example.com/keep': 'yes',
    'weft.dev/routing': 'host-gw',
    'weft.dev/pod-cidrs': '10.1.0.0/24',
  });
  // The same annotations again: no new request.
  const before = server.countRequests('patch');
  p.publish({ 'weft.dev/routing': 'host-gw', 'weft.dev/pod-cidrs': '10.1.0.0/24' });
  await p.settled();
  assert.equal(server.countRequests('patch'), before);
  // A change is patched.
  p.publish({ 'weft.dev/routing': 'vxlan', 'weft.dev/pod-cidrs': '10.1.0.0/24' });
  await waitFor('republished', () => annotationsOf(server, 'n1')['weft.dev/routing'] === 'vxlan');
  assert.deepEqual(lines, []);
});

test('retries through 500s and a missing Node, and names the fix for 403', async (t) => {
  const server = await startServer(t);
  const lines: string[] = [];
  const p = new NodeAnnotationPublisher(httpConfig(server), 'n1', (l) => lines.push(l), FAST);
  t.after(() => p.close());
  server.inject(
    { verb: 'patch', kind: 'status', code: 500 },
    { verb: 'patch', kind: 'status', code: 403, reason: 'Forbidden', message: 'no' },
  );
  p.publish({ 'weft.dev/routing': 'vxlan' });
  await waitFor('a 403 seen', () => /forbidden/.test(p.status().lastError ?? ''));
  assert.match(p.status().lastError ?? '', /grant the agent's service account patch on nodes/);
  // Next: the Node does not exist yet (404), then it registers.
  await waitFor('a 404 seen', () => /does not exist/.test(p.status().lastError ?? ''));
  assert.equal(p.status().published, false);
  server.create('nodes', node('n1', '10.1.0.0/24'));
  await waitFor('published', () => p.status().published, 5000);
  assert.equal(annotationsOf(server, 'n1')['weft.dev/routing'], 'vxlan');
  assert.ok(p.status().attempts >= 4, `attempts ${p.status().attempts}`);
  assert.ok(
    lines.some((l) => /published after/.test(l)),
    lines.join('\n'),
  );
});

test('the same annotations again neither patch again nor reset the backoff', async (t) => {
  const server = await startServer(t);
  const slow = { initialMs: 1000, maxMs: 1000 };
  const p = new NodeAnnotationPublisher(httpConfig(server), 'n1', () => undefined, slow);
  t.after(() => p.close());
  // No Node n1: every patch fails (404) and is retried after the backoff.
  p.publish({ 'weft.dev/routing': 'vxlan' });
  await waitFor('a 404 seen', () => /does not exist/.test(p.status().lastError ?? ''));
  for (let i = 0; i < 20; i++) {
    p.publish({ 'weft.dev/routing': 'vxlan' });
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(p.status().attempts, 1, 'one patch, its retry still waiting out the backoff');
  p.publish({ 'weft.dev/routing': 'host-gw' });
  await waitFor('a changed set patched at once', () => p.status().attempts === 2);
});

test('the fake API server takes merge patches strictly', async (t) => {
  const server = await startServer(t);
  server.create('nodes', node('n1', '10.1.0.0/24'));
  const patch = async (body: string, type = 'application/merge-patch+json', name = 'n1') => {
    const res = await fetch(`${server.url}/api/v1/nodes/${name}`, {
      method: 'PATCH',
      headers: { 'content-type': type },
      body,
    });
    return res.status;
  };
  assert.equal(await patch('{"metadata":{"annotations":{"a":"b"}}}', 'application/json'), 415);
  assert.equal(await patch('[1]'), 400);
  assert.equal(await patch('{"metadata":{"annotations":{"a":1}}}'), 400);
  assert.equal(await patch('{"metadata":{"name":"other"}}'), 400);
  assert.equal(await patch('{}', undefined, 'nope'), 404);
  assert.equal(await patch('{"metadata":{"annotations":{"a":"b"}}}'), 200);
  assert.deepEqual(annotationsOf(server, 'n1'), { a: 'b' });
  assert.equal(await patch('{"metadata":{"annotations":{"a":null}}}'), 200);
  assert.deepEqual(annotationsOf(server, 'n1'), {});
});
