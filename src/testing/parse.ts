import assert from 'node:assert/strict';
import { parseIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import { parseObject } from '../core/model/parse.js';
import type { ModelObject, Origin } from '../core/model/types.js';

/** Helpers for the parser tests: an object that must parse, one that must not, an address. */

export function parsedAs<K extends ModelObject['kind']>(
  kind: K,
  raw: unknown,
  origin?: Origin,
): Extract<ModelObject, { kind: K }> {
  const r = parseObject(raw, origin);
  assert.deepEqual(r.issues, []);
  assert.equal(r.object?.kind, kind);
  return r.object as Extract<ModelObject, { kind: K }>;
}

/** The (code, field) of every issue, in order; the object must not be returned. */
export function issueFields(raw: unknown, origin?: Origin): [string, string][] {
  const r = parseObject(raw, origin);
  assert.equal(r.object, undefined);
  assert.ok(r.issues.length > 0, 'expected issues');
  return r.issues.map((i) => [i.code, i.field]);
}

export function ipOf(s: string): IpAddr {
  const a = parseIp(s);
  assert.ok(a, s);
  return a;
}
