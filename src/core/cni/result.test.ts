import test from 'node:test';
import assert from 'node:assert/strict';
import { CniError } from './errors.js';
import { parseResult, resultForVersion, versionResult, type CniResult } from './result.js';

const RESULT: CniResult = {
  interfaces: [
    { name: 'weft1a2b3c', mac: '02:00:00:00:00:02', mtu: 1450 },
    { name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1450, sandbox: '/var/run/netns/cni-1' },
  ],
  ips: [
    { address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 1 },
    { address: 'fd00:10:244:1::5/128', gateway: 'fe80::1', interface: 1 },
  ],
  routes: [
    { dst: '0.0.0.0/0', gw: '169.254.1.1', mtu: 1450, priority: 10 },
    { dst: '::/0', gw: 'fe80::1' },
  ],
  dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] },
};

test('1.1.0: the result as is, no version in ips', () => {
  assert.deepEqual(resultForVersion(RESULT, '1.1.0'), { cniVersion: '1.1.0', ...RESULT });
});

test('1.0.0: no version in ips, none of the fields 1.1.0 added', () => {
  assert.deepEqual(resultForVersion(RESULT, '1.0.0'), {
    cniVersion: '1.0.0',
    interfaces: [
      { name: 'weft1a2b3c', mac: '02:00:00:00:00:02' },
      { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/var/run/netns/cni-1' },
    ],
    ips: [
      { address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 1 },
      { address: 'fd00:10:244:1::5/128', gateway: 'fe80::1', interface: 1 },
    ],
    routes: [
      { dst: '0.0.0.0/0', gw: '169.254.1.1' },
      { dst: '::/0', gw: 'fe80::1' },
    ],
    dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] },
  });
});

test('0.3.x and 0.4.0: version in ips, no 1.1.0-only fields', () => {
  for (const v of ['0.4.0', '0.3.1', '0.3.0'] as const) {
    assert.deepEqual(resultForVersion(RESULT, v), {
      cniVersion: v,
      interfaces: [
        { name: 'weft1a2b3c', mac: '02:00:00:00:00:02' },
        { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/var/run/netns/cni-1' },
      ],
      ips: [
        { address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 1, version: '4' },
        { address: 'fd00:10:244:1::5/128', gateway: 'fe80::1', interface: 1, version: '6' },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '169.254.1.1' },
        { dst: '::/0', gw: 'fe80::1' },
      ],
      dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] },
    });
  }
});

test('an empty result has only cniVersion', () => {
  assert.deepEqual(resultForVersion({}, '0.4.0'), { cniVersion: '0.4.0' });
  assert.equal(JSON.stringify(resultForVersion({}, '1.1.0')), '{"cniVersion":"1.1.0"}');
});

test('VERSION result: every supported version, in the version asked for', () => {
  const all = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
  assert.deepEqual(versionResult(), { cniVersion: '1.1.0', supportedVersions: all });
  assert.deepEqual(versionResult('0.4.0'), { cniVersion: '0.4.0', supportedVersions: all });
  assert.deepEqual(versionResult('1.0.0'), { cniVersion: '1.0.0', supportedVersions: all });
  assert.deepEqual(versionResult('9.9.9'), { cniVersion: '1.1.0', supportedVersions: all });
});

test('parseResult reads every version back into the 1.1.0 form', () => {
  for (const v of ['0.3.0', '0.4.0', '1.0.0', '1.1.0'] as const) {
    const json = JSON.parse(JSON.stringify(resultForVersion(RESULT, v))) as Record<string, unknown>;
    const back = parseResult(json, 'prevResult');
    assert.deepEqual(
      back,
      v === '1.1.0'
        ? RESULT
        : {
            interfaces: [
              { name: 'weft1a2b3c', mac: '02:00:00:00:00:02' },
              { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/var/run/netns/cni-1' },
            ],
            ips: RESULT.ips,
            routes: [
              { dst: '0.0.0.0/0', gw: '169.254.1.1' },
              { dst: '::/0', gw: 'fe80::1' },
            ],
            dns: RESULT.dns,
          },
    );
  }
});

test('parseResult names the bad field (error 7)', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ips: {} }, /^prevResult\.ips must be a list of objects/],
    [{ ips: [{}] }, /^prevResult\.ips\[0\]\.address is required/],
    [
      { ips: [{ address: '10.0.0.1/24', gateway: 'x' }] },
      /^prevResult\.ips\[0\]\.gateway must be an IP address/,
    ],
    [
      { ips: [{ address: '10.0.0.1/24', version: 4 }] },
      /^prevResult\.ips\[0\]\.version must be "4" or "6"/,
    ],
    [
      { ips: [{ address: '10.0.0.1/24', interface: 0 }] },
      /^prevResult\.ips\[0\]\.interface is 0, but prevResult\.interfaces has 0 entries/,
    ],
    [{ interfaces: [{ mac: 'x' }] }, /^prevResult\.interfaces\[0\]\.name is required/],
    [{ routes: [{ dst: 'default' }] }, /^prevResult\.routes\[0\]\.dst must be an address\/prefix/],
    [
      { routes: [{ dst: '::/0', scope: 300 }] },
      /^prevResult\.routes\[0\]\.scope must be an integer from 0 to 255/,
    ],
    [{ dns: { domain: 1 } }, /^prevResult\.dns\.domain must be a string/],
  ];
  for (const [input, msg] of cases) {
    assert.throws(
      () => parseResult(input, 'prevResult'),
      (e: unknown) => e instanceof CniError && e.code === 7 && msg.test(e.msg),
      String(msg),
    );
  }
});
