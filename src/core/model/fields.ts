import { closest } from '../text.js';
import { ErrorCodes, WeftError, type ErrorCode, type Issue } from '../errors.js';

/**
 * A strict reader over one plain object of a manifest. Every key that is read
 * is marked; `done()` reports every key that nobody read as an unknown field,
 * so no field is ever silently ignored. Problems are collected, not thrown, so
 * that one run reports every mistake of a manifest at once.
 */
export class ParseContext {
  readonly issues: Issue[] = [];

  constructor(readonly object: string) {}

  report(code: ErrorCode, field: string, message: string, fix?: string): void {
    this.issues.push(
      fix === undefined
        ? { code, object: this.object, field, message }
        : { code, object: this.object, field, message, fix },
    );
  }

  invalid(field: string, message: string, fix?: string): void {
    this.report(ErrorCodes.INVALID_FIELD, field, message, fix);
  }

  /** Throws every collected problem at once, if any. */
  throwIfAny(): void {
    if (this.issues.length > 0) throw new WeftError(this.issues);
  }
}

export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

export class ObjectReader {
  private readonly seen = new Set<string>();

  constructor(
    readonly ctx: ParseContext,
    readonly path: string,
    readonly value: Record<string, unknown>,
  ) {}

  /** Wraps `value` if it is an object; reports a type error and returns undefined otherwise. */
  static at(ctx: ParseContext, path: string, value: unknown): ObjectReader | undefined {
    if (!isPlainObject(value)) {
      ctx.invalid(path, `must be an object, got ${describe(value)}`);
      return undefined;
    }
    return new ObjectReader(ctx, path, value);
  }

  field(key: string): string {
    return joinPath(this.path, key);
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  /** Raw access; marks the key as read. `null` reads as absent, as the API server does. */
  raw(key: string): unknown {
    this.seen.add(key);
    const v = this.value[key];
    return v === null ? undefined : v;
  }

  /** Marks keys as known without reading them (e.g. server-populated metadata). */
  ignore(...keys: string[]): void {
    for (const k of keys) this.seen.add(k);
  }

  missing(key: string, fix?: string): void {
    this.ctx.report(ErrorCodes.MISSING_FIELD, this.field(key), 'is required', fix);
  }

  string(key: string, opts: { required?: boolean; fix?: string } = {}): string | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (opts.required) this.missing(key, opts.fix);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.ctx.invalid(this.field(key), `must be a string, got ${describe(v)}`, opts.fix);
      return undefined;
    }
    return v;
  }

  integer(
    key: string,
    opts: { required?: boolean; min?: number; max?: number; fix?: string } = {},
  ): number | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (opts.required) this.missing(key, opts.fix);
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.ctx.invalid(this.field(key), `must be an integer, got ${describe(v)}`, opts.fix);
      return undefined;
    }
    if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
      const range = `${opts.min ?? '-inf'}..${opts.max ?? 'inf'}`;
      this.ctx.invalid(this.field(key), `must be in ${range}, got ${v}`, opts.fix);
      return undefined;
    }
    return v;
  }

  boolean(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') {
      this.ctx.invalid(this.field(key), `must be true or false, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  object(key: string, opts: { required?: boolean; fix?: string } = {}): ObjectReader | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (opts.required) this.missing(key, opts.fix);
      return undefined;
    }
    return ObjectReader.at(this.ctx, this.field(key), v);
  }

  /** A list; each element comes with its own path. Absent reads as undefined. */
  list(
    key: string,
    opts: { required?: boolean; fix?: string } = {},
  ): { value: unknown; path: string }[] | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (opts.required) this.missing(key, opts.fix);
      return undefined;
    }
    if (!Array.isArray(v)) {
      this.ctx.invalid(this.field(key), `must be a list, got ${describe(v)}`, opts.fix);
      return undefined;
    }
    return v.map((value, i) => ({ value, path: joinPath(this.field(key), i) }));
  }

  /** A map of string to string (labels, annotations). */
  stringMap(key: string): Record<string, string> | undefined {
    const r = this.object(key);
    if (!r) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.value)) {
      r.seen.add(k);
      if (typeof v !== 'string') {
        this.ctx.invalid(r.field(k), `must be a string, got ${describe(v)}`, 'quote the value');
        continue;
      }
      out[k] = v;
    }
    return out;
  }

  /** Reports every key nobody read. Call once, after reading. */
  done(fix?: string): void {
    for (const key of Object.keys(this.value)) {
      if (this.seen.has(key)) continue;
      const near = closest(key, [...this.seen]);
      this.ctx.report(
        ErrorCodes.UNKNOWN_FIELD,
        this.field(key),
        'unknown field',
        fix ??
          (near
            ? `did you mean ${JSON.stringify(near)}?`
            : 'remove it or check its spelling against the API reference'),
      );
    }
  }
}
