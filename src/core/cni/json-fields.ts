/**
 * Typed reads of JSON fields for the CNI config and results. Every failure is
 * a CNI error 7 (invalid network config) naming the field by its dotted path,
 * what it must be and what it was.
 */
import { CniError, CniErrorCodes } from './errors.js';

export type JsonObject = Readonly<Record<string, unknown>>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const SHOWN_CHARS = 60;

/** A value as short JSON for messages: `"text"`, `42`, `{"type":"host-local"}`, clamped. */
export function showValue(v: unknown): string {
  const text = v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v));
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS - 3)}...` : text;
}

/** Error 7: `field` must be `expected`, with the value that was there. */
export function invalidField(field: string, expected: string, value: unknown): CniError {
  return new CniError(
    CniErrorCodes.INVALID_NETWORK_CONFIG,
    `${field} must be ${expected}, got ${showValue(value)}`,
  );
}

/** Error 7 for a required field that is absent. */
export function missingField(field: string, expected: string): CniError {
  return new CniError(
    CniErrorCodes.INVALID_NETWORK_CONFIG,
    `${field} is required (${expected}) but is missing`,
  );
}

function fieldPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function optString(obj: JsonObject, key: string, path: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidField(fieldPath(path, key), 'a string', v);
  return v;
}

export function reqString(obj: JsonObject, key: string, path: string): string {
  const v = optString(obj, key, path);
  if (v === undefined) throw missingField(fieldPath(path, key), 'a string');
  return v;
}

export function optBoolean(obj: JsonObject, key: string, path: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalidField(fieldPath(path, key), 'true or false', v);
  return v;
}

/** An integer in [min, max]. */
export function optInt(
  obj: JsonObject,
  key: string,
  path: string,
  min: number,
  max: number,
): number | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidField(fieldPath(path, key), `an integer from ${min} to ${max}`, v);
  }
  return v;
}

export function optStringArray(
  obj: JsonObject,
  key: string,
  path: string,
): readonly string[] | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw invalidField(fieldPath(path, key), 'a list of strings', v);
  v.forEach((item: unknown, i) => {
    if (typeof item !== 'string')
      throw invalidField(`${fieldPath(path, key)}[${i}]`, 'a string', item);
  });
  return v as string[];
}

export function optObject(obj: JsonObject, key: string, path: string): JsonObject | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (!isObject(v)) throw invalidField(fieldPath(path, key), 'an object', v);
  return v;
}

/** A list of objects, each read by `read` with its own path (`field[i]`). */
export function optObjectArray<T>(
  obj: JsonObject,
  key: string,
  path: string,
  read: (item: JsonObject, itemPath: string) => T,
): readonly T[] | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  const field = fieldPath(path, key);
  if (!Array.isArray(v)) throw invalidField(field, 'a list of objects', v);
  return v.map((item: unknown, i) => {
    const itemPath = `${field}[${i}]`;
    if (!isObject(item)) throw invalidField(itemPath, 'an object', item);
    return read(item, itemPath);
  });
}

/** Copies only the defined values, so results and configs carry no `undefined` keys. */
export function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
