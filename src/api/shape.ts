/**
 * Checks that a decoded JSON value has the shape weft expects, enough to say
 * clearly what is wrong (the field by its dotted path, what it must be and
 * what it was) instead of failing later on an undefined. A checked object is
 * passed through as it came: fields the shape does not name are kept.
 */
import { showValue } from '../core/cni/json-fields.js';
import { ErrorCodes } from '../core/errors.js';

/** Checks `value` (at `path`, '' for the whole answer) and returns it typed, or throws ShapeError. */
export type Shape<T> = (value: unknown, path: string) => T;

export class ShapeError extends Error {
  readonly code = ErrorCodes.AGENT_ANSWER;

  constructor(
    readonly path: string,
    readonly expected: string,
    readonly value: unknown,
  ) {
    super(
      path === ''
        ? `not ${expected}: ${showValue(value)}`
        : `"${path}" must be ${expected}, got ${showValue(value)}`,
    );
    this.name = 'ShapeError';
  }
}

function field(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function primitive<T>(expected: string, ok: (v: unknown) => boolean): Shape<T> {
  return (v, path) => {
    if (!ok(v)) throw new ShapeError(path, expected, v);
    return v as T;
  };
}

export const str: Shape<string> = primitive('a string', (v) => typeof v === 'string');
export const bool: Shape<boolean> = primitive('true or false', (v) => typeof v === 'boolean');
export const num: Shape<number> = primitive('a number', (v) => Number.isFinite(v));

export function intIn(min: number, max: number): Shape<number> {
  return primitive(
    `an integer from ${min} to ${max}`,
    (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
  );
}

export function oneOf<T extends string>(...values: readonly T[]): Shape<T> {
  return primitive(`one of ${values.map((v) => JSON.stringify(v)).join(', ')}`, (v) =>
    (values as readonly unknown[]).includes(v),
  );
}

export function optional<T>(shape: Shape<T>): Shape<T | undefined> {
  return (v, path) => (v === undefined ? undefined : shape(v, path));
}

export function nullable<T>(shape: Shape<T>): Shape<T | null> {
  return (v, path) => (v === null ? null : shape(v, path));
}

export function arrayOf<T>(item: Shape<T>): Shape<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) throw new ShapeError(path, 'a JSON array', v);
    v.forEach((x, i) => item(x, field(path, i)));
    return v as T[];
  };
}

function isObject(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every value of an object (a map: labels, counters by cause). */
export function recordOf<T>(value: Shape<T>): Shape<Record<string, T>> {
  return (v, path) => {
    if (!isObject(v)) throw new ShapeError(path, 'a JSON object', v);
    for (const [k, x] of Object.entries(v)) value(x, field(path, k));
    return v as Record<string, T>;
  };
}

/** Shapes of some fields of T; of a union, of the fields all its members have (not member by member). */
type FieldShapes<Boxed extends [unknown]> = {
  readonly [K in keyof Boxed[0]]?: Shape<Boxed[0][K]>;
};

/** An object whose named fields have their shapes; the others pass unchecked. */
export function objectWith<T>(fields: FieldShapes<[T]>): Shape<T> {
  const checks = Object.entries(fields) as [string, Shape<unknown>][];
  return (v, path) => {
    if (!isObject(v)) throw new ShapeError(path, 'a JSON object', v);
    for (const [k, shape] of checks) shape(v[k], field(path, k));
    return v as T;
  };
}

export type Decoded<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

/** Parses `text` as JSON of `shape`; else says why not (`not JSON (...)`, or the ShapeError's text). */
export function decodeJson<T>(text: string, shape: Shape<T>): Decoded<T> {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (e) {
    return { ok: false, problem: `not JSON (${e instanceof Error ? e.message : String(e)})` };
  }
  try {
    return { ok: true, value: shape(value, '') };
  } catch (e) {
    if (e instanceof ShapeError) return { ok: false, problem: e.message };
    throw e;
  }
}
