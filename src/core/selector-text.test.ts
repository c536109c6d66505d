import test from 'node:test';
import assert from 'node:assert/strict';
import { formatSelector } from './labels.js';
import { parseSelectorText } from './selector-text.js';

function ok(text: string) {
  const r = parseSelectorText(text);
  if ('error' in r) assert.fail(`${text}: ${r.error}`);
  return r.selector;
}
function err(text: string): string {
  const r = parseSelectorText(text);
  if (!('error' in r)) assert.fail(`${text} parsed`);
  return r.error;
}

test('every requirement form of kubectl -l', () => {
  assert.deepEqual(
    ok('app=web, tier == front,env!=prod,!legacy,canary, zone in (b, a,a), x notin (y)'),
    {
      requirements: [
        { key: 'app', operator: 'In', values: ['web'] },
        { key: 'tier', operator: 'In', values: ['front'] },
        { key: 'env', operator: 'NotIn', values: ['prod'] },
        { key: 'legacy', operator: 'DoesNotExist', values: [] },
        { key: 'canary', operator: 'Exists', values: [] },
        { key: 'zone', operator: 'In', values: ['a', 'b'] },
        { key: 'x', operator: 'NotIn', values: ['y'] },
      ],
    },
  );
  assert.deepEqual(ok(''), { requirements: [] });
  assert.deepEqual(ok('  '), { requirements: [] });
  assert.deepEqual(ok('example.com/role='), {
    requirements: [{ key: 'example.com/role', operator: 'In', values: [''] }],
  });
  assert.deepEqual(ok('a=in'), { requirements: [{ key: 'a', operator: 'In', values: ['in'] }] });
  assert.equal(formatSelector(ok('b in (x,y),!c')), 'b in (x,y),!c');
});

test('syntax errors say what was expected and where', () => {
  assert.equal(err('app=web,'), 'expected a label key, found the end');
  assert.equal(
    err('app web'),
    'expected an operator (=, ==, !=, in, notin) or a comma after key app, found "web" at offset 4',
  );
  assert.equal(err('a in b'), 'expected "(" after in, found "b" at offset 5');
  assert.equal(err('a in (b'), 'expected a comma or ")" in the value list, found the end');
  assert.equal(err('a notin ()'), 'notin () needs at least one value');
  assert.match(err('a>1'), /numeric comparison/);
  assert.match(err('a=b c'), /expected a comma between requirements, found "c"/);
  assert.match(
    err('Bad_/x=1'),
    /label key "Bad_\/x": prefix part must be a lowercase DNS subdomain/,
  );
  assert.match(err('a=-x'), /label value "-x"/);
  assert.match(err(`a=${'v'.repeat(64)}`), /at most 63 characters/);
});
