/**
 * core is pure: it imports nothing from `node:`, no package, and nothing
 * outside src/core. This test reads the sources (not the compiled output, so
 * type-only imports count too) and names every file and import that breaks it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { listSources, type SourceFile } from '../testing/sources.js';

interface Violation {
  readonly file: string;
  readonly line: number;
  readonly specifier: string;
  readonly reason: string;
}

/** Why `specifier`, imported from `file`, is not allowed in core; undefined when it is. */
function forbidden(file: string, specifier: string): string | undefined {
  if (specifier.startsWith('node:')) return 'a Node.js built-in';
  if (builtinModules.includes(specifier)) return 'a Node.js built-in';
  if (specifier.startsWith('/')) return 'an absolute path';
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return 'a package';
  const target = posix.normalize(posix.join(posix.dirname(file), specifier));
  if (target === '..' || target.startsWith('../')) return `outside src/core (${target})`;
  return undefined;
}

/** Every import, re-export, dynamic import and require of the files that core may not have. */
function checkPurity(files: readonly SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  for (const f of files) {
    // The TypeScript scanner skips comments and strings, so only real imports count.
    for (const ref of ts.preProcessFile(f.source, true, true).importedFiles) {
      const reason = forbidden(f.path, ref.fileName);
      if (!reason) continue;
      const line = f.source.slice(0, ref.pos).split('\n').length;
      violations.push({ file: f.path, line, specifier: ref.fileName, reason });
    }
  }
  return violations;
}

// This file runs as dist/core/purity.test.js; the sources are in src/core.
const CORE_DIR = fileURLToPath(new URL('../../src/core', import.meta.url));

test('src/core imports nothing from node:, no package and nothing outside src/core', () => {
  const files = listSources(CORE_DIR);
  assert.ok(
    files.some((f) => f.path === 'labels.ts'),
    `no core sources found in ${CORE_DIR}`,
  );
  const text = checkPurity(files).map(
    (v) => `src/core/${v.file}:${v.line}: imports "${v.specifier}", ${v.reason}`,
  );
  assert.deepEqual(text, [], `core must stay pure:\n${text.join('\n')}`);
});

test('the purity check reports each kind of forbidden import', () => {
  const source = [
    "import { readFileSync } from 'node:fs';",
    "import type { Document } from 'yaml';",
    "import { run } from '../../agent/run.js';",
    "import { matches } from '../labels.js';",
    '// import os from "node:os" (a comment, not an import)',
    'const s = "import q from \'fake\'";',
    "export { x } from './x.js';",
    "const cp = await import('child_process');",
  ].join('\n');
  assert.deepEqual(checkPurity([{ path: 'policy/bad.ts', source }]), [
    { file: 'policy/bad.ts', line: 1, specifier: 'node:fs', reason: 'a Node.js built-in' },
    { file: 'policy/bad.ts', line: 2, specifier: 'yaml', reason: 'a package' },
    {
      file: 'policy/bad.ts',
      line: 3,
      specifier: '../../agent/run.js',
      reason: 'outside src/core (../agent/run.js)',
    },
    { file: 'policy/bad.ts', line: 8, specifier: 'child_process', reason: 'a Node.js built-in' },
  ]);
  assert.deepEqual(checkPurity([{ path: 'labels.ts', source: "import x from '../cli/x.js';" }]), [
    {
      file: 'labels.ts',
      line: 1,
      specifier: '../cli/x.js',
      reason: 'outside src/core (../cli/x.js)',
    },
  ]);
});
