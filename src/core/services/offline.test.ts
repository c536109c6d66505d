import test from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../errors.js';
import { withDefaultAddresses } from '../model/addresses.js';
import { formatIp } from '../net/ip.js';
import { clusterOf, pod, service } from '../../testing/services.js';
import { withServiceDefaults } from './offline.js';

test('offline: pods addressed, Services allocated, slices derived from them', () => {
  const c = clusterOf(
    service('shop', 'api', { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }] }),
    pod('shop', 'api-1', { labels: { app: 'api' } }),
  );
  const { cluster, assigned, notes } = withServiceDefaults(withDefaultAddresses(c).cluster);
  assert.deepEqual(notes, []);
  assert.deepEqual(assigned, [
    { object: 'Service shop/api', field: 'spec.ipFamilies', value: 'IPv4' },
    { object: 'Service shop/api', field: 'spec.clusterIPs', value: '10.96.0.2' },
  ]);
  assert.deepEqual(
    cluster.endpointSlices.map((s) => [
      s.name,
      s.endpoints.map((e) => (typeof e.addresses[0] === 'string' ? '' : formatIp(e.addresses[0]!))),
    ]),
    [['api-ipv4-0', ['10.244.0.1']]],
  );
});

test('offline: allocation issues are thrown together, naming both objects', () => {
  const c = clusterOf(
    service('a', 'one', { clusterIP: '10.96.0.5', ports: [{ port: 80 }] }),
    service('b', 'two', { clusterIP: '10.96.0.5', ports: [{ port: 80 }] }),
    service('c', 'three', { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }),
  );
  assert.throws(
    () => withServiceDefaults(c),
    (e: unknown) =>
      e instanceof WeftError &&
      e.issues.map((i) => `${i.object} ${i.field}: ${i.message}`).join('\n') ===
        [
          'Service b/two spec.clusterIP: 10.96.0.5 is also the ClusterIP of Service a/one',
          'Service c/three spec.ports[0].nodePort: 80 is not in the node port range 30000-32767',
        ].join('\n'),
  );
});
