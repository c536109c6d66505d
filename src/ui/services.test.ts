import test from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../core/errors.js';
import { clusterFrom } from '../testing/policy.js';
import { SHOP_API_YAML } from '../testing/shop-api.js';
import { withControllers, type PolicySource } from './policy-source.js';
import { serviceAnswer, serviceView } from './services.js';

const YAML = `${SHOP_API_YAML}
---
apiVersion: v1
kind: Service
metadata: { namespace: shop, name: db }
spec: { clusterIP: None, selector: { app: db }, ports: [{ port: 5432 }] }
`;

test('a Service as the page lists it: every frontend, node ports per node, endpoints with conditions', () => {
  const cluster = withControllers(clusterFrom(YAML));
  const frontend = (kind: string, ip: string, port: number, dns: boolean, node?: string) => ({
    kind,
    ip,
    port,
    protocol: dns ? 'UDP' : 'TCP',
    portName: dns ? 'dns' : 'http',
    ...(node ? { node } : {}),
  });
  const endpoint = (ip: string, dns: boolean, pod: string, node: string) => ({
    ip,
    port: dns ? 5353 : 8080,
    protocol: dns ? 'UDP' : 'TCP',
    portName: dns ? 'dns' : 'http',
    target: `Pod shop/${pod}`,
    nodeName: node,
    ready: true,
    serving: true,
    terminating: false,
  });
  assert.deepEqual(serviceView(cluster, 'shop', 'api'), {
    service: {
      namespace: 'shop',
      name: 'api',
      type: 'NodePort',
      // The dns port had no node port: the lab's allocator gave it the first free one.
      frontends: [
        frontend('ClusterIP', '10.96.0.10', 53, true),
        frontend('ClusterIP', '10.96.0.10', 80, false),
        frontend('NodePort', '192.168.1.10', 30000, true, 'node-1'),
        frontend('NodePort', '192.168.1.10', 30080, false, 'node-1'),
        frontend('NodePort', '192.168.1.11', 30000, true, 'node-2'),
        frontend('NodePort', '192.168.1.11', 30080, false, 'node-2'),
      ],
      endpoints: [
        endpoint('10.244.1.7', false, 'api-1', 'node-1'),
        endpoint('10.244.2.8', false, 'api-2', 'node-2'),
        endpoint('10.244.1.7', true, 'api-1', 'node-1'),
        endpoint('10.244.2.8', true, 'api-2', 'node-2'),
      ],
    },
  });
  const headless = serviceView(cluster, 'shop', 'db').service;
  assert.match(headless?.ignored ?? '', /^headless/);
  assert.deepEqual(headless?.frontends, []);
  assert.deepEqual(serviceView(cluster, 'shop', 'gone'), {
    reason: 'the cluster has no Service shop/gone (deleted since?)',
  });
});

test('the answer: a bad name is a usage error; without the cluster’s objects, why not', async () => {
  const without: PolicySource = {
    irs: async () => ({ irs: [], errors: [] }),
    cluster: async () => undefined,
  };
  const asked = (s: string) => new URLSearchParams({ service: s });
  await assert.rejects(serviceAnswer(without, asked('api')), (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.match(e.message, /service="api": must be namespace\/name/);
    return true;
  });
  const answer = await serviceAnswer(without, asked('shop/api'));
  assert.equal(answer.service, undefined);
  assert.match(answer.reason ?? '', /does not read the cluster’s objects/);
});
