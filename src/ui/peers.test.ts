import test from 'node:test';
import assert from 'node:assert/strict';
import { parseIp } from '../core/net/ip.js';
import type { Node } from '../core/model/types.js';
import { clusterAgents, observeClientAllowed, publishedObserveUrl } from './peers.js';

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

function node(name: string, observeUrl?: string): Node {
  return {
    kind: 'Node',
    name,
    labels: {},
    addresses: [],
    podCidrs: [],
    ...(observeUrl !== undefined ? { observeUrl } : {}),
  };
}

test('clusterAgents: itself first, then every peer with a valid observe URL by name; bad URLs named', () => {
  const self = { kind: 'unix' as const, node: 'b', socket: '/run/weft/cni.sock' };
  const { agents, problems } = clusterAgents(self, [
    node('d', 'http://10.0.0.4:9963'),
    node('b', 'http://10.0.0.2:9963'),
    node('a', 'http://10.0.0.1:9963/'),
    node('c'),
    node('e', 'https://10.0.0.5:9963'),
    node('f', 'http://10.0.0.6:9963/v1'),
    node('g', '10.0.0.7:9963'),
  ]);
  assert.deepEqual(agents, [
    self,
    { kind: 'http', node: 'a', url: 'http://10.0.0.1:9963/' },
    { kind: 'http', node: 'd', url: 'http://10.0.0.4:9963' },
  ]);
  assert.deepEqual(
    problems.map((p) => p.node),
    ['e', 'f', 'g'],
  );
  assert.match(
    problems[0]?.message ?? '',
    /^Node e: annotation weft.dev\/observe-url "https:\/\/10.0.0.5:9963" is not an http:\/\/ URL \(fix: /,
  );
  assert.match(problems[1]?.message ?? '', /must be http:\/\/HOST:PORT, nothing more/);
});

test('observeClientAllowed: loopback and the addresses of Nodes only', () => {
  const nodes: Node[] = [
    { ...node('a'), addresses: [parseIp('192.168.1.10')!, parseIp('fd00::10')!] },
    { ...node('b'), addresses: [parseIp('192.168.1.11')!] },
  ];
  for (const ok of ['127.0.0.1', '::1', '192.168.1.10', '192.168.1.11', 'fd00::10'])
    assert.equal(observeClientAllowed(ok, nodes), true, ok);
  for (const no of ['192.168.1.12', '10.0.0.1', 'fd00::11', '', 'node-a'])
    assert.equal(observeClientAllowed(no, nodes), false, no);
  assert.equal(observeClientAllowed('192.168.1.10', []), false, 'no Nodes known: loopback only');
});
