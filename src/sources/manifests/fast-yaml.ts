import { load, YAML11_SCHEMA, CORE_SCHEMA } from 'js-yaml';

/**
 * The fast path for reading manifests: split the text at document markers
 * and decode each document with js-yaml, which is several times faster than
 * building the full YAML document model. It gives up (returns undefined) on
 * anything it cannot place exactly — a syntax error, directives, a List that
 * wants per-item lines — and the caller then takes the careful path, which
 * reports errors with their exact lines.
 */
export interface FastDocument {
  readonly value: unknown;
  /** Line (1-based) of the document's first content line. */
  readonly line: number;
}

const START = /^---(\s|$)/;
const END = /^\.\.\.(\s|$)/;

export function loadDocumentsFast(text: string, yaml11: boolean): FastDocument[] | undefined {
  const lines = text.split('\n');
  if (lines.some((l) => l.startsWith('%'))) return undefined;
  const docs: FastDocument[] = [];
  let chunk: string[] = [];
  let first = 0;
  const flush = (): boolean => {
    const doc = decode(chunk, first, yaml11);
    if (doc === false) return false;
    if (doc) docs.push(doc);
    return true;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (START.test(line)) {
      if (!flush()) return undefined;
      chunk = [line];
      first = i;
    } else if (END.test(line)) {
      if (!flush()) return undefined;
      chunk = [];
      first = i + 1;
    } else {
      chunk.push(line);
    }
  }
  return flush() ? docs : undefined;
}

/** undefined: an empty document; false: give up. */
function decode(
  chunk: readonly string[],
  first: number,
  yaml11: boolean,
): FastDocument | undefined | false {
  const offset = chunk.findIndex((l) => {
    const t = l.replace(/^---/, '').trim();
    return t !== '' && !t.startsWith('#');
  });
  if (offset < 0) return undefined;
  let value: unknown;
  try {
    value = load(chunk.join('\n'), { schema: yaml11 ? YAML11_SCHEMA : CORE_SCHEMA });
  } catch {
    return false;
  }
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'object' && !Array.isArray(value) && 'items' in value) return false;
  return { value, line: first + offset + 1 };
}
