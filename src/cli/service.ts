import { cidrContains, parseCidr } from '../core/net/cidr.js';
import { formatIp, ipEquals, parseIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import type { Cluster } from '../core/model/types.js';
import { buildServiceModel } from '../core/services/model.js';
import { DEFAULT_SERVICE_CIDR, DEFAULT_SERVICE_RANGES } from '../core/services/ranges.js';
import { traceService, type ServicePacket } from '../core/services/trace.js';
import { entryNode, traceContext } from '../core/services/trace-context.js';
import { closest, listText } from '../core/text.js';
import type { LabState } from '../lab/state.js';
import { parseFlags, wantsHelp } from './args.js';
import { labCluster, manifestsCluster } from './clusters.js';
import type { Io } from './main.js';
import { outputFormat, UsageError } from './output.js';
import { findPodAddress } from './pods.js';
import { serviceListText } from './service-output.js';
import { serviceTraceJson, serviceTraceText, type TraceView } from './service-trace-output.js';
import { serviceList } from './service-view.js';
import { parseAddressTarget } from './targets.js';

const SOURCES = `-f FILE... reads Kubernetes YAML (files or directories, repeatable): ClusterIPs,
node ports and EndpointSlices are filled in as a cluster's API server and
EndpointSlice controller would (docs/services.md). --lab NAME reads the objects
of a running lab instead.`;

const LIST_HELP = `usage: weft service list [NS/NAME]... (-f FILE... | --lab NAME) [--node NODE] [-o table|json]

Services as the proxy sees them: type, ClusterIPs, ports (port -> targetPort/protocol,
node port), external and load balancer IPs, every endpoint with its pod, node, zone
and conditions (ready, serving, terminating); per node, its node port addresses,
the endpoints there and how its proxy treats traffic (Local traffic policies, health
checks); and the Services that get no rules, with why (headless, ExternalName,
service.kubernetes.io/headless or service-proxy-name labels).

  NS/NAME       only these Services
  --node NODE   only this node's view
  -o json       the shape documented in docs/services.md

${SOURCES}`;

const TRACE_HELP = `usage: weft service trace --from NS/POD|IP --to IP:PORT[/PROTO] (-f FILE... | --lab NAME)
                          [--node NODE] [-o table|json]

Where the first packet of a connection to a Service address goes, evaluated on the
same per-node Service model the proxy's rules are built from: the frontend it
matches (ClusterIP, node port, external IP, load balancer IP and whether
loadBalancerSourceRanges admit the client), the traffic plan step for its source
(a pod, the node, anywhere else), and the result: the endpoints it can reach (with
their pods and nodes, ClientIP affinity, the fallback to terminating endpoints),
REJECTED (no endpoints, a port the ClusterIP does not serve) or DROPPED (a Local
policy without a local endpoint, an unallocated address of the service range
${DEFAULT_SERVICE_CIDR}), and whether the source is masqueraded (always for a hairpin).

  --from NS/POD|IP     the sender: a pod (NAME alone: namespace default) or any address
  --to IP:PORT/PROTO   the address sent to; PROTO is TCP (default), UDP or SCTP
  --node NODE          the node whose proxy the packet meets first; by default the
                       sending pod's or node's, else the node addressed, else (in a
                       lab) the node the external host routes the address through
  -o json              the shape documented in docs/services.md

${SOURCES}`;

const HELP = `usage: weft service VERB (-f FILE... | --lab NAME) [options]

verbs:
  list    [NS/NAME]... [--node NODE] [-o table|json]
          Services, their frontends and endpoints, per node what is local, and the
          Services that get no rules
  trace   --from NS/POD|IP --to IP:PORT[/PROTO] [--node NODE] [-o table|json]
          where a packet to a Service address goes: the endpoints it can reach,
          or REJECT / DROP, and whether it is masqueraded

Run \`weft service VERB --help\` for the details of one verb.`;

const VERBS: Readonly<Record<string, string>> = { list: LIST_HELP, trace: TRACE_HELP };

const OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  lab: { type: 'string' },
  node: { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const;

const TRACE_OPTIONS = { ...OPTIONS, from: { type: 'string' }, to: { type: 'string' } } as const;

export async function serviceCommand(args: string[], io: Io): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    io.out(HELP);
    return verb === undefined ? 2 : 0;
  }
  const help = VERBS[verb];
  if (help === undefined) {
    const near = closest(verb, Object.keys(VERBS));
    throw new UsageError(
      `unknown verb service ${JSON.stringify(verb)}`,
      near ? `did you mean ${near}? (verbs: list, trace)` : 'use list or trace',
    );
  }
  if (wantsHelp(rest)) {
    io.out(help);
    return 0;
  }
  return verb === 'list' ? list(rest, io) : trace(rest, io);
}

interface Source {
  readonly cluster: Cluster;
  readonly lab?: LabState;
  /** Where the objects come from, for messages: `in the manifests`, `in lab weft`. */
  readonly where: string;
}

async function source(
  command: string,
  files: string[] | undefined,
  lab: string | undefined,
): Promise<Source> {
  if (lab !== undefined && files?.length)
    throw new UsageError(
      `${command}: -f and --lab both given`,
      'read manifests with -f or a lab with --lab, not both',
    );
  if (lab !== undefined) {
    const { state, cluster } = await labCluster(lab);
    return { cluster, lab: state, where: `in lab ${lab}` };
  }
  if (!files?.length)
    throw new UsageError(
      `${command}: no objects to read`,
      'pass -f FILE or -f DIR (repeatable), or --lab NAME',
    );
  return { cluster: await manifestsCluster(files), where: 'in the manifests' };
}

