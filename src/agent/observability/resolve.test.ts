import test from 'node:test';
import assert from 'node:assert/strict';
import { clusterFrom } from '../../testing/policy.js';
import { AddressBook, ClusterAddresses } from './resolve.js';

const YAML = `
apiVersion: v1
kind: Node
metadata: { name: node-1 }
status: { addresses: [{ type: InternalIP, address: 192.168.1.10 }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: a, name: new, labels: { app: new } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: a, name: old, labels: { app: old } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
status: { podIP: 10.244.1.6 }
---
apiVersion: v1
kind: Pod
metadata: { namespace: a, name: far }
spec: { nodeName: node-2, containers: [{ name: c, image: c }] }
status: { podIP: 10.244.2.7 }
`;

test('own pods at the addresses their records hold, over the cluster addresses built once', () => {
  const addresses = new ClusterAddresses(clusterFrom(YAML));
  // a/new has no address in the cluster yet (status lags); its record has one.
  const before = new AddressBook(addresses, [{ key: 'a/old', addresses: ['10.244.1.6/32'] }]);
  assert.equal(before.localPod('10.244.1.6'), 'a/old');
  assert.equal(before.localPod('10.244.1.5'), undefined);
  assert.deepEqual(before.endpoint('10.244.1.5', 80), {
    kind: 'world',
    ip: '10.244.1.5',
    port: 80,
  });

  const after = new AddressBook(addresses, [
    { key: 'a/old', addresses: ['10.244.1.6/32'] },
    { key: 'a/new', addresses: ['10.244.1.5/32'] },
  ]);
  assert.equal(after.cluster, before.cluster, 'the cluster part is shared');
  assert.equal(after.localPod('10.244.1.5'), 'a/new');
  assert.deepEqual(after.endpoint('10.244.1.5', 80), {
    kind: 'pod',
    ip: '10.244.1.5',
    port: 80,
    namespace: 'a',
    pod: 'new',
    labels: { app: 'new' },
  });
  assert.equal(after.localPod('10.244.2.7'), undefined, 'a pod of another node');
  assert.equal(after.endpoint('10.244.2.7', undefined).kind, 'pod');
  assert.deepEqual(after.endpoint('192.168.1.10', 22), {
    kind: 'host',
    ip: '192.168.1.10',
    port: 22,
    node: 'node-1',
  });
  assert.equal(after.localPod('not an address'), undefined);
  // A record for a pod the cluster does not hold names nothing.
  const ghost = new AddressBook(addresses, [{ key: 'a/gone', addresses: ['10.244.1.9/32'] }]);
  assert.equal(ghost.localPod('10.244.1.9'), undefined);
});
