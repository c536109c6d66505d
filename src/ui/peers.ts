import { formatIp, parseIp } from '../core/net/ip.js';
import { NodeAnnotation } from '../core/model/node-annotations.js';
import type { Node } from '../core/model/types.js';
import type { AgentAddress } from '../api/client.js';

/**
 * How an agent's UI finds the other agents of its cluster: each agent that
 * serves --observe on an address its peers can reach publishes that URL as
 * its Node's `weft.dev/observe-url` annotation; the UI follows every Node
 * that carries one. An agent that observes on loopback only publishes none,
 * and its flows stay on its node.
 */

/** A peer the UI cannot follow, and why. */
export interface PeerProblem {
  readonly node: string;
  readonly message: string;
}

/**
 * The agents an agent's UI follows: itself (its unix socket), then every
 * other Node whose `weft.dev/observe-url` is an http URL to one of that
 * Node's own addresses (status.addresses). Anything else — not a URL, a
 * name, an address of no Node or of another Node — is not followed, and is
 * named in `problems` with the fix: a Node cannot send every agent's UI to
 * an address of its choosing.
 */
export function clusterAgents(
  self: AgentAddress,
  nodes: readonly Node[],
): { agents: AgentAddress[]; problems: PeerProblem[] } {
  const agents: AgentAddress[] = [self];
  const problems: PeerProblem[] = [];
  for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const url = n.annotations?.[NodeAnnotation.observeUrl];
    if (n.name === self.node || url === undefined) continue;
    const why = urlProblem(url) ?? addressProblem(n, url);
    if (why)
      problems.push({
        node: n.name,
        message:
          `Node ${n.name}: annotation ${NodeAnnotation.observeUrl} ${JSON.stringify(url)} ${why} ` +
          '(fix: remove it; the node\u2019s agent publishes it, with one of the Node\u2019s addresses, when its --observe listens on a reachable address)',
      });
    else agents.push({ kind: 'http', node: n.name, url });
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

/** Why the URL's host is not one of the Node's own addresses; undefined when it is. */
function addressProblem(n: Node, text: string): string | undefined {
  const host = new URL(text).hostname.replace(/^\[|\]$/g, '');
  const ip = parseIp(host);
  if (!ip) return `names ${host}, not an address of Node ${n.name}: it is not followed`;
  if (!n.addresses.some((a) => a.family === ip.family && a.value === ip.value))
    return `points at ${formatIp(ip)}, which is not one of Node ${n.name}\u2019s addresses (${n.addresses.map(formatIp).join(', ') || 'none'}): it is not followed`;
  return undefined;
}
