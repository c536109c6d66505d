import test from 'node:test';
import assert from 'node:assert/strict';
import { KubeError } from './errors.js';
import { backoffDelay, decodeEvent, readListPage } from './protocol.js';

test('backoff: doubles from the initial delay, capped, jittered within [d/2, d]', () => {
  const o = { initialMs: 500, maxMs: 30_000 };
  const expected = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
  expected.forEach((d, i) => {
    assert.equal(
      backoffDelay(i + 1, o, () => 0),
      d / 2,
    );
    assert.equal(
      backoffDelay(i + 1, o, () => 0.999999),
      d,
    );
  });
  // Far beyond any exponent a double can hold: still the cap.
  assert.equal(
    backoffDelay(5000, o, () => 1),
    30_000,
  );
});

const pods = { name: 'pods', path: '/api/v1/pods', namespaced: true };

test('watch events: objects keyed ns/name with their resourceVersion; bookmarks; errors as Status', () => {
  const added = decodeEvent(
    pods,
    '{"type":"ADDED","object":{"metadata":{"namespace":"a","name":"b","resourceVersion":"7"}}}',
  );
  assert.ok(added.type === 'ADDED');
  assert.deepEqual([added.key, added.rv], ['a/b', '7']);
  assert.deepEqual(
    decodeEvent(
      pods,
      '{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}}',
    ),
    { type: 'BOOKMARK', rv: '9' },
  );
  const gone =
    '{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}}';
  assert.throws(
    () => decodeEvent(pods, gone),
    (e: unknown) => {
      assert.ok(e instanceof KubeError);
      assert.deepEqual(
        [e.code, e.status, e.reason, e.message],
        ['WEFT_KUBE_GONE', 410, 'Expired', '410 Expired: too old'],
      );
      return true;
    },
  );
  const protocol = (line: string, message: RegExp) =>
    assert.throws(
      () => decodeEvent(pods, line),
      (e: unknown) =>
        e instanceof KubeError && e.code === 'WEFT_KUBE_PROTOCOL' && message.test(e.message),
    );
  protocol(
    '{"type":"ADDED","object":{"metadata":{"name":"b","resourceVersion":"7"}}}',
    /without metadata\.namespace/,
  );
  protocol('{"type":"SYNC","object":{}}', /unknown watch event type "SYNC"/);
  protocol('{"type":"ADD', /not JSON/);
});

test('list pages: items, resourceVersion and continue, or a protocol error', () => {
  assert.deepEqual(
    readListPage(pods, { metadata: { resourceVersion: '5', continue: 'c' }, items: [1] }),
    {
      items: [1],
      resourceVersion: '5',
      continue: 'c',
    },
  );
  assert.deepEqual(readListPage(pods, { metadata: { resourceVersion: '5' }, items: null }), {
    items: [],
    resourceVersion: '5',
  });
  assert.throws(
    () => readListPage(pods, { items: [] }),
    /needs items and metadata\.resourceVersion/,
  );
});
