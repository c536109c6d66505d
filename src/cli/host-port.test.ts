import test from 'node:test';
import assert from 'node:assert/strict';
import { parseHostPort } from './host-port.js';
import { UsageError } from './output.js';

test('parseHostPort: IPv4, names and bracketed IPv6; port 0 only where allowed', () => {
  assert.deepEqual(parseHostPort('ui', '10.0.0.5:9964', 'x'), { host: '10.0.0.5', port: 9964 });
  assert.deepEqual(parseHostPort('ui', 'node-1:80', 'x'), { host: 'node-1', port: 80 });
  assert.deepEqual(parseHostPort('ui', '[::]:9963', 'x'), { host: '::', port: 9963 });
  assert.deepEqual(parseHostPort('listen', '127.0.0.1:0', 'x', true), {
    host: '127.0.0.1',
    port: 0,
  });
  for (const bad of ['9963', ':9963', '::1:80', '[::1]', 'a:65536', 'a:0', 'a:-1', '[x]:1']) {
    assert.throws(
      () => parseHostPort('ui', bad, '0.0.0.0:9964'),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message === `--ui ${bad}: not HOST:PORT` &&
        e.fix === 'e.g. --ui 0.0.0.0:9964',
      bad,
    );
  }
});
