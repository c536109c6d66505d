import test from 'node:test';
import assert from 'node:assert/strict';
import { HostNames, hostName } from './host.js';

test('hostName: the name without port, IPv6 without brackets, lower-case; malformed is undefined', () => {
  assert.equal(hostName('LocalHost:9964'), 'localhost');
  assert.equal(hostName('[::1]:9964'), '::1');
  assert.equal(hostName('10.0.0.5'), '10.0.0.5');
  for (const bad of [undefined, '', 'a b', 'user@host', 'host:port', 'host/x', '[::1'])
    assert.equal(hostName(bad), undefined, String(bad));
});

test('HostNames: loopback names, the listen host, the address reached and the names given', () => {
  const names = new HostNames(['10.0.0.5', 'Weft.Example.com']);
  for (const ok of [
    'localhost:9964',
    '127.0.0.1:9964',
    '[::1]:9964',
    '10.0.0.5:9964',
    'weft.example.com',
    'weft.example.com.:8080',
  ])
    assert.equal(names.allows(ok, '10.0.0.5'), true, ok);
  for (const no of [
    'attacker.example:9964',
    'localhost.attacker.example',
    '10.0.0.6:9964',
    undefined,
    '',
  ])
    assert.equal(names.allows(no, '10.0.0.5'), false, String(no));
});

test('HostNames: on a wildcard listen address, the address the request reached is its name', () => {
  const names = new HostNames(['0.0.0.0']);
  assert.equal(names.allows('192.168.1.10:9964', '::ffff:192.168.1.10'), true);
  assert.equal(names.allows('192.168.1.10:9964', '192.168.1.11'), false);
  assert.equal(names.allows('0.0.0.0:9964', '192.168.1.10'), false, 'a wildcard is no name');
});

test('HostNames.refusal names the Host, what is answered and the flag that adds a name', () => {
  assert.equal(
    new HostNames(['0.0.0.0', 'weft.example.com']).refusal('evil.example:9964', '--ui-host'),
    'Host "evil.example:9964" is not a name of this UI: it answers localhost, 127.0.0.1, ::1, ' +
      'weft.example.com and the address it is reached at (open it by one of those, or add the ' +
      'name with --ui-host NAME)',
  );
});