/** The node `--node` names, checked against the cluster's Nodes. */
function checkNode(cluster: Cluster, node: string): string {
  const names = cluster.nodes.map((n) => n.name);
  if (names.includes(node)) return node;
  const near = closest(node, names);
  throw new UsageError(
    `--node ${node}: no such Node`,
    names.length === 0
      ? 'the objects hold no Node; drop --node'
      : near
        ? `did you mean ${near}?`
        : `name one of: ${listText(names, 8)}`,
  );
}

async function list(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags('service list', {
    args,
    options: OPTIONS,
    allowPositionals: true,
  });
  const format = outputFormat(values.output);
  const { cluster, where } = await source('service list', values.file, values.lab);
  const nodes = values.node !== undefined ? [checkNode(cluster, values.node)] : undefined;
  const known = cluster.services.map((s) => `${s.namespace}/${s.name}`);
  for (const name of positionals) {
    if (known.includes(name)) continue;
    const key = name.includes('/') ? name : `default/${name}`;
    const near = known.includes(key) ? key : closest(key, known, 3);
    throw new UsageError(
      `${name}: no such Service ${where}`,
      near
        ? `did you mean ${near}?`
        : known.length
          ? `name one of: ${listText(known, 8)}`
          : 'there are no Services',
    );
  }
  const only = positionals.length > 0 ? new Set(positionals) : undefined;
  const view = serviceList(cluster, { ...(nodes ? { nodes } : {}), ...(only ? { only } : {}) });
  io.out(format === 'json' ? JSON.stringify(view, null, 2) : serviceListText(view));
  return 0;
}

async function trace(args: string[], io: Io): Promise<number> {
  const { values } = parseFlags('service trace', { args, options: TRACE_OPTIONS });
  const format = outputFormat(values.output);
  if (values.from === undefined || values.to === undefined)
    throw new UsageError(
      'service trace needs --from and --to',
      'e.g. --from shop/frontend --to 10.96.0.10:80/TCP (weft service list shows the addresses)',
    );
  const src = await source('service trace', values.file, values.lab);
  const { cluster } = src;
  const to = parseAddressTarget(values.to, '--to');
  if (!to?.port) throw notAnAddress(cluster, values.to, to?.ip);
  const packet: ServicePacket = {
    src: sender(src, values.from),
    dst: to.ip,
    protocol: to.protocol ?? 'TCP',
    port: to.port,
  };
  const { node, why } = chooseNode(src, packet, values.node);
  const model = buildServiceModel(cluster, node);
  const context = traceContext(cluster, model, packet.src, DEFAULT_SERVICE_RANGES.clusterIps);
  const view: TraceView = { trace: traceService(model, packet, context), nodeWhy: why };
  io.out(
    format === 'json' ? JSON.stringify(serviceTraceJson(view), null, 2) : serviceTraceText(view),
  );
  return 0;
}

/** `--to` that is no IP:PORT: when it names a Service or its address, say where it listens. */
function notAnAddress(cluster: Cluster, text: string, ip: IpAddr | undefined): UsageError {
  const key = (text.includes('/') ? text : `default/${text}`).split(':')[0];
  const s = cluster.services.find((x) =>
    ip
      ? x.clusterIps.kind === 'set' && x.clusterIps.ips.some((a) => ipEquals(a, ip))
      : `${x.namespace}/${x.name}` === key,
  );
  const clusterIp = s?.clusterIps.kind === 'set' ? s.clusterIps.ips[0] : undefined;
  const port = s?.ports[0];
  const fix =
    s && clusterIp && port
      ? `Service ${s.namespace}/${s.name} has ClusterIP ${formatIp(clusterIp)}: write e.g. --to ${formatIp(clusterIp)}:${port.port}/${port.protocol}`
      : 'give the address sent to, e.g. --to 10.96.0.10:80/TCP (weft service list shows the addresses)';
  return new UsageError(`--to ${text}: not IP:PORT/PROTO`, fix);
}

function sender(src: Source, text: string): IpAddr {
  const ip = parseIp(text);
  if (ip) return ip;
  if (parseAddressTarget(text, '--from'))
    throw new UsageError(
      `--from ${text}: a sender has no port`,
      'write NS/POD or an IP alone, e.g. --from 10.244.1.5',
    );
  return findPodAddress(src.cluster, text, '--from', src.where).ip;
}

/** The node whose proxy meets the packet first, and why that one. */
function chooseNode(
  src: Source,
  packet: ServicePacket,
  flag: string | undefined,
): { node: string; why: string } {
  const { cluster, lab } = src;
  if (flag !== undefined) return { node: checkNode(cluster, flag), why: 'given with --node' };
  const entry = entryNode(cluster, packet);
  if (entry) return entry;
  const ext = lab?.external;
  const range = ext ? parseCidr(ext.cidr)?.cidr : undefined;
  if (ext && range && cidrContains(range, packet.dst))
    return { node: ext.via, why: `the external host routes ${ext.cidr} through it` };
  const [only, ...more] = cluster.nodes;
  if (only && more.length === 0) return { node: only.name, why: 'the only node' };
  if (!only)
    return {
      node: '',
      why: 'the objects hold no Node: node ports and local endpoints are unknown',
    };
  throw new UsageError(
    `which node does the packet from ${formatIp(packet.src)} reach first?`,
    `name it with --node NODE (one of: ${listText(
      cluster.nodes.map((n) => n.name),
      8,
    )})`,
  );
}
