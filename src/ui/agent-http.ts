import { request, type IncomingMessage } from 'node:http';
import type { AgentAddress } from './flow-source.js';

/** `GET path` on one agent (unix socket or HTTP URL); resolves with the response once headers arrive. */
export function agentGet(
  agent: AgentAddress,
  path: string,
  signal?: AbortSignal,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target =
      agent.kind === 'unix'
        ? { socketPath: agent.socket, path }
        : (() => {
            const u = new URL(path, agent.url);
            return { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}` };
          })();
    const req = request({ ...target, method: 'GET', ...(signal ? { signal } : {}) }, resolve);
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (e) => reject(new Error(`agent ${agentName(agent)}: ${e.message}`)));
    req.end();
  });
}

export function agentName(a: AgentAddress): string {
  return `${a.node} (${a.kind === 'unix' ? a.socket : a.url})`;
}

/** The JSON body of `GET path`; a non-200 answer is an error naming the agent and path. */
export async function agentJson<T>(agent: AgentAddress, path: string): Promise<T> {
  const res = await agentGet(agent, path);
  let body = '';
  res.setEncoding('utf8');
  for await (const chunk of res) body += chunk as string;
  res.socket?.setTimeout(0);
  if (res.statusCode !== 200)
    throw new Error(`agent ${agentName(agent)}: GET ${path} answered ${res.statusCode}: ${body}`);
  return JSON.parse(body) as T;
}
