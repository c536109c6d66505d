import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseId } from './lab.js';
import { readObjects } from './objects.js';

test('lab objects: Services and EndpointSlices are kept (namespaced), other kinds are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-lab-objects-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'svc.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: 80}]}',
      'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1}\naddressType: IPv4\nendpoints: []',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}',
    ].join('\n---\n'),
  );
  const objects = await readObjects([file]);
  assert.deepEqual(
    objects.map((o) => [o.kind, o.namespace, o.name]),
    [
      ['Service', 'shop', 'web'],
      ['EndpointSlice', 'default', 'web-1'],
    ],
  );
});

test('lab ids: services and endpointslices are named KIND/NAMESPACE/NAME', () => {
  assert.deepEqual(parseId('svc/shop/web'), { kind: 'Service', namespace: 'shop', name: 'web' });
  assert.deepEqual(parseId('Service/shop/web'), {
    kind: 'Service',
    namespace: 'shop',
    name: 'web',
  });
  assert.deepEqual(parseId('endpointslice/shop/web-1'), {
    kind: 'EndpointSlice',
    namespace: 'shop',
    name: 'web-1',
  });
  assert.throws(() => parseId('svc/web'), /not KIND\/NAMESPACE\/NAME/);
});
