import type { Server } from 'node:http';
import { parseFlowQuery } from '../core/flows/filter.js';
import type { Cluster } from '../core/model/types.js';
import type { ClientRule } from '../core/listen/access.js';
import { HostNames } from '../core/listen/host.js';
import type { ListenerMetrics } from '../listen/metrics.js';
import { FlowFeed } from './feed.js';
import { PeerFollower } from './follow-peers.js';
import { clusterAgents } from './peers.js';
import { agentPolicySource } from './policy-source.js';
import { createUiServer } from './server.js';

/** With no page open for this long, the agent's UI stops following the agents. */
export const AGENT_UI_IDLE_MS = 60_000;
/** Flows an agent's UI keeps. */
export const AGENT_UI_BUFFER = 20_000;

export interface AgentUiOptions {
  readonly node: string;
  /** The agent's own unix socket: its flows and IR. */
  readonly socket: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** The agent's model of the cluster: its Nodes name the peers, its objects feed the policy view. */
  readonly cluster: () => Cluster | undefined;
  /** The agent's access rule, as on its other listeners. */
  readonly rule: () => ClientRule;
  /** Host names answered besides the loopback names and the listen address (`--ui-host`). */
  readonly hosts: readonly string[];
  readonly metrics: ListenerMetrics;
}

export interface AgentUi {
  readonly server: Server;
  stop(): Promise<void>;
}

/**
 * The web UI as an agent serves it (`weft agent --ui`): the flows of this
 * agent and of every peer whose Node publishes `weft.dev/observe-url`, and
 * the policy view from the agent's own model. It follows the agents only
 * while a page is open, so an agent nobody looks at pays nothing for it.
 */
export async function startAgentUi(o: AgentUiOptions): Promise<AgentUi> {
  const self = { kind: 'unix' as const, node: o.node, socket: o.socket };
  const agents = () => clusterAgents(self, o.cluster()?.nodes ?? []);
  const follower = new PeerFollower(agents, parseFlowQuery([], Date.now()));
  const feed = new FlowFeed((signal) => follower.follow(signal), {
    capacity: AGENT_UI_BUFFER,
    idleMs: AGENT_UI_IDLE_MS,
    sources: () => follower.status(),
  });
  const server = createUiServer({
    feed,
    policy: agentPolicySource(
      () => agents().agents,
      () => Promise.resolve(o.cluster()),
    ),
    title: `cluster, served by node ${o.node}`,
    guard: {
      listener: 'ui',
      rule: o.rule,
      hosts: { names: new HostNames([o.listen.host, ...o.hosts]), flag: '--ui-host' },
      metrics: o.metrics,
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(o.listen.port, o.listen.host, resolve),
  );
  feed.start();
  return {
    server,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await feed.stop();
    },
  };
}
