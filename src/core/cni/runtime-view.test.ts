import test from 'node:test';
import assert from 'node:assert/strict';
import { weftConflist } from './conflist.js';
import { resultForVersion, type CniResult } from './result.js';
import {
  negotiateVersion,
  pluginConfig,
  resultProblems,
  runtimeVersions,
  type RuntimeProfile,
} from './runtime-view.js';

const MODERN: RuntimeProfile = { highest: '1.1.0' };
const CONTAINERD_16: RuntimeProfile = { highest: '1.0.0' };

const RESULT: CniResult = {
  interfaces: [
    { name: 'weft0123456789a', mac: '02:00:00:00:00:02', mtu: 1450 },
    { name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1450, sandbox: '/proc/42/ns/net' },
  ],
  ips: [{ address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 1 }],
  routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
};

/** The JSON text a plugin prints, read back as a runtime reads it. */
function printed(v: Parameters<typeof resultForVersion>[1]): unknown {
  return JSON.parse(JSON.stringify(resultForVersion(RESULT, v)));
}

test("runtimeVersions: everything up to the runtime's newest", () => {
  assert.deepEqual(runtimeVersions(CONTAINERD_16), ['0.3.0', '0.3.1', '0.4.0', '1.0.0']);
  assert.deepEqual(runtimeVersions(MODERN), ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
});

test("weft's conflist: a modern runtime negotiates 1.1.0, containerd 1.6 reads 1.0.0", () => {
  const list = weftConflist() as unknown as Record<string, unknown>;
  assert.deepEqual(negotiateVersion(list, MODERN), { version: '1.1.0' });
  assert.deepEqual(negotiateVersion(list, CONTAINERD_16), { version: '1.0.0' });
  assert.deepEqual(negotiateVersion(list, { highest: '0.4.0' }), { version: '1.0.0' });
});

test('a conflist without cniVersions: every runtime sends cniVersion as written', () => {
  const old = { cniVersion: '1.1.0', name: 'weft', plugins: [{ type: 'weft' }] };
  assert.deepEqual(negotiateVersion(old, MODERN), { version: '1.1.0' });
  assert.deepEqual(negotiateVersion(old, CONTAINERD_16), { version: '1.1.0' });
  assert.deepEqual(negotiateVersion({ name: 'x' }, MODERN), {
    problem: 'the conflist has no cniVersion',
  });
  assert.deepEqual(negotiateVersion({ cniVersion: '1.0.0', cniVersions: ['2.0.0'] }, MODERN), {
    problem: 'cniVersions ["2.0.0"] names no version this runtime reads',
  });
});

test('pluginConfig: the entry plus name, cniVersion and prevResult', () => {
  const list = { name: 'weft', cniVersion: '1.0.0', plugins: [] };
  assert.deepEqual(pluginConfig(list, { type: 'weft', mtu: 1450 }, '1.0.0'), {
    type: 'weft',
    mtu: 1450,
    name: 'weft',
    cniVersion: '1.0.0',
  });
  assert.deepEqual(pluginConfig(list, { type: 'portmap' }, '1.1.0', { cniVersion: '1.1.0' }), {
    type: 'portmap',
    name: 'weft',
    cniVersion: '1.1.0',
    prevResult: { cniVersion: '1.1.0' },
  });
});

test('a result in the version sent, with that version’s fields, is taken', () => {
  for (const v of ['0.4.0', '1.0.0', '1.1.0'] as const) {
    assert.deepEqual(resultProblems(printed(v), v, MODERN), [], v);
  }
  assert.deepEqual(resultProblems(printed('1.0.0'), '1.0.0', CONTAINERD_16), []);
});

test('containerd 1.6 refuses a 1.1.0 result, as it did with the old conflist', () => {
  assert.deepEqual(resultProblems(printed('1.1.0'), '1.1.0', CONTAINERD_16), [
    'unsupported CNI result version "1.1.0"',
  ]);
});

test('a result in another version than sent, or with fields of another version, is refused', () => {
  assert.deepEqual(resultProblems(printed('1.1.0'), '1.0.0', MODERN), [
    'the result is version 1.1.0, but the request was 1.0.0',
  ]);
  const v1WithMtu = { ...(printed('1.0.0') as object), cniVersion: '1.0.0' } as Record<
    string,
    unknown
  >;
  v1WithMtu['interfaces'] = [{ name: 'eth0', mtu: 1450 }];
  assert.deepEqual(resultProblems(v1WithMtu, '1.0.0', MODERN), [
    'interfaces[0].mtu is not a field of this version',
  ]);
  const v04 = printed('0.4.0') as Record<string, unknown>;
  assert.deepEqual(resultProblems({ ...v04, ips: [{ address: '10.0.0.1/32' }] }, '0.4.0', MODERN), [
    'ips[0].version is required in this version',
  ]);
  assert.deepEqual(
    resultProblems(
      { cniVersion: '1.0.0', ips: [{ address: '10.0.0.1/32', version: '4' }] },
      '1.0.0',
      MODERN,
    ),
    ['ips[0].version is not a field of this version'],
  );
  assert.deepEqual(
    resultProblems({ cniVersion: '1.0.0', ips: [{ address: 'x' }] }, '1.0.0', MODERN),
    ['result.ips[0].address must be an address/prefix, got "x"'],
  );
  assert.deepEqual(resultProblems('no', '1.0.0', MODERN), ['the result is not a JSON object']);
});
