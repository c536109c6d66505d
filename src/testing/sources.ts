import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** A source file, for the tests that read imports (core purity, layering). */
export interface SourceFile {
  /** Path relative to the directory listed, with `/` separators. */
  readonly path: string;
  readonly source: string;
}

/** Every `.ts` file under `dir` that is not a test, with its text. */
export function listSources(dir: string, root = dir): SourceFile[] {
  const out: SourceFile[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(full, root));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
      out.push({
        path: relative(root, full).split(sep).join('/'),
        source: readFileSync(full, 'utf8'),
      });
  }
  return out;
}
