import { spawn } from 'node:child_process';
import { parseFlags, verbHelp, wantsHelp } from './args.js';
import { declaredProbes, matrixJsonChunks, parseProbe } from '../core/policy/matrix-report.js';
import { CURRENT_VERSION } from '../core/cni/result.js';
import { AgentRoutes } from '../api/routes.js';
import { askLabAgent } from '../lab/agents.js';
import { DEFAULT_EXTERNAL, externalView, underlayView } from '../lab/external.js';
import { Lab } from '../lab/lab.js';
import { labProbe } from '../lab/probe.js';
import { alive, labNode, type LabState } from '../lab/state.js';
import type { Io } from './main.js';
import { renderMatrixTable } from './matrix-table.js';
import { outputFormat, table, UsageError } from './output.js';
import { completed } from './clusters.js';
import { labServices, probeService, runningPod } from './lab-services.js';
import { servicesTable } from './service-output.js';

const HELP = `usage: weft lab VERB [--name N] [options]

A whole cluster on this machine: nodes and pods are network namespaces, every
pod gets its network from weft-cni through its node's weft agent, and probes
are real packets. Nothing in the machine's own network namespace changes.

verbs:
  up       [--nodes K] [-f FILE]... [--routing vxlan|host-gw] [--runtime-cni-version V]
           [--external-cidr CIDR] [--external-via NODE]
           build the lab; pods get their network as a container runtime gives it,
           from the conflist weft writes on each node. V is the newest CNI result
           the lab's runtime reads: 1.1.0 (default, libcni 1.2+) or 1.0.0 (containerd
           1.6/1.7, which read cniVersion only). An external host (not a node) sits
           on the underlay with a route to CIDR, where Services are reached from
           outside, through NODE (default ${DEFAULT_EXTERNAL.cidr} via ${DEFAULT_EXTERNAL.via})
  apply    -f FILE...                     create or replace objects
  delete   -f FILE... | KIND/NS/NAME...   remove objects (pods go through CNI DEL)
  probe    [--port P/PROTO]... [--from NS/POD] [--to NS/POD] [--timeout-ms T] [-o table|json]
           real connections between pods; without --port, every declared port
  probe    --to-service NS/NAME [--port P/PROTO]... [--from NS/POD] [--timeout-ms T] [-o table|json]
           real connections from pods to a Service's ClusterIP ports (all, or those --port names)
  exec     NS/POD | --node NODE | --external -- CMD...
           run a command in a pod's, a node's or the external host's network namespace
  status   [-o table|json]                nodes, agents, pods, addresses, Services (ClusterIPs,
                                          node ports, endpoints), the external host and the
                                          underlay (its namespace and bridge)
  restart  NODE                           restart a node's agent (SIGTERM, then start)
  down                                    remove every namespace, process and file

--name defaults to "weft". Lab state lives in $WEFT_LAB_ROOT (default /run/weft-lab).`;

