import { isRoutingMode, ROUTING_MODES } from '../routing/registry.js';
import { parseArgs } from 'node:util';
import { Agent } from '../agent/agent.js';
import type { SourceSpec } from '../agent/source.js';
import { DEFAULT_FLOWS, type FlowsConfig } from '../agent/observability/observability.js';
import { parseCidr } from '../core/net/cidr.js';
import type { Cidr } from '../core/net/types.js';
import { weftConflist } from '../core/cni/conflist.js';
import { DEFAULT_AGENT_SOCKET } from '../core/cni/netconf.js';
import type { Io } from './main.js';
import { UsageError } from './output.js';
import { parseAllowClients, parseHostPort, parseUiHosts } from './host-port.js';
import {
  SERVICE_PROXY_HELP,
  SERVICE_PROXY_OPTIONS,
  serviceProxyConfig,
} from './service-proxy-flags.js';

export const AGENT_HELP = `usage: weft agent --node-name NAME [--pod-cidr CIDR]... [--source SOURCE] [options]

Runs the node agent: serves the CNI socket (weft-cni forwards to it), gives
pods their interfaces and addresses, and keeps its state under --state-dir.

options:
  --node-name NAME        this node's name (required)
  --pod-cidr CIDR         a pod address range of this node; repeat once for
                          dual-stack (one IPv4, one IPv6). Without it, the
                          Node's spec.podCIDRs from the source
  --source manifests:DIR  watch a directory of Kubernetes YAML for the cluster state
  --source kubernetes     list and watch the Kubernetes API: in a pod with its
                          service account, else --kubeconfig, $KUBECONFIG or
                          ~/.kube/config
  --kubeconfig FILE       the kubeconfig for --source kubernetes
  --context NAME          a context of that kubeconfig (default: its current one)
  --state-dir DIR         IPAM allocations and endpoint records (default /var/lib/weft)
  --socket PATH           the CNI socket (default ${DEFAULT_AGENT_SOCKET})
  --mtu N                 pod interface MTU (default 1500)
  --health HOST:PORT      also serve GET /healthz and /metrics over TCP
  --observe HOST:PORT     also serve the read-only views over TCP (flows,
                          status, IR, endpoints, metrics; never CNI), for
                          weft observe/status/endpoints/ui --agent URL. On
                          an address other than loopback, the agent publishes
                          it on its Node (weft.dev/observe-url) for its
                          peers' --ui
  --ui HOST:PORT          also serve the web UI: the service map and flow
                          table of this node and of every peer that publishes
                          its --observe URL, and the policy view. It follows
                          the agents only while a page is open
  --allow-clients CIDR,...
                          clients every TCP listener (--health, --observe,
                          --ui) answers besides loopback and the addresses of
                          the cluster's Nodes, e.g. a monitoring range
                          (repeatable). Others get 403, before any route
  --ui-host NAME          a Host name the web UI answers besides localhost,
                          127.0.0.1, [::1] and the address it is reached at,
                          e.g. a name of an ingress (repeatable); other names
                          get 421 (DNS rebinding)
  --routing MODE          cross-node pod routes from the Node objects: vxlan
                          (default), host-gw (nodes share one L2 segment) or none
  --flows on|off          record flows: drops (NFLOG) and connections (conntrack)
                          with the policy that decided (default on)
  --flow-buffer N         flows kept for \`weft observe\` (default 8192)
${SERVICE_PROXY_HELP}
  -h, --help              this text

Stopping the agent (SIGTERM, SIGINT) leaves every pod interface and rule in
place; a restarted agent picks them up from --state-dir.`;

