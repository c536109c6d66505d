import { parseArgs } from 'node:util';
import { DEFAULT_AGENT_SOCKET } from '../core/cni/netconf.js';
import { FILTER_FLAGS, parseFlowQuery } from '../core/flows/filter.js';
import { AgentClient, type AgentAddress } from '../api/client.js';
import { followFlows, listFlows } from '../api/flows.js';
import { AgentRoutes, type JsonRoute } from '../api/routes.js';
import type { EndpointView, FlowReader, FlowStats, StatusAnswer } from '../api/types.js';
import { flowLine } from './flow-output.js';
import type { Io } from './main.js';
import { labAgents } from '../lab/agents.js';
import { outputFormat, table, UsageError } from './output.js';

export const OBSERVE_HELP = `usage: weft observe [--lab NAME | --socket PATH | --agent URL...] [filters] [--follow] [-o table|json]

Flows recorded by the node agents — connections that started and ended,
packets that policy dropped — with the policy and rule that decided, merged
by time across agents. Without --lab, --socket or --agent: the agent of this
node (${DEFAULT_AGENT_SOCKET}). --agent URL reads an agent's --observe
listener (repeat it for several nodes; in a cluster, e.g. through
\`kubectl -n kube-system port-forward pod/weft-xxxxx 9963\`).

filters (repeat a flag to OR its values; different flags AND):
  --pod, --from-pod, --to-pod NS/NAME   pod (name prefix; namespace optional)
  --namespace, --from-namespace, --to-namespace NS
  --label, --from-label, --to-label SEL label selector, as kubectl -l takes it
  --ip, --from-ip, --to-ip IP|CIDR      --port, --from-port, --to-port N
  --protocol tcp|udp|sctp|icmp|icmpv4|icmpv6
  --verdict forwarded|dropped           --event start|end|drop
  --policy NS/NAME | CNP-NAME           the policy that decided
  --service NS/NAME                     connections through that Service (on every
                                        node of their path, as joined across agents)
  --node NAME (glob: 'worker-*')        --since / --until 5m | RFC 3339 time
  --last N                              only the last N flows

  --follow        keep printing flows as they happen (Ctrl-C stops)
  -o json         one JSON object a line (the agent API's Flow)

A connection through a Service shows its endpoint as the destination, then
\`via Service NS/NAME:PORT (FRONTEND)\`, and \`masqueraded as ADDRESS\` when
its source was rewritten on the way.`;

export const STATUS_HELP = `usage: weft status [--lab NAME | --socket PATH | --agent URL...] [-o table|json]

Each agent's health, its last policy sync and how long it took, the
endpoints, policies, nft rules and set elements it holds, its Service
proxy (off, or the Service ports and rules of inet weft-services) and its
flow counts (recorded, buffered, lost).`;

export const ENDPOINTS_HELP = `usage: weft endpoints [--lab NAME | --socket PATH | --agent URL...] [-o table|json]

Each node's pods: addresses, labels, and whether ingress and egress are
isolated — and by which NetworkPolicies (plus the ClusterNetworkPolicies
that select the pod).`;