const OPTIONS = {
  name: { type: 'string', default: 'weft' },
  nodes: { type: 'string', default: '2' },
  file: { type: 'string', short: 'f', multiple: true },
  routing: { type: 'string', default: 'vxlan' },
  'runtime-cni-version': { type: 'string', default: CURRENT_VERSION },
  'external-cidr': { type: 'string', default: DEFAULT_EXTERNAL.cidr },
  'external-via': { type: 'string', default: DEFAULT_EXTERNAL.via },
  node: { type: 'string' },
  external: { type: 'boolean' },
  port: { type: 'string', multiple: true },
  from: { type: 'string' },
  to: { type: 'string' },
  'to-service': { type: 'string' },
  'timeout-ms': { type: 'string', default: '1000' },
  output: { type: 'string', short: 'o' },
  control: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function labCommand(args: string[], io: Io): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === '--help' || verb === '-h') {
    io.out(HELP);
    return verb === undefined ? 2 : 0;
  }
  if (wantsHelp(rest)) {
    io.out(verbHelp(HELP, 'lab', verb) ?? HELP);
    return 0;
  }
  const dashdash = rest.indexOf('--');
  const flags = dashdash >= 0 ? rest.slice(0, dashdash) : rest;
  const command = dashdash >= 0 ? rest.slice(dashdash + 1) : [];
  const { values, positionals } = parseFlags(`lab ${verb}`, {
    args: flags,
    options: OPTIONS,
    allowPositionals: true,
  });
  if (!/^[a-z0-9][a-z0-9-]{0,15}$/.test(values.name)) {
    throw new UsageError(
      `--name ${values.name}: not a lab name`,
      'use 1-16 lowercase letters, digits and dashes',
    );
  }
  const lab = new Lab(values.name, (line) => io.err(line));
  const format = outputFormat(values.output);
  switch (verb) {
    case 'up': {
      const nodes = Number(values.nodes);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50)
        throw new UsageError(`--nodes ${values.nodes}`, 'give 1 to 50 nodes');
      if (values.routing !== 'vxlan' && values.routing !== 'host-gw')
        throw new UsageError(`--routing ${values.routing}`, 'use vxlan or host-gw');
      const runtimeCniVersion = values['runtime-cni-version'];
      if (runtimeCniVersion !== '1.1.0' && runtimeCniVersion !== '1.0.0')
        throw new UsageError(`--runtime-cni-version ${runtimeCniVersion}`, 'use 1.1.0 or 1.0.0');
      await lab.up({
        nodes,
        files: values.file ?? [],
        routing: values.routing,
        runtimeCniVersion,
        external: { cidr: values['external-cidr'], via: values['external-via'] },
      });
      return 0;
    }
    case 'apply':
      if (!values.file?.length)
        throw new UsageError('apply needs -f FILE', 'e.g. weft lab apply -f policies.yaml');
      await lab.apply(values.file);
      return 0;
    case 'delete': {
      if (!values.file?.length && positionals.length === 0)
        throw new UsageError(
          'delete needs -f FILE or KIND/NS/NAME',
          'e.g. weft lab delete pod/default/web',
        );
      const removed = await lab.delete({ files: values.file ?? [], ids: positionals });
      io.out(removed.length ? removed.map((r) => `deleted ${r}`).join('\n') : 'nothing to delete');
      return 0;
    }
    case 'probe':
      return probe(lab, values, format, io);
    case 'exec':
      return exec(
        lab,
        { pod: positionals[0], node: values.node, external: values.external },
        command,
      );
    case 'status':
      return status(lab, format, io);
    case 'restart':
      if (!positionals[0])
        throw new UsageError('restart needs NODE', 'e.g. weft lab restart node-1');
      await lab.restartAgent(positionals[0]);
      return 0;
    case 'down': {
      const r = await lab.down();
      io.out(
        `lab ${values.name} is down: ${r.namespaces} namespaces and ${r.processes} processes removed`,
      );
      return 0;
    }
    default:
      throw new UsageError(`unknown verb lab ${JSON.stringify(verb)}`, 'see weft lab --help');
  }
}

async function probe(
  lab: Lab,
  values: {
    port?: string[];
    from?: string;
    to?: string;
    'to-service'?: string;
    'timeout-ms': string;
  },
  format: 'table' | 'json',
  io: Io,
): Promise<number> {
  const timeoutMs = Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 10 || timeoutMs > 60_000)
    throw new UsageError(`--timeout-ms ${values['timeout-ms']}`, 'give 10 to 60000');
  const service = values['to-service'];
  if (service !== undefined && values.to !== undefined)
    throw new UsageError(
      '--to and --to-service both given',
      'probe pods with --to NS/POD, or a Service with --to-service NS/NAME',
    );
  const [state, cluster] = await Promise.all([lab.state(), lab.cluster()]);
  if (service !== undefined) {
    const o = {
      service,
      ports: values.port ?? [],
      timeoutMs,
      ...(values.from !== undefined ? { from: values.from } : {}),
    };
    return probeService(state, completed(cluster), o, format, io);
  }
  let probes = values.port?.length ? values.port.map(parseProbe) : declaredProbes(cluster);
  const sctp = probes.filter((p) => p.protocol === 'SCTP');
  if (sctp.length) {
    io.err(
      `not probed: ${sctp.map((p) => `${p.port}/SCTP`).join(', ')} (this kernel has no SCTP sockets)`,
    );
    probes = probes.filter((p) => p.protocol !== 'SCTP');
  }
  if (probes.length === 0)
    throw new UsageError('nothing to probe', 'name ports with --port 80/TCP');
  const m = await labProbe(state, cluster, {
    probes,
    timeoutMs,
    ...(values.from ? { from: runningPod(cluster, state, values.from, '--from') } : {}),
    ...(values.to ? { to: runningPod(cluster, state, values.to, '--to') } : {}),
  });
  if (format === 'table')
    io.out(renderMatrixTable(m, '. connected, c reachable but port closed, X dropped (timeout)'));
  else {
    for (const chunk of matrixJsonChunks(m)) io.write(chunk);
    io.write('\n');
  }
  return 0;
}

