import { formatIp, parseIp } from '../core/net/ip.js';
import type { IpAddr } from '../core/net/types.js';
import type { Node } from '../core/model/types.js';
import type { AgentAddress } from './flow-source.js';

/**
 * How an agent's UI finds the other agents of its cluster: each agent that
 * serves --observe on an address its peers can reach publishes that URL as
 * its Node's `weft.dev/observe-url` annotation; the UI follows every Node
 * that carries one. An agent that observes on loopback only publishes none,
 * and its flows stay on its node.
 */

/**
 * The URL peers reach this agent's --observe listener at: its address, or the
 * node's underlay address when it listens on every address. Undefined when
 * nothing outside the node can reach it (loopback), or it is not serving.
 */
export function publishedObserveUrl(
  observe: { readonly host: string; readonly port: number } | undefined,
  underlay: IpAddr | undefined,
): string | undefined {
  if (!observe || observe.host === 'localhost') return undefined;
  const host = parseIp(observe.host);
  // A name: its peers resolve it as this node does.
  if (!host) return `http://${observe.host}:${observe.port}`;
  const wildcard = host.value === 0n;
  if (!wildcard && isLoopback(host)) return undefined;
  const at = wildcard ? underlay : host;
  if (!at) return undefined;
  const text = formatIp(at);
  return `http://${at.family === 6 ? `[${text}]` : text}:${observe.port}`;
}

function isLoopback(a: IpAddr): boolean {
  return a.family === 4 ? a.value >> 24n === 127n : a.value === 1n;
}

/** A peer the UI cannot follow, and why. */
export interface PeerProblem {
  readonly node: string;
  readonly message: string;
}

/**
 * The agents an agent's UI follows: itself (its unix socket), then every
 * other Node whose `weft.dev/observe-url` is a valid http URL. A Node whose
 * annotation is not one is named in `problems`, with the fix.
 */
export function clusterAgents(
  self: AgentAddress,
  nodes: readonly Node[],
): { agents: AgentAddress[]; problems: PeerProblem[] } {
  const agents: AgentAddress[] = [self];
  const problems: PeerProblem[] = [];
  for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (n.name === self.node || n.observeUrl === undefined) continue;
    const why = urlProblem(n.observeUrl);
    if (why)
      problems.push({
        node: n.name,
        message:
          `Node ${n.name}: annotation weft.dev/observe-url ${JSON.stringify(n.observeUrl)} ${why} ` +
          '(fix: remove it; the node\u2019s agent publishes it when its --observe listens on a reachable address)',
      });
    else agents.push({ kind: 'http', node: n.name, url: n.observeUrl });
  }
  return { agents, problems };
}

function urlProblem(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'http:') return 'is not an http:// URL';
  if (u.username || u.password || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash)
    return 'must be http://HOST:PORT, nothing more';
  return undefined;
}

/**
 * Whom an agent's --observe listener answers: loopback (the node itself, a
 * port-forward) and the cluster's Nodes (their agents' UI, an operator on a
 * node). Flows name pods and policies; nobody else reads them.
 */
export function observeClientAllowed(remote: string, nodes: readonly Node[]): boolean {
  const ip = parseIp(remote);
  if (!ip) return false;
  if (isLoopback(ip)) return true;
  return nodes.some((n) => n.addresses.some((a) => a.family === ip.family && a.value === ip.value));
}