const TARGET = {
  lab: { type: 'string' },
  socket: { type: 'string' },
  agent: { type: 'string', multiple: true },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function agentsOf(values: {
  lab?: string;
  socket?: string;
  agent?: string[];
}): Promise<AgentAddress[]> {
  const given = [values.lab, values.socket, values.agent].filter((v) => v !== undefined);
  if (given.length > 1)
    throw new UsageError('--lab, --socket and --agent together', 'give one of them');
  if (values.lab !== undefined) return labAgents(values.lab);
  if (values.agent !== undefined) return values.agent.map(agentUrl);
  const socket = values.socket ?? DEFAULT_AGENT_SOCKET;
  return [{ kind: 'unix', node: 'local', socket }];
}

/** An agent's --observe listener, e.g. http://10.0.0.5:9963 (after kubectl port-forward: 127.0.0.1). */
function agentUrl(text: string): AgentAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--agent ${text}: not a URL`, 'e.g. --agent http://10.0.0.5:9963');
  }
  if (url.protocol !== 'http:')
    throw new UsageError(
      `--agent ${text}: only http is served by the agent`,
      'e.g. --agent http://10.0.0.5:9963',
    );
  return { kind: 'http', node: url.host, url: url.origin };
}

export async function observeCommand(args: string[], io: Io): Promise<number> {
  const filterOptions = Object.fromEntries(
    FILTER_FLAGS.map((f) => [f, { type: 'string', multiple: true }] as const),
  ) as Record<(typeof FILTER_FLAGS)[number], { type: 'string'; multiple: true }>;
  const { values } = parseArgs({
    args,
    strict: true,
    options: { ...TARGET, ...filterOptions, follow: { type: 'boolean', short: 'f' } },
  });
  if (values.help) {
    io.out(OBSERVE_HELP);
    return 0;
  }
  const format = outputFormat(values.output);
  const given = values as unknown as Record<string, string[] | undefined>;
  const flags = FILTER_FLAGS.flatMap((f) => (given[f] ?? []).map((v) => [f, v] as const));
  const query = parseFlowQuery(flags, Date.now());
  const agents = await agentsOf(values);
  const print = (f: Parameters<typeof flowLine>[0]) =>
    io.out(format === 'json' ? JSON.stringify(f) : flowLine(f));
  if (!values.follow) {
    const r = await listFlows(agents, query);
    for (const f of r.flows) print(f);
    for (const e of r.errors) io.err(`weft: agent ${e}`);
    if (r.lost > 0 && format === 'table')
      io.err(`weft: the agents lost ${r.lost} flow events (see weft status)`);
    return r.errors.length === agents.length && agents.length > 0 ? 1 : 0;
  }
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let failed = 0;
  try {
    for await (const f of followFlows(agents, query, abort.signal, (e) => {
      failed++;
      io.err(`weft: agent ${e}`);
    }))
      print(f);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return failed === agents.length && !abort.signal.aborted ? 1 : 0;
}

/** The total not recorded, and each cause that lost any: `960 (dropLogLimit 958, nflogQueue 2)`. */
function lostText(f: FlowStats): string {
  const causes = Object.entries(f.losses ?? {}).filter(([, n]) => n > 0);
  const detail = causes.map(([cause, n]) => `${cause} ${n}`).join(', ');
  return `${f.lost ?? 0}${detail ? ` (${detail})` : ''}`;
}

/** Readers that are not running, `nflog failed` each (the table's FLOWS column). */
function readersDown(f: FlowStats): string {
  const down = Object.entries(f.readers ?? {}).filter(([, s]) => s !== 'running');
  return down.map(([name, s]) => `${name} ${/^\w+/.exec(s)?.[0] ?? s}`).join(', ');
}

/** Every agent's answer (or its error), in the agents' order. */
async function gather<T>(
  agents: readonly AgentAddress[],
  route: JsonRoute<T>,
): Promise<{ agent: AgentAddress; body?: T; error?: string }[]> {
  return Promise.all(
    agents.map(async (agent) => {
      try {
        return { agent, body: await new AgentClient(agent).get(route) };
      } catch (e) {
        return { agent, error: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
}

export async function statusCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, strict: true, options: TARGET });
  if (values.help) {
    io.out(STATUS_HELP);
    return 0;
  }
  const format = outputFormat(values.output);
  const results = await gather(await agentsOf(values), AgentRoutes.status);
  const nodeOf = (r: (typeof results)[number]) => r.body?.node ?? r.agent.node;
  if (format === 'json') {
    const out = results.map((r) => ({
      node: nodeOf(r),
      ...(r.body ? { status: r.body } : { error: r.error }),
    }));
    io.out(JSON.stringify({ agents: out }, null, 2));
  } else {
    const rows = results.map((r) => statusRow(nodeOf(r), r.body, r.error));
    io.out(
      table(
        [
          'NODE',
          'HEALTH',
          'LAST SYNC',
          'ENDPOINTS',
          'POLICIES',
          'RULES',
          'ELEMENTS',
          'SERVICES',
          'FLOWS',
          'LOST',
        ],
        rows,
      ),
    );
    for (const r of results) {
      const s = r.body?.lastSync;
      if (s?.error) io.err(`weft: ${nodeOf(r)}: last sync failed: ${s.error}`);
      const svc = r.body?.services;
      if (svc?.enabled && svc.lastSync?.error)
        io.err(`weft: ${nodeOf(r)}: last services sync failed: ${svc.lastSync.error}`);
      const f = r.body?.flows;
      if (!f?.enabled) continue;
      for (const [name, state] of Object.entries(f.readers ?? {})) {
        if (state === 'running') continue;
        const retry = f.retries?.[name as FlowReader];
        const next = retry
          ? ` (${retry.failures} failed tries, next in ${(retry.nextAttemptInMs / 1000).toFixed(1)} s)`
          : '';
        io.err(`weft: ${nodeOf(r)}: flows: ${name} reader ${state}${next}`);
      }
    }
  }
  return results.every((r) => r.body?.health === 'ok') ? 0 : 1;
}

function statusRow(node: string, s: StatusAnswer | undefined, error?: string): string[] {
  if (!s) return [node, `unreachable: ${error ?? ''}`, '', '', '', '', '', '', '', ''];
  const sync = s.lastSync
    ? `${s.lastSync.kind} ${s.lastSync.ms.toFixed(1)} ms at ${s.lastSync.at}${s.lastSync.error ? ' (FAILED)' : ''}`
    : 'none';
  const c = s.counts;
  const f = s.flows;
  return [
    node,
    s.health ?? (s.ready ? 'ok' : 'starting'),
    sync,
    String(c?.endpoints ?? '-'),
    String(c?.policies ?? '-'),
    String(c?.rules ?? '-'),
    String(c?.setElements ?? '-'),
    servicesText(s.services),
    f?.enabled
      ? `${f.seen ?? 0} (${f.buffered ?? 0} buffered)${readersDown(f) ? `; ${readersDown(f)}` : ''}`
      : 'off',
    f?.enabled ? lostText(f) : '-',
  ];
}

/** `off`, `3 ports, 40 rules`, or `FAILED` when its last sync failed. */
function servicesText(s: StatusAnswer['services']): string {
  if (!s) return '-';
  if (!s.enabled) return 'off';
  if (s.lastSync?.error) return 'FAILED';
  return s.counts ? `${s.counts.ports} ports, ${s.counts.rules} rules` : 'not synced';
}

function directionText(d: EndpointView['ingress']): string {
  const parts = [d.isolated ? `isolated by ${d.isolatedBy.join(', ')}` : 'open'];
  if (d.admin.length) parts.push(`admin: ${d.admin.join(', ')}`);
  if (d.baseline.length) parts.push(`baseline: ${d.baseline.join(', ')}`);
  return parts.join('; ');
}

export async function endpointsCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, strict: true, options: TARGET });
  if (values.help) {
    io.out(ENDPOINTS_HELP);
    return 0;
  }
  const format = outputFormat(values.output);
  const results = await gather(await agentsOf(values), AgentRoutes.endpointsPolicy);
  for (const r of results) if (r.error) io.err(`weft: agent ${r.agent.node}: ${r.error}`);
  const all = results.flatMap((r) => (r.body ?? []).map((e) => ({ node: r.agent.node, ...e })));
  if (format === 'json') io.out(JSON.stringify({ endpoints: all }, null, 2));
  else
    io.out(
      table(
        ['NODE', 'POD', 'IPS', 'LABELS', 'INGRESS', 'EGRESS'],
        all.map((e) => [
          e.node,
          `${e.namespace}/${e.pod}`,
          e.ips.join(','),
          Object.entries(e.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
          directionText(e.ingress),
          directionText(e.egress),
        ]),
      ),
    );
  return results.some((r) => r.error) ? 1 : 0;
}
