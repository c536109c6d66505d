#!/usr/bin/env node
// Checks weft's deployment artifacts, offline but for the npm registry:
//
//   node scripts/validate-deploy.mjs            lint and render the chart, check
//                                               every object, compare the manifest
//   node scripts/validate-deploy.mjs --write    regenerate deploy/manifests/weft.yaml
//   node scripts/validate-deploy.mjs --check FILE...   check the objects of FILEs only
//
// 1. `helm lint --strict` of deploy/helm/weft (values.schema.json included),
//    with the default values and with each deploy/helm/weft/ci/*-values.yaml.
// 2. `helm template` of the same: every object is validated strictly against
//    the Kubernetes API schema (scripts/deploy/k8s-schema.mjs).
// 3. deploy/manifests/weft.yaml must be, byte for byte, its header plus the
//    chart rendered with default values as release "weft" in kube-system.
// helm is the real one (scripts/deploy/helm.mjs says where it comes from).
// Exit 0 when all is well, 1 with every problem listed otherwise.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ensureHelm, helm } from './deploy/helm.mjs';
import { KUBERNETES_VERSION, describe, validateObjects } from './deploy/k8s-schema.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHART = join(root, 'deploy/helm/weft');
const MANIFEST = join(root, 'deploy/manifests/weft.yaml');
export const RELEASE = 'weft';
export const NAMESPACE = 'kube-system';
const HEADER = `# weft: every object of a cluster install, for \`kubectl apply -f\`.
# Generated from the Helm chart deploy/helm/weft with its default values
# (release "${RELEASE}", namespace ${NAMESPACE}) by
# \`node scripts/validate-deploy.mjs --write\`: edit the chart, not this file.
`;

/** YAML text → [{source, object}], failing on YAML errors and non-objects. */
export function parseObjects(text, source) {
  const out = [];
  for (const doc of parseAllDocuments(text, { uniqueKeys: true })) {
    if (doc.errors.length) throw new Error(`${source}: ${doc.errors[0].message}`);
    const object = doc.toJS();
    if (object === null || object === undefined) continue;
    out.push({ source, object });
  }
  return out;
}

function variants() {
  const dir = join(CHART, 'ci');
  const files = readdirSync(dir).filter((f) => f.endsWith('-values.yaml'));
  return [
    { name: 'defaults', args: [] },
    ...files.sort().map((f) => ({ name: `ci/${f}`, args: ['-f', join(dir, f)] })),
  ];
}

function render(bin, args) {
  return helm(bin, ['template', RELEASE, CHART, '--namespace', NAMESPACE, ...args]);
}

async function checkChart(problems) {
  const bin = ensureHelm(root);
  const docs = [];
  for (const v of variants()) {
    try {
      helm(bin, ['lint', '--strict', CHART, '--namespace', NAMESPACE, ...v.args]);
      docs.push(...parseObjects(render(bin, v.args), `helm template (${v.name})`));
    } catch (e) {
      problems.push(`${v.name}: ${e.message}`);
    }
  }
  const expected = HEADER + render(bin, []);
  if (readFileSync(MANIFEST, 'utf8') !== expected) {
    problems.push(
      'deploy/manifests/weft.yaml is not what the chart renders with default values: ' +
        'run `node scripts/validate-deploy.mjs --write` and commit the result',
    );
  }
  return docs;
}

export async function main(argv) {
  const problems = [];
  let docs;
  if (argv[0] === '--write') {
    writeFileSync(MANIFEST, HEADER + render(ensureHelm(root), []));
    console.log(`validate-deploy: wrote ${MANIFEST}`);
    return 0;
  }
  if (argv[0] === '--check') {
    if (argv.length < 2) throw new Error('--check needs at least one YAML file');
    docs = argv.slice(1).flatMap((f) => parseObjects(readFileSync(f, 'utf8'), f));
  } else if (argv.length === 0) {
    docs = await checkChart(problems);
  } else {
    console.error('usage: node scripts/validate-deploy.mjs [--write | --check FILE...]');
    return 2;
  }
  for (const p of await validateObjects(root, docs)) {
    problems.push(`${p.source}: ${p.object}${p.path ? ` ${p.path}` : ''}: ${p.message}`);
  }
  for (const p of problems) console.error(`validate-deploy: ${p}`);
  const kinds = [...new Set(docs.map((d) => describe(d.object)))].length;
  console.log(
    `validate-deploy: ${docs.length} objects (${kinds} distinct) checked against Kubernetes ` +
      `${KUBERNETES_VERSION}: ${problems.length === 0 ? 'all valid' : `${problems.length} problems`}`,
  );
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e) => {
      console.error(`validate-deploy: ${e.message}`);
      process.exitCode = 1;
    },
  );
}
