import test from 'node:test';
import assert from 'node:assert/strict';
import { parseIp } from '../net/ip.js';
import { publishedObserveUrl } from './node-annotations.js';

const underlay = parseIp('192.168.1.10');

test('publishedObserveUrl: a reachable --observe address, the underlay for a wildcard, none for loopback', () => {
  const at = (host: string) => publishedObserveUrl({ host, port: 9963 }, underlay);
  assert.equal(at('10.0.0.5'), 'http://10.0.0.5:9963');
  assert.equal(at('0.0.0.0'), 'http://192.168.1.10:9963');
  assert.equal(at('::'), 'http://192.168.1.10:9963');
  assert.equal(at('fd00::5'), 'http://[fd00::5]:9963');
  assert.equal(at('node-1.example'), 'http://node-1.example:9963');
  for (const loopback of ['127.0.0.1', '127.1.2.3', '::1', 'localhost'])
    assert.equal(at(loopback), undefined, loopback);
  assert.equal(publishedObserveUrl({ host: '0.0.0.0', port: 1 }, undefined), undefined);
  assert.equal(publishedObserveUrl(undefined, underlay), undefined);
});
