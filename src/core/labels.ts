import { joinPath, ObjectReader, type ParseContext } from './model/fields.js';

export type Labels = Readonly<Record<string, string>>;

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface Requirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Sorted, unique. Empty for Exists / DoesNotExist. */
  readonly values: readonly string[];
}

/**
 * A parsed metav1.LabelSelector: the AND of its requirements. matchLabels
 * entries become `In` requirements with one value. No requirements selects
 * everything (an empty selector, `{}`).
 */
export interface LabelSelector {
  readonly requirements: readonly Requirement[];
}

export const EVERYTHING: LabelSelector = { requirements: [] };

export function isEmptySelector(s: LabelSelector): boolean {
  return s.requirements.length === 0;
}

export function matches(s: LabelSelector, labels: Labels): boolean {
  for (const r of s.requirements) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.operator) {
      case 'In':
        if (!has || !r.values.includes(labels[r.key] as string)) return false;
        break;
      case 'NotIn':
        // As in the API: a missing key satisfies NotIn.
        if (has && r.values.includes(labels[r.key] as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return assertNever(r.operator);
    }
  }
  return true;
}

/** kubectl's notation: `app=web,tier in (a,b),!legacy`; `<all>` for the empty selector. */
export function formatSelector(s: LabelSelector): string {
  if (s.requirements.length === 0) return '<all>';
  return s.requirements
    .map((r) => {
      switch (r.operator) {
        case 'In':
          return r.values.length === 1
            ? `${r.key}=${r.values[0]}`
            : `${r.key} in (${r.values.join(',')})`;
        case 'NotIn':
          return `${r.key} notin (${r.values.join(',')})`;
        case 'Exists':
          return r.key;
        case 'DoesNotExist':
          return `!${r.key}`;
        default:
          return assertNever(r.operator);
      }
    })
    .join(',');
}

/** Every label key a selector mentions. */
export function selectorKeys(s: LabelSelector): string[] {
  return [...new Set(s.requirements.map((r) => r.key))];
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}

// --- validation, as the API server does it (apimachinery validation) ---

const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** undefined when `key` is a valid qualified name (`[prefix/]name`), else why not. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.indexOf('/');
  let prefix: string | undefined;
  let name = key;
  if (slash >= 0) {
    prefix = key.slice(0, slash);
    name = key.slice(slash + 1);
    if (prefix.length === 0) return 'prefix part must not be empty';
    if (prefix.length > 253) return 'prefix part must be at most 253 characters';
    if (!DNS1123_SUBDOMAIN.test(prefix)) return 'prefix part must be a lowercase DNS subdomain';
  }
  if (name.length === 0) return 'name part must not be empty';
  if (name.length > 63) return 'name part must be at most 63 characters';
  if (!NAME_PART.test(name)) {
    return 'name part must be alphanumerics, "-", "_" or "." and start and end with an alphanumeric';
  }
  return undefined;
}

export function labelValueError(value: string): string | undefined {
  if (value.length > 63) return 'must be at most 63 characters';
  if (!LABEL_VALUE.test(value)) {
    return 'must be empty or alphanumerics, "-", "_" or "." starting and ending with an alphanumeric';
  }
  return undefined;
}

/** Reads and validates `metadata.labels`. */
export function parseLabels(r: ObjectReader, key: string): Labels {
  const raw = r.stringMap(key) ?? {};
  for (const [k, v] of Object.entries(raw)) {
    const field = joinPath(r.field(key), k);
    const ke = labelKeyError(k);
    if (ke) r.ctx.invalid(field, `label key ${JSON.stringify(k)}: ${ke}`);
    const ve = labelValueError(v);
    if (ve) r.ctx.invalid(field, `label value ${JSON.stringify(v)}: ${ve}`);
  }
  return raw;
}

const OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/**
 * Parses a metav1.LabelSelector at `path` with the API server's validation:
 * valid keys and values; In/NotIn need at least one value; Exists/DoesNotExist
 * take none. Unknown fields are reported.
 */
export function parseSelector(ctx: ParseContext, path: string, value: unknown): LabelSelector {
  const r = ObjectReader.at(ctx, path, value);
  if (!r) return EVERYTHING;
  const requirements: Requirement[] = [];
  const matchLabels = r.stringMap('matchLabels') ?? {};
  for (const [k, v] of Object.entries(matchLabels)) {
    const field = joinPath(r.field('matchLabels'), k);
    const ke = labelKeyError(k);
    if (ke) ctx.invalid(field, `key ${JSON.stringify(k)}: ${ke}`);
    const ve = labelValueError(v);
    if (ve) ctx.invalid(field, `value ${JSON.stringify(v)}: ${ve}`);
    requirements.push({ key: k, operator: 'In', values: [v] });
  }
  for (const item of r.list('matchExpressions') ?? []) {
    const e = ObjectReader.at(ctx, item.path, item.value);
    if (!e) continue;
    const key = e.string('key', { required: true });
    const op = e.string('operator', { required: true, fix: `use one of ${OPERATORS.join(', ')}` });
    const values: string[] = [];
    for (const v of e.list('values') ?? []) {
      if (typeof v.value !== 'string') ctx.invalid(v.path, 'must be a string', 'quote the value');
      else values.push(v.value);
    }
    e.done();
    if (key !== undefined) {
      const ke = labelKeyError(key);
      if (ke) ctx.invalid(e.field('key'), `${JSON.stringify(key)}: ${ke}`);
    }
    if (op === undefined || key === undefined) continue;
    if (!(OPERATORS as readonly string[]).includes(op)) {
      ctx.invalid(
        e.field('operator'),
        `unknown operator ${JSON.stringify(op)}`,
        `use one of ${OPERATORS.join(', ')}`,
      );
      continue;
    }
    const operator = op as SelectorOperator;
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0) {
      ctx.invalid(
        e.field('values'),
        `must be non-empty when operator is ${operator}`,
        'list at least one value',
      );
      continue;
    }
    if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) {
      ctx.invalid(
        e.field('values'),
        `must be empty when operator is ${operator}`,
        'remove the values',
      );
      continue;
    }
    for (const v of values) {
      const ve = labelValueError(v);
      if (ve) ctx.invalid(e.field('values'), `value ${JSON.stringify(v)}: ${ve}`);
    }
    requirements.push({ key, operator, values: [...new Set(values)].sort() });
  }
  r.done();
  return { requirements };
}
