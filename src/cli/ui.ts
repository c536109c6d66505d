import { parseArgs } from 'node:util';
import type { Io } from './main.js';
import { UsageError } from './output.js';
import { parseAllowClients, parseHostPort, parseUiHosts } from './host-port.js';

const HELP = `usage: weft ui (--lab NAME | --agent URL... | --socket PATH...) [--listen HOST:PORT]

Serves a web page: a live service map of the flows the agents record (workloads
as nodes, flows as edges, allowed and dropped drawn differently), the flow table
streaming below it, each flow's deciding policy and rule with a link to its
trace, and a policy view per workload with its would-be verdicts against every
peer. The page makes no request outside this server.

  --lab NAME        every agent of a running lab (and its manifests)
  --agent URL       an agent's HTTP API (repeatable), e.g. http://10.0.0.5:9099
  --socket PATH     an agent's unix socket (repeatable)
  --listen H:P      where to serve (default 127.0.0.1:8099; port 0 picks a free one)
  --buffer N        flows kept for the page (default 20000)
  --allow-clients CIDR,...
                    clients answered besides loopback (repeatable); others get 403
  --ui-host NAME    a Host name answered besides localhost, 127.0.0.1, [::1] and
                    the address reached (repeatable); others get 421 (DNS rebinding)`;

const OPTIONS = {
  lab: { type: 'string' },
  agent: { type: 'string', multiple: true },
  socket: { type: 'string', multiple: true },
  listen: { type: 'string', default: '127.0.0.1:8099' },
  buffer: { type: 'string', default: '20000' },
  'allow-clients': { type: 'string', multiple: true },
  'ui-host': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function uiCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const listen = parseHostPort('listen', values.listen, '127.0.0.1:8099', true);
  const buffer = Number(values.buffer);
  if (!Number.isInteger(buffer) || buffer < 100 || buffer > 1_000_000)
    throw new UsageError(`--buffer ${values.buffer}`, 'give 100 to 1000000 flows');
  const { followFlows } = await import('../api/flows.js');
  const { labAgents } = await import('../lab/agents.js');
  const { parseFlowQuery } = await import('../core/flows/filter.js');
  const { FlowFeed } = await import('../ui/feed.js');
  const { agentPolicySource, labCluster } = await import('../ui/policy-source.js');
  const { createUiServer, uiUrl } = await import('../ui/server.js');
  const { HostNames } = await import('../core/listen/host.js');
  const { ListenerMetrics } = await import('../listen/metrics.js');
  const allow = parseAllowClients(values['allow-clients']);
  const hosts = parseUiHosts('--ui-host', values['ui-host']);
  const given = [
    ...(values.agent ?? []).map((url) => ({ kind: 'http' as const, node: url, url })),
    ...(values.socket ?? []).map((socket) => ({ kind: 'unix' as const, node: socket, socket })),
  ];
  if ((values.lab === undefined) === (given.length === 0))
    throw new UsageError(
      values.lab === undefined ? 'no agents given' : '--lab and --agent/--socket together',
      'give either --lab NAME, or one or more --agent URL / --socket PATH',
    );
  const agents = values.lab !== undefined ? await labAgents(values.lab) : given;
  const all = parseFlowQuery([], Date.now());
  const feed = new FlowFeed((signal) => followFlows(agents, all, signal), {
    capacity: buffer,
  });
  const title = values.lab !== undefined ? `lab ${values.lab}` : `${agents.length} agent(s)`;
  const server = createUiServer({
    feed,
    policy: agentPolicySource(
      () => agents,
      values.lab !== undefined ? labCluster(values.lab) : undefined,
    ),
    title,
    // No cluster Nodes here: loopback and --allow-clients.
    guard: {
      listener: 'ui',
      rule: () => ({ nodes: [], allow }),
      hosts: { names: new HostNames([listen.host, ...hosts]), flag: '--ui-host' },
      metrics: new ListenerMetrics(),
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(listen.port, listen.host, resolve),
  );
  feed.start();
  io.out(`weft ui: ${title} at ${uiUrl(server)} (Ctrl-C stops)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  server.closeAllConnections();
  server.close();
  await feed.stop();
  return 0;
}