export async function agentCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      'node-name': { type: 'string' },
      'pod-cidr': { type: 'string', multiple: true },
      source: { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      'state-dir': { type: 'string', default: '/var/lib/weft' },
      socket: { type: 'string', default: DEFAULT_AGENT_SOCKET },
      mtu: { type: 'string', default: '1500' },
      health: { type: 'string' },
      observe: { type: 'string' },
      ui: { type: 'string' },
      'allow-clients': { type: 'string', multiple: true },
      'ui-host': { type: 'string', multiple: true },
      routing: { type: 'string', default: 'vxlan' },
      flows: { type: 'string', default: 'on' },
      'flow-buffer': { type: 'string', default: String(DEFAULT_FLOWS.capacity) },
      ...SERVICE_PROXY_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(AGENT_HELP);
    return 0;
  }
  const nodeName = values['node-name'];
  if (!nodeName)
    throw new UsageError(
      '--node-name is required',
      'pass the name of this node, e.g. --node-name worker-1',
    );
  const podCidrs = (values['pod-cidr'] ?? []).map(cidrFlag);
  const source = sourceFlag(values.source, values.kubeconfig, values.context);
  if (podCidrs.length === 0 && !source)
    throw new UsageError(
      '--pod-cidr is required without --source',
      "pass this node's pod range, e.g. --pod-cidr 10.244.1.0/24, or a --source whose Node has spec.podCIDRs",
    );
  if (new Set(podCidrs.map((c) => c.family)).size !== podCidrs.length) {
    throw new UsageError(
      '--pod-cidr given twice for one address family',
      'give at most one IPv4 and one IPv6 range',
    );
  }
  const mtu = Number(values.mtu);
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000)
    throw new UsageError(`--mtu ${values.mtu}: not an MTU`, 'use 576-9000');
  const health = values.health
    ? parseHostPort('health', values.health, '127.0.0.1:9099')
    : undefined;
  const observe = values.observe
    ? parseHostPort('observe', values.observe, '0.0.0.0:9963')
    : undefined;
  const ui = values.ui ? parseHostPort('ui', values.ui, '127.0.0.1:9964') : undefined;
  const routing = values.routing;
  if (!isRoutingMode(routing) && routing !== 'none') {
    throw new UsageError(
      `--routing ${routing}: unknown mode`,
      `use ${[...ROUTING_MODES, 'none'].join(', ')}`,
    );
  }
  const flows = flowsFlags(values.flows, values['flow-buffer']);
  const serviceProxy = serviceProxyConfig(values, source);
  const agent = new Agent({
    flows,
    nodeName,
    podCidrs,
    stateDir: values['state-dir'],
    socket: values.socket,
    mtu,
    routing,
    ...(source ? { source } : {}),
    ...(serviceProxy ? { serviceProxy } : {}),
    ...(health ? { health } : {}),
    ...(observe ? { observe } : {}),
    ...(ui ? { ui } : {}),
    allowClients: parseAllowClients(values['allow-clients']),
    uiHosts: parseUiHosts('--ui-host', values['ui-host']),
    log: (line) => io.err(`${new Date().toISOString()} ${line}`),
  });
  await agent.start();
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      io.err(`${new Date().toISOString()} ${sig}: stopping; pod networking stays in place`);
      void agent.stop().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function sourceFlag(
  text: string | undefined,
  kubeconfig: string | undefined,
  context: string | undefined,
): SourceSpec | undefined {
  if (text !== 'kubernetes' && (kubeconfig !== undefined || context !== undefined))
    throw new UsageError(
      `--${kubeconfig !== undefined ? 'kubeconfig' : 'context'} needs --source kubernetes`,
      'add --source kubernetes, or drop the flag',
    );
  if (text === undefined) return undefined;
  if (text === 'kubernetes')
    return {
      kind: 'kubernetes',
      ...(kubeconfig !== undefined ? { kubeconfig } : {}),
      ...(context !== undefined ? { context } : {}),
    };
  const m = /^manifests:(.+)$/.exec(text);
  if (!m)
    throw new UsageError(
      `--source ${text}: unknown source`,
      'use --source manifests:DIR or --source kubernetes',
    );
  return { kind: 'manifests', dir: m[1] as string };
}

function flowsFlags(on: string, buffer: string): FlowsConfig {
  if (on !== 'on' && on !== 'off')
    throw new UsageError(`--flows ${on}: must be on or off`, 'e.g. --flows off');
  const capacity = Number(buffer);
  if (!/^[1-9][0-9]*$/.test(buffer) || capacity > 1_000_000)
    throw new UsageError(
      `--flow-buffer ${buffer}: not a buffer size`,
      'give a whole number of flows, 1-1000000, e.g. --flow-buffer 8192',
    );
  return { ...DEFAULT_FLOWS, enabled: on === 'on', capacity };
}

function cidrFlag(text: string): Cidr {
  const c = parseCidr(text);
  if (!c)
    throw new UsageError(
      `--pod-cidr ${text}: not a CIDR`,
      'write it as ADDRESS/PREFIX, e.g. 10.244.1.0/24',
    );
  return c.cidr;
}

export async function cniCommand(args: string[], io: Io): Promise<number> {
  const [verb, ...rest] = args;
  if (verb !== 'config')
    throw new UsageError(
      `unknown verb cni ${JSON.stringify(verb ?? '')}`,
      'use: weft cni config [--mtu N] [--socket PATH]',
    );
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: { mtu: { type: 'string' }, socket: { type: 'string' } },
  });
  const mtu = values.mtu === undefined ? undefined : Number(values.mtu);
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000))
    throw new UsageError(`--mtu ${values.mtu}: not an MTU`, 'use 576-9000');
  io.out(
    JSON.stringify(
      weftConflist({
        ...(mtu ? { mtu } : {}),
        ...(values.socket ? { agentSocket: values.socket } : {}),
      }),
      null,
      2,
    ),
  );
  return 0;
}
