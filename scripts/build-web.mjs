// Builds the web UI's page into dist/web/: app.js (src/web/app.ts and the core
// and ui-shared modules it uses, bundled and minified), app.css and
// index.html. Nothing is loaded from elsewhere at run time.
//
//   node scripts/build-web.mjs        (type-checked by `tsc -p tsconfig.web.json`)
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/web`;
mkdirSync(out, { recursive: true });

const common = { bundle: true, minify: true, legalComments: 'none', logLevel: 'warning' };
await build({
  ...common,
  entryPoints: [`${root}src/web/app.ts`],
  outfile: `${out}/app.js`,
  format: 'esm',
  target: 'es2020',
  platform: 'browser',
});
await build({ ...common, entryPoints: [`${root}src/web/app.css`], outfile: `${out}/app.css` });
copyFileSync(`${root}src/web/index.html`, `${out}/index.html`);

const sizes = ['app.js', 'app.css', 'index.html'].map((f) => {
  const body = readFileSync(`${out}/${f}`);
  return `${f} ${body.length} B (${gzipSync(body).length} B gzip)`;
});
console.log(`build-web: ${out}: ${sizes.join(', ')}`);
