import { lintCluster } from '../core/lint.js';
import type { Cluster } from '../core/model/types.js';
import { compilePolicies } from '../core/policy/compile.js';
import { formatIr } from '../core/policy/ir-text.js';
import {
  declaredProbes,
  matrixJsonChunks,
  parseProbe,
  policyMatrix,
} from '../core/policy/matrix-report.js';
import { loadManifests } from '../sources/manifests/load.js';
import type { Io } from './main.js';
import { outputFormat, table, UsageError } from './output.js';
import { renderMatrixTable } from './matrix-table.js';
import { parseFlags, wantsHelp } from './args.js';
import { completed, labCluster } from './clusters.js';
import { closest } from '../core/text.js';
import { labJudge, offlineJudge, policyTrace } from './policy-trace.js';

const VERBS: Readonly<Record<string, string>> = {
  trace: `  trace   --from ns/pod|IP --to ns/pod|IP[:PORT[/PROTO]] [--port PORT[/PROTO]|NAME] [-o table|json]
          the verdict of one connection, with the policies and rules that decided;
          to a Service address (ClusterIP, node port, external or load balancer IP)
          through the Service: its endpoints, each with the verdict on its pod port;
          with --lab NAME instead of -f: live, on the IR the lab's agents enforce`,
  matrix: `  matrix  [--port PORT/PROTO]... [-o table|json]
          the verdict for every pair of pods; without --port, every port any pod declares`,
  ir: `  ir      the compiled policy IR: endpoints, per-policy rules and sets, as the
          dataplane receives it`,
  lint: `  lint    [-o table|json]
          mistakes in policies: selectors matching nothing, missing DNS egress, ...
          exits 1 when there is a warning`,
};

const FILES = `-f takes files or directories of Kubernetes YAML (multi-document) and may repeat.
Pods without status.podIP get an address from 10.244.0.0/16 (or their node's
spec.podCIDRs) in namespace/name order; nodes without one from 10.242.0.0/16.`;

const HELP = `usage: weft policy VERB -f FILE... [options]

verbs:
${Object.values(VERBS).join('\n')}

${FILES}`;

/** `weft policy VERB --help`: that verb alone. */
function verbHelp(verb: string, text: string): string {
  return `usage: weft policy ${verb} -f FILE... [options]\n\n${text}\n\n${FILES}`;
}

const OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  from: { type: 'string' },
  to: { type: 'string' },
  port: { type: 'string', multiple: true },
  output: { type: 'string', short: 'o' },
  lab: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function policyCommand(args: string[], io: Io): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === '--help' || verb === '-h') {
    io.out(HELP);
    return verb === undefined ? 2 : 0;
  }
  const verbText = VERBS[verb];
  if (verbText === undefined) {
    const near = closest(verb, Object.keys(VERBS));
    throw new UsageError(
      `unknown verb policy ${JSON.stringify(verb)}`,
      near
        ? `did you mean ${near}? (verbs: trace, matrix, lint, ir)`
        : 'use trace, matrix, lint or ir',
    );
  }
  if (wantsHelp(rest)) {
    io.out(verbHelp(verb, verbText));
    return 0;
  }
  const { values } = parseFlags(`policy ${verb}`, { args: rest, options: OPTIONS });
  const format = outputFormat(values.output);
  if (verb === 'trace' && values.lab !== undefined) {
    const { state, cluster } = await labCluster(values.lab);
    const judge = await labJudge(state, values.lab);
    return policyTrace(cluster, judge, values, format, io, `in lab ${values.lab}`);
  }
  const files = values.file ?? [];
  if (files.length === 0)
    throw new UsageError('no manifests given', 'pass -f FILE or -f DIR (repeatable)');
  switch (verb) {
    case 'trace': {
      const cluster = await load(files);
      return policyTrace(cluster, offlineJudge(cluster), values, format, io, 'in the manifests');
    }
    case 'matrix':
      return matrix(await load(files), values.port ?? [], format, io);
    case 'lint':
      return lint(await load(files), format, io);
    case 'ir':
      io.write(formatIr(compilePolicies(await load(files))));
      return 0;
    default:
      throw new UsageError(
        `unknown verb policy ${JSON.stringify(verb)}`,
        'use trace, matrix, lint or ir',
      );
  }
}

async function load(files: string[]): Promise<Cluster> {
  const { cluster } = await loadManifests(files);
  // Services are checked as a cluster would (ClusterIPs and node ports unique and in range).
  return completed(cluster);
}

function matrix(cluster: Cluster, ports: string[], format: 'table' | 'json', io: Io): number {
  const probes = ports.length > 0 ? ports.map(parseProbe) : declaredProbes(cluster);
  if (probes.length === 0) {
    throw new UsageError(
      'no pod declares a container port',
      'name the ports to probe with --port 80/TCP',
    );
  }
  const m = policyMatrix(cluster, compilePolicies(cluster), probes);
  if (format === 'table') io.out(renderMatrixTable(m));
  else {
    for (const chunk of matrixJsonChunks(m)) io.write(chunk);
    io.write('\n');
  }
  return 0;
}

function lint(cluster: Cluster, format: 'table' | 'json', io: Io): number {
  const findings = lintCluster(cluster);
  if (format === 'json') io.out(JSON.stringify({ findings }, null, 2));
  else if (findings.length === 0) io.out('no findings');
  else {
    io.out(
      table(
        ['SEVERITY', 'OBJECT', 'FIELD', 'FINDING'],
        findings.map((f) => [f.severity, f.object, f.field, f.message]),
      ),
    );
    io.out('\nfixes:');
    for (const f of findings) io.out(`  ${f.object} ${f.field}: ${f.fix}`);
  }
  return findings.some((f) => f.severity === 'warning') ? 1 : 0;
}
