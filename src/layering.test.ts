/**
 * The layers, as a test (core's own purity is core/purity.test.ts):
 *
 * - adapters (nft and its components, routing, sources, the kernel flow
 *   readers in kernel-readers/, ipam-store, the host helpers, the listeners,
 *   the agent API's routes and client in api/) import core and each other,
 *   never the agent, the CLI, the UI (server, page, ui-shared/) or the lab;
 * - the agent is imported by itself and by the CLI that starts it, nobody
 *   else;
 * - the page (web/) imports core, ui-shared/ and itself, no module of its
 *   server (ui/) nor of any other edge;
 * - ui-shared/, what the UI server and the page both read, imports core only.
 *
 * It reads the sources (type-only imports count) and names every file, line
 * and import that breaks a rule.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { listSources, type SourceFile } from './testing/sources.js';

const ADAPTERS = [
  'nft',
  'components',
  'routing',
  'sources',
  'kernel-readers',
  'ipam-store',
  'host',
  'listen',
  'api',
];
const EDGES = ['agent', 'cli', 'ui', 'lab', 'web', 'ui-shared'];

/** Why `from` may not import the top-level folder `to`; undefined when it may. */
function rule(from: string, to: string): string | undefined {
  if (from === to) return undefined;
  if (ADAPTERS.includes(from) && EDGES.includes(to))
    return `an adapter (${from}/) imports ${to}/; adapters import core and each other only`;
  if (to === 'agent' && from !== 'cli') return `only the CLI that starts it imports agent/`;
  if (from === 'web' && to === 'ui')
    return 'the page imports no module of its server; what both read goes in ui-shared/';
  if (from === 'web' && to !== 'core' && to !== 'ui-shared')
    return `the page imports core and ui-shared/ only, not ${to}/`;
  if (from === 'ui-shared' && to !== 'core')
    return `ui-shared/ is read by the page too: it imports core only, not ${to}/`;
  return undefined;
}

/** Every import of `files` that breaks a rule, as `src/FILE:LINE: imports "X": why`. */
function checkLayers(files: readonly SourceFile[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    const from = f.path.split('/')[0] ?? '';
    for (const ref of ts.preProcessFile(f.source, true, true).importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const target = posix.normalize(posix.join(posix.dirname(f.path), ref.fileName));
      const to = target.includes('/') ? (target.split('/')[0] ?? '') : '';
      const why = to && rule(from, to);
      if (!why) continue;
      const line = f.source.slice(0, ref.pos).split('\n').length;
      out.push(`src/${f.path}:${line}: imports "${ref.fileName}": ${why}`);
    }
  }
  return out;
}

// This file runs as dist/layering.test.js; the sources are in src/.
const SRC = fileURLToPath(new URL('../src', import.meta.url));

test('adapters, the agent and the page import only what their layer may', () => {
  const files = listSources(SRC);
  assert.ok(
    files.some((f) => f.path === 'host/exec.ts'),
    `no sources found in ${SRC}`,
  );
  const broken = checkLayers(files);
  assert.deepEqual(broken, [], `layering:\n${broken.join('\n')}`);
});

test('the layering check names each kind of violation', () => {
  const files: SourceFile[] = [
    { path: 'routing/x.ts', source: "import { run } from '../agent/exec.js';\n" },
    { path: 'nft/y.ts', source: "import type { Io } from '../cli/main.js';" },
    {
      path: 'lab/z.ts',
      source: "// import from '../agent/a.js'\nimport { a } from '../agent/a.js';",
    },
    { path: 'web/p.ts', source: "import type { Entry } from '../ui/feed.js';" },
    {
      path: 'web/q.ts',
      source: "import { l } from '../ui-shared/map-layout.js';\nimport { v } from '../lab/lab.js';",
    },
    { path: 'ui-shared/s.ts', source: "import type { Agent } from '../ui/flow-source.js';" },
    { path: 'cli/agent.ts', source: "import { Agent } from '../agent/agent.js';" },
    {
      path: 'flows/ok.ts',
      source: "import { f } from '../core/flows/types.js';\nimport { r } from '../host/exec.js';",
    },
  ];
  assert.deepEqual(checkLayers(files), [
    'src/routing/x.ts:1: imports "../agent/exec.js": an adapter (routing/) imports agent/; adapters import core and each other only',
    'src/nft/y.ts:1: imports "../cli/main.js": an adapter (nft/) imports cli/; adapters import core and each other only',
    'src/lab/z.ts:2: imports "../agent/a.js": only the CLI that starts it imports agent/',
    'src/web/p.ts:1: imports "../ui/feed.js": the page imports no module of its server; what both read goes in ui-shared/',
    'src/web/q.ts:2: imports "../lab/lab.js": the page imports core and ui-shared/ only, not lab/',
    'src/ui-shared/s.ts:1: imports "../ui/flow-source.js": ui-shared/ is read by the page too: it imports core only, not ui/',
  ]);
});
