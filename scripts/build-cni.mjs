// Bundles the weft-cni shim (dist/cni/shim.js, from tsc) into one executable
// file, dist/weft-cni.js: node built-ins stay imports, everything else is
// inlined and minified, so the runtime's exec loads a single small module.
//
//   node scripts/build-cni.mjs        (after `tsc -p .`)
import { chmodSync, existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = `${root}dist/cni/shim.js`;
const outfile = `${root}dist/weft-cni.js`;

if (!existsSync(entry)) {
  console.error(`build-cni: ${entry} is missing; run \`npx tsc -p .\` first`);
  process.exit(1);
}

const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  banner: { js: '#!/usr/bin/env node' },
  legalComments: 'none',
  minify: true,
  logLevel: 'warning',
  metafile: true,
});

chmodSync(outfile, 0o755);
const inputs = Object.keys(result.metafile.inputs).length;
console.log(`build-cni: ${outfile} (${statSync(outfile).size} bytes, ${inputs} modules)`);
