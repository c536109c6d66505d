import test from 'node:test';
import assert from 'node:assert/strict';
import { CniError } from './errors.js';
import { parseNetConf } from './netconf.js';

function expectError(fn: () => unknown, code: number, msg: RegExp): CniError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CniError)) throw e;
    assert.equal(e.code, code, `code ${e.code}: ${e.msg}`);
    assert.match(e.msg, msg);
    return e;
  }
  assert.fail('expected a CniError, but nothing was thrown');
}

const BASE = { cniVersion: '1.1.0', name: 'weft', type: 'weft' };

function conf(over: Record<string, unknown>): ReturnType<typeof parseNetConf> {
  return parseNetConf({ ...BASE, ...over });
}

test('version: each supported version is accepted as is', () => {
  for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    assert.equal(conf({ cniVersion: v }).cniVersion, v);
  }
});

test('version: unsupported is error 1 naming the versions weft supports', () => {
  for (const v of ['0.1.0', '0.2.0', '1.2.0', '2.0.0', '', 'latest']) {
    const err = expectError(() => conf({ cniVersion: v }), 1, /is not supported/);
    assert.match(err.msg, /weft supports 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/);
  }
});

test('version: the answer is in cniVersion, never raised by a cniVersions list', () => {
  // libcni before 1.2 (containerd 1.6/1.7) cannot read a result newer than the version it sent.
  assert.equal(conf({ cniVersion: '1.0.0', cniVersions: ['1.0.0', '1.1.0'] }).cniVersion, '1.0.0');
  assert.equal(conf({ cniVersion: '0.4.0', cniVersions: ['0.4.0', '1.1.0'] }).cniVersion, '0.4.0');
  expectError(
    () => conf({ cniVersion: '0.2.0', cniVersions: ['0.2.0', '0.3.1'] }),
    1,
    /cniVersion "0\.2\.0" is not supported; weft supports 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/,
  );
  expectError(() => conf({ cniVersions: '1.1.0' }), 7, /^cniVersions must be a list of strings/);
  expectError(() => conf({ cniVersions: ['1.1.0', 1] }), 7, /^cniVersions\[1\] must be a string/);
});

test('version: missing or mistyped cniVersion is error 7', () => {
  expectError(() => parseNetConf({ name: 'weft', type: 'weft' }), 7, /^cniVersion is required/);
  expectError(() => conf({ cniVersion: 1.1 }), 7, /^cniVersion must be a string/);
});

test('an unknown top-level key is error 2 naming the key, its value and the fix', () => {
  const ipam = expectError(
    () => conf({ ipam: { type: 'host-local', subnet: '10.1.0.0/16' } }),
    2,
    /unsupported field "ipam" \(\{"type":"host-local","subnet":"10.1.0.0\/16"\}\)/,
  );
  assert.match(ipam.msg, /weft allocates addresses itself; remove ipam/);
  const typo = expectError(() => conf({ MTU: 1450 }), 2, /unsupported field "MTU" \(1450\)/);
  assert.match(typo.msg, /did you mean "mtu"\?/);
  const other = expectError(
    () => conf({ bridge: 'cni0', isGateway: true }),
    2,
    /"bridge" \("cni0"\)/,
  );
  assert.match(other.msg, /remove bridge/);
  assert.equal(other.details, 'also unsupported: isGateway');
});

test('the version is checked before unknown keys', () => {
  expectError(() => conf({ cniVersion: '0.2.0', ipam: {} }), 1, /not supported/);
});

test('every field runtimes inject is accepted', () => {
  const c = conf({
    cniVersions: ['1.0.0', '1.1.0'],
    args: { cni: { labels: [{ key: 'a', value: 'b' }] } },
    capabilities: { portMappings: true, bandwidth: false },
    runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'], options: ['ndots:5'] },
    disableCheck: false,
    disableGC: true,
    'cni.dev/valid-attachments': [{ containerID: 'c1', ifname: 'eth0' }],
    'cni.dev/attachments': [{ containerID: 'c1', ifname: 'eth0' }],
    prevResult: { cniVersion: '1.1.0', ips: [{ address: '10.0.0.2/24' }] },
  });
  assert.deepEqual(c.capabilities, { portMappings: true, bandwidth: false });
  assert.deepEqual(c.validAttachments, [{ containerId: 'c1', ifname: 'eth0' }]);
  assert.deepEqual(c.dns?.search, ['svc.cluster.local']);
  assert.equal(c.disableGC, true);
  assert.deepEqual(c.prevResult, { ips: [{ address: '10.0.0.2/24' }] });
});

test('name and type are required; type must be "weft"', () => {
  expectError(() => parseNetConf({ cniVersion: '1.1.0', type: 'weft' }), 7, /^name is required/);
  expectError(() => conf({ name: '-x' }), 7, /^name must be a letter or digit/);
  expectError(() => conf({ name: 3 }), 7, /^name must be a string, got 3/);
  expectError(() => parseNetConf({ cniVersion: '1.1.0', name: 'weft' }), 7, /^type is required/);
  expectError(() => conf({ type: 'bridge' }), 7, /^type must be "weft", got "bridge"/);
});

test('mtu: an integer from 576 to 9000', () => {
  assert.equal(conf({ mtu: 576 }).mtu, 576);
  assert.equal(conf({ mtu: 9000 }).mtu, 9000);
  assert.equal('mtu' in conf({}), false);
  for (const bad of [575, 9001, 1450.5, '1450', null]) {
    expectError(() => conf({ mtu: bad }), 7, /^mtu must be an integer from 576 to 9000/);
  }
});

test('agentSocket: an absolute path, defaulting to /run/weft/cni.sock', () => {
  assert.equal(conf({}).agentSocket, '/run/weft/cni.sock');
  assert.equal(conf({ agentSocket: '/var/run/weft.sock' }).agentSocket, '/var/run/weft.sock');
  expectError(() => conf({ agentSocket: 'weft.sock' }), 7, /^agentSocket must be an absolute path/);
  expectError(() => conf({ agentSocket: 1 }), 7, /^agentSocket must be a string/);
});

test('wrong types of injected fields are error 7 naming the field', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ args: [] }, /^args must be an object/],
    [
      { capabilities: { portMappings: 'yes' } },
      /^capabilities\.portMappings must be true or false/,
    ],
    [{ runtimeConfig: 'x' }, /^runtimeConfig must be an object/],
    [{ dns: { nameservers: '1.1.1.1' } }, /^dns\.nameservers must be a list of strings/],
    [{ disableCheck: 'true' }, /^disableCheck must be true or false/],
    [{ disableGC: 1 }, /^disableGC must be true or false/],
    [{ prevResult: [] }, /^prevResult must be an object/],
    [
      { prevResult: { ips: [{ address: '10.0.0.2' }] } },
      /^prevResult\.ips\[0\]\.address must be an address\/prefix/,
    ],
    [{ 'cni.dev/attachments': {} }, /^cni\.dev\/attachments must be a list of objects/],
  ];
  for (const [over, msg] of cases) expectError(() => conf(over), 7, msg);
});
