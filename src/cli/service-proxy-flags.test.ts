import test from 'node:test';
import assert from 'node:assert/strict';
import { formatCidr } from '../core/net/cidr.js';
import { UsageError } from './output.js';
import { serviceProxyConfig, type ServiceProxyFlags } from './service-proxy-flags.js';

const manifests = { kind: 'manifests', dir: '/tmp/m' } as const;
const kube = { kind: 'kubernetes' } as const;
const flags = (more: Partial<ServiceProxyFlags> = {}): ServiceProxyFlags => ({
  'service-proxy': 'on',
  'service-lb-algorithm': 'random',
  ...more,
});

test('the proxy is on by default; off, or without a source, it is not there', () => {
  const on = serviceProxyConfig(flags(), manifests);
  assert.deepEqual(on?.serviceCidrs.map(formatCidr), ['10.96.0.0/16']);
  assert.equal(on?.loadBalancing, 'random');
  assert.deepEqual(serviceProxyConfig(flags(), kube)?.serviceCidrs, []);
  assert.equal(serviceProxyConfig(flags({ 'service-proxy': 'off' }), manifests), undefined);
  assert.equal(serviceProxyConfig(flags(), undefined), undefined);
  const given = serviceProxyConfig(
    flags({
      'service-cidr': ['10.43.0.0/16', 'fd00:43::/112'],
      'service-lb-algorithm': 'maglev',
      'proxy-healthz': '0.0.0.0:10256',
    }),
    kube,
  );
  assert.deepEqual(given?.serviceCidrs.map(formatCidr), ['10.43.0.0/16', 'fd00:43::/112']);
  assert.equal(given?.loadBalancing, 'maglev');
  assert.deepEqual(given?.healthz, { host: '0.0.0.0', port: 10256 });
});

test('a bad flag names itself and the fix', () => {
  const fails = (more: Partial<ServiceProxyFlags>, message: RegExp) =>
    assert.throws(
      () => serviceProxyConfig(flags(more), manifests),
      (e: unknown) => e instanceof UsageError && message.test(e.message),
    );
  fails({ 'service-proxy': 'yes' }, /--service-proxy yes: must be on or off/);
  fails({ 'service-lb-algorithm': 'round-robin' }, /--service-lb-algorithm round-robin: unknown/);
  fails(
    { 'service-cidr': ['10.96.0.1/16'] },
    /--service-cidr 10\.96\.0\.1\/16: not a CIDR without host bits/,
  );
  fails({ 'service-cidr': ['10.96.0.0/16', '10.97.0.0/16'] }, /given twice for one address family/);
});
