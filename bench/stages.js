// The in-process stages of a policy sync (render, validate, transaction text),
// for two builds of weft side by side in one process, on the same compiled
// cluster: the ratio after ÷ before, taken round by round so the machine's
// load weighs on both alike.
//   npm run build && node bench/stages.js --before ../weft-old/dist [--after dist]
//       [--pods 5000] [--policies 10000] [--local 100] [--rounds 5]
// Each build renders the table for `local` pods of node-1 from IR compiled by
// that build, afresh every round (as the agent's first sync does: nothing
// cached), then again from the same IR (as a later sync does); the partial
// stage diffs the table against the one rendered with one pod fewer (an
// endpoint going away).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { generateCluster } from './generate.js';

const { values: args } = parseArgs({
  options: {
    before: { type: 'string' },
    after: { type: 'string', default: 'dist' },
    pods: { type: 'string', default: '5000' },
    policies: { type: 'string', default: '10000' },
    local: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '5' },
  },
});
if (!args.before) {
  console.error(
    'bench/stages.js: --before DIST (the dist/ of the build to compare with) is required',
  );
  process.exit(2);
}

/** The first of `paths` (relative to a dist) that this build has, imported. */
async function firstOf(dist, ...paths) {
  for (const p of paths) {
    try {
      return await import(pathToFileURL(join(dist, p)).href);
    } catch (e) {
      if (e.code !== 'ERR_MODULE_NOT_FOUND') throw e;
    }
  }
  throw new Error(`${dist} has none of ${paths.join(', ')}`);
}

/** A build's stages, whichever layout it has (nft/ before components/policy/ existed). */
async function build(dist) {
  dist = resolve(dist);
  const render = await firstOf(dist, 'components/policy/render.js', 'nft/render.js');
  const validate = await firstOf(dist, 'nft/validate.js');
  const text = await firstOf(dist, 'nft/text.js');
  const tx = await firstOf(dist, 'nft/transactions.js', 'nft/text.js');
  const { loadManifests } = await firstOf(dist, 'sources/manifests/load.js');
  const { compilePolicies } = await firstOf(dist, 'core/policy/compile.js');
  const { withLocalEndpoints } = await firstOf(
    dist,
    'components/policy/dataplane.js',
    'agent/dataplane.js',
  );
  // Typed transactions render with transactionText; older builds returned text.
  const asText = (t) => (typeof t === 'string' ? t : text.transactionText(t));
  return {
    dist,
    loadManifests,
    compilePolicies,
    withLocalEndpoints,
    renderTable: render.renderTable,
    validateTable: validate.validateTable,
    fullText: (table) => asText(tx.fullTransaction(table)),
    partialText: (a, b) => asText(tx.partialTransaction(a, b) ?? ''),
  };
}

const nPods = Number(args.pods);
const nLocal = Number(args.local);
const dir = mkdtempSync(join(tmpdir(), 'weft-stages-'));
try {
  const docs = generateCluster({ pods: nPods, policies: Number(args.policies) })
    .split('\n---\n')
    .map((d) => JSON.parse(d));
  const localPods = [];
  let remote = 0;
  for (const d of docs) {
    if (d.kind !== 'Pod') continue;
    const i = Number(d.metadata.name.slice(3));
    if (i < nLocal) {
      d.spec.nodeName = 'node-1';
      localPods.push(`${d.metadata.namespace}/${d.metadata.name}`);
    } else {
      d.spec.nodeName = `node-${2 + (i % 2)}`;
      const a = `10.244.${2 + Math.floor(remote / 250)}.${(remote % 250) + 1}`;
      remote++;
      d.status = { podIP: a, podIPs: [{ ip: a }] };
    }
  }
  writeFileSync(join(dir, 'all.yaml'), docs.map((d) => JSON.stringify(d)).join('\n---\n'));

  const builds = { before: await build(args.before), after: await build(args.after) };
  const prepared = {};
  for (const [name, b] of Object.entries(builds)) {
    const { cluster } = await b.loadManifests([dir]);
    const records = localPods.map((key, k) => {
      const [namespace, podName] = key.split('/');
      return { pod: { namespace, name: podName }, addresses: [`10.244.1.${k + 1}/32`] };
    });
    const merged = b.withLocalEndpoints(cluster, 'node-1', records);
    const local = new Set(localPods);
    const compile = () => b.compilePolicies(merged, (p) => local.has(`${p.namespace}/${p.name}`));
    const fewer = new Set(localPods.slice(1));
    prepared[name] = { b, compile, local, fewer };
  }

  const stages = [
    'render',
    'validate',
    'full text',
    're-render (cached)',
    're-validate (cached)',
    'partial text',
  ];
  const times = { before: {}, after: {} };
  for (const v of ['before', 'after']) for (const s of stages) times[v][s] = [];
  const rounds = Number(args.rounds);
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 ? ['after', 'before'] : ['before', 'after']) {
      const { b, compile, local, fewer } = prepared[v];
      const ir = compile(); // not timed: new IR objects, so no render cache applies
      const time = (stage, f) => {
        const t = performance.now();
        const out = f();
        times[v][stage].push(performance.now() - t);
        return out;
      };
      const table = time('render', () => b.renderTable(ir, local));
      time('validate', () => b.validateTable(table));
      time('full text', () => b.fullText(table));
      const again = time('re-render (cached)', () => b.renderTable(ir, local));
      time('re-validate (cached)', () => b.validateTable(again));
      const smaller = b.renderTable(ir, fewer);
      time('partial text', () => b.partialText(smaller, table));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `${nPods} pods, ${args.policies} policies, ${nLocal} local; ${rounds} rounds, alternating; medians`,
  );
  console.log('stage                  before ms   after ms   after ÷ before (median of rounds)');
  for (const s of stages) {
    const ratios = times.after[s].map((x, i) => x / times.before[s][i]);
    console.log(
      `${s.padEnd(22)} ${median(times.before[s]).toFixed(1).padStart(9)}  ${median(times.after[s]).toFixed(1).padStart(9)}   ${median(ratios).toFixed(2)}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
