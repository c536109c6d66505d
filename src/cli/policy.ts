import { parseArgs } from 'node:util';
import { lintCluster } from '../core/lint.js';
import { withDefaultAddresses } from '../core/model/addresses.js';
import type { Cluster } from '../core/model/types.js';
import { compilePolicies } from '../core/policy/compile.js';
import { Evaluator } from '../core/policy/evaluate.js';
import { formatIr } from '../core/policy/ir-text.js';
import { irFromJson } from '../core/policy/ir-json.js';
import {
  declaredProbes,
  matrixJsonChunks,
  parseProbe,
  policyMatrix,
} from '../core/policy/matrix-report.js';
import { withServiceDefaults } from '../core/services/offline.js';
import { loadManifests } from '../sources/manifests/load.js';
import type { Io } from './main.js';
import { outputFormat, table, UsageError } from './output.js';
import { renderMatrixTable } from './matrix-table.js';
import { resolveFlow, traceJson, traceText } from './trace-output.js';

const HELP = `usage: weft policy VERB -f FILE... [options]

verbs:
  trace   --from ns/pod|IP --to ns/pod|IP --port PORT[/PROTO]|NAME [-o table|json]
          the verdict of one connection, with the policies and rules that decided;
          with --lab NAME instead of -f: live, on the IR the lab's agents enforce
  matrix  [--port PORT/PROTO]... [-o table|json]
          the verdict for every pair of pods; without --port, every port any pod declares
  ir      the compiled policy IR: endpoints, per-policy rules and sets, as the
          dataplane receives it
  lint    [-o table|json]
          mistakes in policies: selectors matching nothing, missing DNS egress, ...
          exits 1 when there is a warning

-f takes files or directories of Kubernetes YAML (multi-document) and may repeat.
Pods without status.podIP get an address from 10.244.0.0/16 (or their node's
spec.podCIDRs) in namespace/name order; nodes without one from 10.242.0.0/16.`;

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
  const { values } = parseArgs({
    args: rest,
    options: OPTIONS,
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const format = outputFormat(values.output);
  if (verb === 'trace' && values.lab !== undefined) return traceLab(values.lab, values, format, io);
  const files = values.file ?? [];
  if (files.length === 0)
    throw new UsageError('no manifests given', 'pass -f FILE or -f DIR (repeatable)');
  switch (verb) {
    case 'trace':
      return trace(await load(files), values, format, io);
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
  return withServiceDefaults(withDefaultAddresses(cluster).cluster).cluster;
}

function trace(
  cluster: Cluster,
  values: { from?: string; to?: string; port?: string[] },
  format: 'table' | 'json',
  io: Io,
): number {
  if (!values.from || !values.to)
    throw new UsageError('trace needs --from and --to', 'e.g. --from prod/web --to prod/db');
  const port = values.port ?? [];
  if (port.length !== 1)
    throw new UsageError('trace needs exactly one --port', 'e.g. --port 80/TCP');
  const flow = resolveFlow(cluster, values.from, values.to, port[0] as string);
  const result = new Evaluator(compilePolicies(cluster)).trace(flow.flow);
  io.out(format === 'json' ? traceJson(result, flow) : traceText(result, flow));
  return 0;
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

/** Trace against a running lab: egress on the source node's agent IR, ingress on the destination's. */
async function traceLab(
  name: string,
  values: { from?: string; to?: string; port?: string[] },
  format: 'table' | 'json',
  io: Io,
): Promise<number> {
  if (!values.from || !values.to)
    throw new UsageError('trace needs --from and --to', 'e.g. --from prod/web --to prod/db');
  const port = values.port ?? [];
  if (port.length !== 1)
    throw new UsageError('trace needs exactly one --port', 'e.g. --port 80/TCP');
  const { Lab } = await import('../lab/lab.js');
  const { askLabAgent } = await import('../lab/agents.js');
  const { AgentRoutes } = await import('../api/routes.js');
  const lab = new Lab(name, () => undefined);
  const [state, cluster] = await Promise.all([lab.state(), lab.cluster()]);
  const flow = resolveFlow(cluster, values.from, values.to, port[0] as string);
  const nodeOf = (pod: string | undefined) =>
    state.nodes.find((n) => n.name === (pod ? state.pods[pod]?.node : undefined)) ?? state.nodes[0];
  const irAt = async (pod: string | undefined) => {
    const node = nodeOf(pod);
    const json = node ? await askLabAgent(node, AgentRoutes.ir) : undefined;
    if (!json)
      throw new Error(
        `the agent of ${node?.name ?? '(no node)'} serves no policy IR: is lab ${name} up?`,
      );
    return new Evaluator(irFromJson(json)).trace(flow.flow);
  };
  const [src, dst] = await Promise.all([irAt(flow.fromPod), irAt(flow.toPod)]);
  const result = {
    flow: flow.flow,
    allowed: src.egress.allowed && dst.ingress.allowed,
    egress: src.egress,
    ingress: dst.ingress,
  };
  io.out(format === 'json' ? traceJson(result, flow) : traceText(result, flow));
  return 0;
}
