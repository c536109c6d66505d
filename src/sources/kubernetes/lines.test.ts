import test from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter } from './lines.js';

test('lines: complete lines only, whatever the chunking', () => {
  const text = '{"a":1}\n{"b":"ä€"}\n\n{"c":3}\n{"d":';
  const bytes = Buffer.from(text);
  // Every way of cutting the stream in two, including inside a multi-byte character.
  for (let cut = 0; cut <= bytes.length; cut++) {
    const s = new LineSplitter();
    const out = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
    assert.deepEqual(out, ['{"a":1}', '{"b":"ä€"}', '{"c":3}'], `cut at ${cut}`);
    assert.equal(s.partial, 5);
  }
  // One byte at a time.
  const s = new LineSplitter();
  const out: string[] = [];
  for (const b of bytes) out.push(...s.push(Buffer.from([b])));
  assert.deepEqual(out, ['{"a":1}', '{"b":"ä€"}', '{"c":3}']);
});
