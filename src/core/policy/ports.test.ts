import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Protocol } from '../model/types.js';
import type { IrPort, SetId } from './ir.js';
import { normalizePorts } from './ports.js';

const range = (protocol: Protocol, from: number, to = from): IrPort => ({
  kind: 'range',
  protocol,
  from,
  to,
});

test('duplicates go, adjacent and overlapping ports and ranges merge, per protocol', () => {
  assert.deepEqual(
    normalizePorts([
      range('TCP', 443),
      range('TCP', 80),
      range('UDP', 53),
      range('TCP', 81),
      range('TCP', 82, 90),
      range('TCP', 80),
      range('TCP', 85, 100),
      range('UDP', 53),
    ]),
    [range('TCP', 80, 100), range('TCP', 443), range('UDP', 53)],
  );
});

test('an every-port entry of a protocol replaces its ports; named ports stay in place', () => {
  const named: IrPort = { kind: 'named', name: 'http', set: 'r/port2' as SetId };
  assert.deepEqual(
    normalizePorts([
      range('SCTP', 9),
      named,
      range('UDP', 1, 10),
      { kind: 'protocol', protocol: 'UDP' },
      { kind: 'protocol', protocol: 'UDP' },
    ]),
    [range('SCTP', 9), named, { kind: 'protocol', protocol: 'UDP' }],
  );
});

test('100,000 single ports become the ranges they cover', () => {
  const ports = Array.from({ length: 100_000 }, (_, i) => range('TCP', 1 + (i % 60_000)));
  assert.deepEqual(normalizePorts(ports), [range('TCP', 1, 60_000)]);
});

test('property: the same ports match before and after, with no two entries touching', () => {
  const port = fc.integer({ min: 1, max: 200 });
  const entry = fc
    .tuple(fc.constantFrom<Protocol>('TCP', 'UDP'), port, fc.integer({ min: 0, max: 20 }))
    .map(([p, from, len]) => range(p, from, Math.min(200, from + len)));
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 30 }), (ports) => {
      const out = normalizePorts(ports);
      const matches = (list: readonly IrPort[], p: Protocol, n: number) =>
        list.some((e) => e.kind === 'range' && e.protocol === p && n >= e.from && n <= e.to);
      for (const p of ['TCP', 'UDP'] as const)
        for (let n = 1; n <= 200; n++) assert.equal(matches(out, p, n), matches(ports, p, n));
      for (const [i, a] of out.entries())
        for (const b of out.slice(i + 1))
          if (a.kind === 'range' && b.kind === 'range' && a.protocol === b.protocol)
            assert.ok(a.to + 1 < b.from || b.to + 1 < a.from, 'no two entries touch');
    }),
  );
});
