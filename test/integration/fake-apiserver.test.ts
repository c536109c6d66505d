// The fake API server is strict: what the real one refuses, it refuses, and
// its lists and watches keep the real semantics the source's tests rely on.
import test from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { ns, pod, startServer } from '../support/kube-harness.js';

function get(
  base: string,
  path: string,
  method = 'GET',
  readMs = 300,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      // A watch never ends by itself: take what came within readMs.
      const timer = setTimeout(() => {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      }, readMs);
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('fake API server: refuses unknown paths, methods and query parameters', async (t) => {
  const server = await startServer(t);
  const cases: [string, string, number, RegExp][] = [
    ['GET', '/api/v1/configmaps', 404, /could not find the requested resource/],
    ['GET', '/api/v1/namespaces/prod/pods', 404, /could not find/],
    ['POST', '/api/v1/pods', 405, /not allowed/],
    ['GET', '/api/v1/pods?limt=5', 400, /unknown or misplaced query parameter "limt"/],
    ['GET', '/api/v1/pods?labelSelector=a%3Db', 400, /not supported/],
    ['GET', '/api/v1/pods?limit=0', 400, /positive integer/],
    ['GET', '/api/v1/pods?continue=xyz', 400, /continue key is not valid/],
    ['GET', '/api/v1/pods?watch=true&continue=abc', 400, /misplaced query parameter "continue"/],
    ['GET', '/api/v1/pods?allowWatchBookmarks=true', 400, /misplaced/],
    ['GET', '/api/v1/pods?watch=true&resourceVersion=abc', 400, /invalid resource version/],
    ['GET', '/api/v1/pods?resourceVersion=999', 504, /Too large resource version/],
  ];
  for (const [method, path, status, message] of cases) {
    const r = await get(server.url, path, method);
    assert.equal(r.status, status, `${method} ${path}`);
    const body = JSON.parse(r.body) as { kind: string; code: number; message: string };
    assert.equal(body.kind, 'Status');
    assert.equal(body.code, status);
    assert.match(body.message, message, `${method} ${path}`);
  }
});

test('fake API server: pages are one snapshot; a continue token expires with compaction', async (t) => {
  const server = await startServer(t);
  for (let i = 0; i < 5; i++) server.create('pods', pod('prod', `p${i}`, `10.0.0.${i}`));
  const first = JSON.parse((await get(server.url, '/api/v1/pods?limit=2')).body) as {
    metadata: { resourceVersion: string; continue: string };
    items: { metadata: { name: string } }[];
  };
  assert.deepEqual(
    first.items.map((i) => i.metadata.name),
    ['p0', 'p1'],
  );
  // Written after the first page: not in the rest of this list.
  server.remove('pods', 'prod/p3');
  server.create('pods', pod('prod', 'p2a', '10.0.0.9'));
  const cont = encodeURIComponent(first.metadata.continue);
  const rest = JSON.parse(
    (await get(server.url, `/api/v1/pods?limit=10&continue=${cont}`)).body,
  ) as {
    metadata: { resourceVersion: string; continue?: string };
    items: { metadata: { name: string } }[];
  };
  assert.deepEqual(
    rest.items.map((i) => i.metadata.name),
    ['p2', 'p3', 'p4'],
  );
  assert.equal(rest.metadata.resourceVersion, first.metadata.resourceVersion);
  assert.equal(rest.metadata.continue, undefined);
  server.compact();
  const expired = await get(server.url, `/api/v1/pods?limit=10&continue=${cont}`);
  assert.equal(expired.status, 410);
  assert.match(expired.body, /"reason":"Expired"/);
});

test('fake API server: a watch replays from its resourceVersion, bookmarks, and 410s once compacted', async (t) => {
  const server = await startServer(t, { bookmarkMs: 50 });
  const rv = server.create('namespaces', ns('a'));
  server.create('namespaces', ns('b'));
  server.create('pods', pod('prod', 'x', '10.0.0.1'));
  const watch = await get(
    server.url,
    `/api/v1/namespaces?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`,
  );
  const events = watch.body
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as {
          type: string;
          object: { kind: string; metadata: Record<string, string> };
        },
    );
  assert.deepEqual(
    events[0] && [events[0].type, events[0].object.kind, events[0].object.metadata['name']],
    ['ADDED', 'Namespace', 'b'],
  );
  const bookmarks = events.filter((e) => e.type === 'BOOKMARK');
  assert.ok(bookmarks.length >= 2, watch.body);
  // A bookmark carries the latest resourceVersion, the pod's write included.
  assert.equal(bookmarks[0]?.object.metadata['resourceVersion'], String(server.store.rv));
  server.compact();
  const gone = await get(server.url, `/api/v1/namespaces?watch=true&resourceVersion=${rv}`);
  assert.equal(gone.status, 200);
  assert.match(gone.body, /^\{"type":"ERROR","object":\{"kind":"Status".*"code":410\}\}\n$/);
});
