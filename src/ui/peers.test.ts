import test from 'node:test';
import assert from 'node:assert/strict';
import { parseIp } from '../core/net/ip.js';
import { NodeAnnotation } from '../core/model/node-annotations.js';
import type { Node } from '../core/model/types.js';
import { clusterAgents } from './peers.js';

/** A Node whose address is the one its URL names (10.0.0.N for node N), and fd00::N. */
function node(name: string, observeUrl?: string, addresses?: string[]): Node {
  const n = 'abcdefgh'.indexOf(name) + 1;
  return {
    kind: 'Node',
    name,
    labels: {},
    addresses: (addresses ?? [`10.0.0.${n}`, `fd00::${n}`]).map((a) => parseIp(a)!),
    podCidrs: [],
    ...(observeUrl !== undefined
      ? { annotations: { [NodeAnnotation.observeUrl]: observeUrl } }
      : {}),
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

test('clusterAgents: a URL to an address that is not its own Node\u2019s is not followed, and named', () => {
  const self = { kind: 'unix' as const, node: 'a', socket: '/run/weft/cni.sock' };
  const { agents, problems } = clusterAgents(self, [
    node('b', 'http://10.0.0.1:9963'), // a's address, not b's
    node('c', 'http://169.254.169.254:80'), // no Node's
    node('d', 'http://node-d.example:9963'), // a name
    node('e', 'http://[fd00::5]:9963'), // its own, IPv6
    node('f', 'http://10.0.0.6:9963', []), // no addresses at all
  ]);
  assert.deepEqual(agents, [self, { kind: 'http', node: 'e', url: 'http://[fd00::5]:9963' }]);
  assert.deepEqual(
    problems.map((p) => p.node),
    ['b', 'c', 'd', 'f'],
  );
  assert.match(
    problems[0]?.message ?? '',
    /^Node b: annotation weft.dev\/observe-url "http:\/\/10.0.0.1:9963" points at 10.0.0.1, which is not one of Node b\u2019s addresses \(10.0.0.2, fd00::2\): it is not followed \(fix: /,
  );
  assert.match(problems[1]?.message ?? '', /points at 169.254.169.254/);
  assert.match(problems[2]?.message ?? '', /names node-d.example, not an address of Node d/);
  assert.match(problems[3]?.message ?? '', /\(none\)/);
});
