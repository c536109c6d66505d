import test from 'node:test';
import assert from 'node:assert/strict';
import { formatIp } from '../core/net/ip.js';
import { UsageError } from './output.js';
import { parseAddressTarget } from './targets.js';

const parsed = (text: string) => {
  const t = parseAddressTarget(text, '--to');
  return t && { ...t, ip: formatIp(t.ip) };
};

test('--to: an address, with a port and a protocol when written', () => {
  assert.deepEqual(parsed('10.96.0.10'), { ip: '10.96.0.10' });
  assert.deepEqual(parsed('10.96.0.10:53'), { ip: '10.96.0.10', port: 53 });
  assert.deepEqual(parsed('10.96.0.10:53/udp'), { ip: '10.96.0.10', port: 53, protocol: 'UDP' });
  assert.deepEqual(parsed('fd00:10:96::a'), { ip: 'fd00:10:96::a' });
  assert.deepEqual(parsed('[fd00:10:96::a]:80/SCTP'), {
    ip: 'fd00:10:96::a',
    port: 80,
    protocol: 'SCTP',
  });
  // Not an address at all: a pod's name, for the caller to look up.
  assert.equal(parsed('shop/db'), undefined);
  assert.equal(parsed('shop/db:5432'), undefined);
});

test('--to: what looks like an address but is wrong is a usage error naming the part', () => {
  const fails = (text: string, message: string) =>
    assert.throws(
      () => parseAddressTarget(text, '--to'),
      (e: unknown) => e instanceof UsageError && e.message === message,
      text,
    );
  fails('10.96.0.300:80', '--to 10.96.0.300:80: 10.96.0.300 is not an IP address');
  fails('[fd00::zz]:80', '--to [fd00::zz]:80: fd00::zz is not an IP address');
  fails('10.96.0.10:', '--to 10.96.0.10:: port "" is not 1-65535');
  fails('10.96.0.10:65536', '--to 10.96.0.10:65536: port "65536" is not 1-65535');
  fails('10.96.0.10:http', '--to 10.96.0.10:http: port "http" is not 1-65535');
  fails('10.96.0.10:80/ICMP', '--to 10.96.0.10:80/ICMP: ICMP is not a protocol Services carry');
  fails('10.96.0/TCP', '--to 10.96.0/TCP: not IP:PORT/PROTO');
});
