import test from 'node:test';
import assert from 'node:assert/strict';
import { parseCidr } from '../net/cidr.js';
import { parseIp } from '../net/ip.js';
import type { Node } from '../model/types.js';
import { clientAllowed, refusalMessage } from './access.js';

function node(name: string, ...addresses: string[]): Node {
  return {
    kind: 'Node',
    name,
    labels: {},
    podCidrs: [],
    addresses: addresses.map((a) => parseIp(a)!),
  };
}

const nodes = [node('a', '192.168.1.10', 'fd00::10'), node('b', '192.168.1.11')];

test('clientAllowed: loopback and the addresses of Nodes, nothing else by default', () => {
  const rule = { nodes, allow: [] };
  for (const ok of [
    '127.0.0.1',
    '127.9.9.9',
    '::1',
    '::ffff:127.0.0.1',
    '192.168.1.10',
    '::ffff:192.168.1.11',
    'fd00::10',
  ])
    assert.equal(clientAllowed(ok, rule), true, ok);
  for (const no of ['192.168.1.12', '10.244.1.5', 'fd00::11', '', 'node-a', '::ffff:10.244.1.5'])
    assert.equal(clientAllowed(no, rule), false, no);
  assert.equal(
    clientAllowed('192.168.1.10', { nodes: [], allow: [] }),
    false,
    'no Nodes known: loopback only',
  );
});

test('clientAllowed: --allow-clients ranges are answered too, by family', () => {
  const allow = ['10.8.0.0/16', 'fd01::/64'].map((c) => parseCidr(c)!.cidr);
  const rule = { nodes, allow };
  for (const ok of ['10.8.0.1', '10.8.255.255', 'fd01::9'])
    assert.equal(clientAllowed(ok, rule), true, ok);
  for (const no of ['10.9.0.1', 'fd01:0:0:1::1', '::ffff:10.9.0.1'])
    assert.equal(clientAllowed(no, rule), false, no);
});

test('refusalMessage names the listener, the address, who is answered and the fix', () => {
  const allow = [parseCidr('10.8.0.0/16')!.cidr];
  assert.equal(
    refusalMessage('ui', '10.244.1.5', { nodes, allow }),
    "the ui listener answers loopback, this cluster's Node addresses and 10.8.0.0/16 only, " +
      'and 10.244.1.5 is none of them (read it from a node, through kubectl port-forward, ' +
      'or add its range to the agent\u2019s --allow-clients CIDR,...)',
  );
});
