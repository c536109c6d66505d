import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** A source file, for the tests that read sources (core purity, layering, route literals). */
export interface SourceFile {
  /** Path relative to the directory listed, with `/` separators. */
  readonly path: string;
  readonly source: string;
}

export interface SourceOptions {
  /** Include the `.test.ts` files (default: not). */
  readonly tests?: boolean;
  /** File name endings to list (default: `.ts`). */
  readonly extensions?: readonly string[];
}

/** Every source file under `dir` (by default the `.ts` files that are not tests), with its text. */
export function listSources(dir: string, options: SourceOptions = {}, root = dir): SourceFile[] {
  const extensions = options.extensions ?? ['.ts'];
  const out: SourceFile[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(full, options, root));
    else if (
      extensions.some((e) => entry.name.endsWith(e)) &&
      (options.tests || !entry.name.endsWith('.test.ts'))
    )
      out.push({
        path: relative(root, full).split(sep).join('/'),
        source: readFileSync(full, 'utf8'),
      });
  }
  return out;
}
