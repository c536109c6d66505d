import test from 'node:test';
import assert from 'node:assert/strict';
import { CniError } from './errors.js';
import { weftConflist } from './conflist.js';
import { parseNetConf } from './netconf.js';

test('the default conflist', () => {
  assert.deepEqual(weftConflist(), {
    cniVersion: '1.0.0',
    cniVersions: ['0.4.0', '1.0.0', '1.1.0'],
    name: 'weft',
    plugins: [{ type: 'weft' }],
  });
});

test('mtu and agentSocket go into the plugin entry', () => {
  const list = weftConflist({ mtu: 1450, agentSocket: '/var/run/weft/cni.sock' });
  assert.deepEqual(list.plugins, [
    { type: 'weft', mtu: 1450, agentSocket: '/var/run/weft/cni.sock' },
  ]);
});

test('the plugin config a runtime derives from it parses in every listed version', () => {
  const list = weftConflist({ mtu: 1450 });
  const plugin = list.plugins[0];
  assert.ok(plugin);
  for (const cniVersion of [list.cniVersion, ...list.cniVersions]) {
    const conf = parseNetConf({ cniVersion, name: list.name, ...plugin });
    assert.equal(conf.mtu, 1450);
    assert.equal(conf.cniVersion, cniVersion);
  }
});

test('bad options fail with error 7', () => {
  assert.throws(
    () => weftConflist({ mtu: 100 }),
    (e: unknown) => e instanceof CniError && e.code === 7,
  );
  assert.throws(
    () => weftConflist({ agentSocket: 'cni.sock' }),
    (e: unknown) => e instanceof CniError && e.code === 7 && /agentSocket/.test(e.msg),
  );
});