interface ExecTarget {
  readonly pod: string | undefined;
  readonly node: string | undefined;
  readonly external: boolean | undefined;
}

async function exec(lab: Lab, target: ExecTarget, command: string[]): Promise<number> {
  const named =
    Number(target.pod !== undefined) +
    Number(target.node !== undefined) +
    Number(target.external === true);
  if (named !== 1 || command.length === 0)
    throw new UsageError(
      named > 1
        ? 'exec takes one of NS/POD, --node NODE, --external'
        : 'exec needs NS/POD, --node NODE or --external, then -- CMD',
      'e.g. weft lab exec default/web -- ip addr, weft lab exec --external -- ip route',
    );
  const netns = execNetns(await lab.state(), target);
  const child = spawn('ip', ['netns', 'exec', netns, ...command], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}

/** The network namespace `lab exec` runs in. */
function execNetns(state: LabState, target: ExecTarget): string {
  if (target.node !== undefined) return labNode(state, target.node).netns;
  if (target.external) {
    if (!state.external)
      throw new UsageError(
        `lab ${state.name} has no external host (it was brought up by an older weft)`,
        `bring it up again: weft lab down --name ${state.name}, then weft lab up --name ${state.name}`,
      );
    return state.external.netns;
  }
  const pod = state.pods[target.pod ?? ''];
  if (!pod)
    throw new UsageError(
      `${target.pod ?? ''}: no such pod in lab ${state.name}`,
      `pods: ${Object.keys(state.pods).join(', ')}`,
    );
  return pod.netns;
}

async function status(lab: Lab, format: 'table' | 'json', io: Io): Promise<number> {
  const state = await lab.state();
  const services = await labServices(lab, io);
  const nodes = await Promise.all(
    state.nodes.map(async (n) => {
      const s = await askLabAgent(n, AgentRoutes.status);
      return {
        name: n.name,
        netns: n.netns,
        address: n.address,
        podCidr: n.podCidr,
        agent: s?.ready ? 'ready' : n.agentPid && alive(n.agentPid) ? 'not ready' : 'down',
      };
    }),
  );
  const pods = Object.values(state.pods)
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((p) => ({
      pod: p.key,
      node: p.node,
      ips: p.ips,
      server: p.serverPid && alive(p.serverPid) ? 'running' : 'down',
    }));
  const underlay = underlayView(state);
  const external = externalView(state);
  if (format === 'json') {
    const head = { name: state.name, routing: state.routing, underlay };
    const body = {
      ...head,
      ...(external ? { external } : {}),
      nodes,
      pods,
      services: services.list,
    };
    io.out(JSON.stringify(body, null, 2));
    return services.shown ? 0 : 1;
  }
  io.out(`lab ${state.name} (${state.routing})`);
  io.out(`underlay  ${underlay.netns}, bridge ${underlay.bridge}, ${underlay.subnet}`);
  if (external) {
    const routes = external.routes.map((r) => `${r.to} via ${r.node} (${r.via})`).join(', ');
    io.out(`external  ${external.address} in ${external.netns}, routes ${routes}`);
  }
  io.out('');
  io.out(
    table(
      ['NODE', 'ADDRESS', 'POD CIDR', 'AGENT'],
      nodes.map((n) => [n.name, n.address, n.podCidr, n.agent]),
    ),
  );
  io.out('');
  io.out(
    table(
      ['POD', 'NODE', 'IP', 'SERVER'],
      pods.map((p) => [p.pod, p.node, p.ips.join(', '), p.server]),
    ),
  );
  io.out('');
  io.out(services.list.length > 0 ? servicesTable(services.list) : 'no Services');
  return services.shown ? 0 : 1;
}
