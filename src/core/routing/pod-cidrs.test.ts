import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCidr } from '../net/cidr.js';
import type { Cidr } from '../net/types.js';
import type { Cluster, Node } from '../model/types.js';
import { choosePodCidrs } from './pod-cidrs.js';

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new Error(text);
  return c.cidr;
}

function cluster(...nodes: Node[]): Cluster {
  return {
    namespaces: new Map(),
    pods: [],
    nodes,
    networkPolicies: [],
    clusterNetworkPolicies: [],
    services: [],
    endpointSlices: [],
  };
}

function node(name: string, ...podCidrs: string[]): Node {
  return { kind: 'Node', name, labels: {}, addresses: [], podCidrs: podCidrs.map(cidr) };
}

test("without --pod-cidr: the Node's spec.podCIDRs, both families", () => {
  const got = choosePodCidrs(
    'a',
    cluster(node('b', '10.0.2.0/24'), node('a', '10.0.1.0/24', 'fd00:1::/64')),
    [],
  );
  assert.deepEqual(got, { kind: 'ok', cidrs: [cidr('10.0.1.0/24'), cidr('fd00:1::/64')] });
});

test('without --pod-cidr: waits, saying why and what to do', () => {
  const none = choosePodCidrs('a', undefined, []);
  assert.equal(none.kind, 'wait');
  const missing = choosePodCidrs('a', cluster(node('b', '10.0.2.0/24')), []);
  assert.equal(missing.kind, 'wait');
  assert.match(
    missing.kind === 'wait' ? missing.reason : '',
    /Node a is not in the source.*--node-name/,
  );
  const bare = choosePodCidrs('a', cluster(node('a')), []);
  assert.match(bare.kind === 'wait' ? bare.reason : '', /no spec.podCIDRs.*--allocate-node-cidrs/);
});

test('--pod-cidr wins; a Node that disagrees gets a warning, one that agrees none', () => {
  const flag = [cidr('10.9.0.0/24')];
  assert.deepEqual(choosePodCidrs('a', undefined, flag), { kind: 'ok', cidrs: flag });
  assert.deepEqual(choosePodCidrs('a', cluster(node('a')), flag), { kind: 'ok', cidrs: flag });
  assert.deepEqual(choosePodCidrs('a', cluster(node('a', '10.9.0.0/24')), flag), {
    kind: 'ok',
    cidrs: flag,
  });
  const differ = choosePodCidrs('a', cluster(node('a', '10.0.1.0/24')), flag);
  assert.equal(differ.kind, 'ok');
  assert.match(
    differ.kind === 'ok' ? (differ.warning ?? '') : '',
    /spec.podCIDRs 10.0.1.0\/24 but --pod-cidr gives 10.9.0.0\/24/,
  );
});
