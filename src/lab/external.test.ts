import test from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../core/errors.js';
import { checkExternal } from './external.js';

const nodes = ['node-1', 'node-2'];

test('the external range: an IPv4 CIDR in canonical form, through a node of the lab', () => {
  assert.deepEqual(checkExternal({ cidr: '192.168.240.7/24', via: 'node-2' }, nodes), {
    cidr: '192.168.240.0/24',
    via: 'node-2',
  });
  const refused: [string, string, string][] = [
    ['10.250.0.0', 'node-1', '--external-cidr: 10.250.0.0 is not an IPv4 CIDR'],
    ['fd00::/64', 'node-1', '--external-cidr: fd00::/64 is not an IPv4 CIDR'],
    [
      '192.168.0.0/16',
      'node-1',
      '--external-cidr: 192.168.0.0/16 overlaps 192.168.220.0/24, the underlay (node addresses)',
    ],
    [
      '10.244.7.0/24',
      'node-1',
      '--external-cidr: 10.244.7.0/24 overlaps 10.244.0.0/16, the pod addresses',
    ],
    ['192.168.240.0/24', 'node-3', '--external-via: node-3 is not a node of this lab'],
  ];
  for (const [cidr, via, message] of refused) {
    assert.throws(
      () => checkExternal({ cidr, via }, nodes),
      (e: unknown) => {
        assert.ok(e instanceof WeftError);
        assert.equal(e.code, 'WEFT_USAGE');
        assert.ok(e.message.startsWith(`lab up: ${message} (fix: `), e.message);
        return true;
      },
    );
  }
  assert.throws(
    () => checkExternal({ cidr: '192.168.240.0/24', via: 'node-3' }, nodes),
    /fix: name one of: node-1, node-2\)/,
  );
});
