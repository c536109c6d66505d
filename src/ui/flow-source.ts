// The UI's one door to the agents' flow API. Until the flows client
// (src/flows/client.ts) lands, this file holds a copy of its contract:
// switching to the real module is a change of this file alone.
import { createInterface } from 'node:readline';
import { ErrorCodes, WeftError } from '../core/errors.js';
import type { FlowQuery } from '../core/flows/filter.js';
import type { Flow } from '../core/flows/types.js';
import { agentGet, agentJson, agentName } from './agent-http.js';

export type AgentAddress =
  | { readonly kind: 'unix'; readonly node: string; readonly socket: string }
  | { readonly kind: 'http'; readonly node: string; readonly url: string };

/** Every agent of a running lab (throws naming the lab if it is not up). */
export async function labAgents(lab: string): Promise<AgentAddress[]> {
  const { LabPaths, readState } = await import('../lab/state.js');
  const state = await readState(new LabPaths(lab));
  if (!state)
    throw WeftError.of({
      code: ErrorCodes.NOT_FOUND,
      object: `lab ${lab}`,
      field: '',
      message: 'is not up',
      fix: `start it with: weft lab up --name ${lab}`,
    });
  return state.nodes.map((n) => ({ kind: 'unix', node: n.name, socket: n.socket }));
}

function queryString(q: FlowQuery, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams(Object.entries(extra));
  for (const [flag, value] of q.flags) p.append(flag, value);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Buffered flows of every agent, merged by time; agents that fail are reported, not fatal. */
export async function listFlows(
  agents: readonly AgentAddress[],
  query: FlowQuery,
): Promise<{ flows: Flow[]; lost: number; errors: string[] }> {
  const answers = await Promise.allSettled(
    agents.map((a) =>
      agentJson<{ flows: Flow[]; lost: number }>(a, `/v1/flows${queryString(query)}`),
    ),
  );
  const flows: Flow[] = [];
  const errors: string[] = [];
  let lost = 0;
  for (const a of answers) {
    if (a.status === 'rejected') errors.push(String((a.reason as Error).message));
    else {
      flows.push(...a.value.flows);
      lost += a.value.lost;
    }
  }
  return { flows: flows.sort((x, y) => x.time - y.time), lost, errors };
}

/** Live flows of every agent (each agent's in its order), until signal aborts. */
export async function* followFlows(
  agents: readonly AgentAddress[],
  query: FlowQuery,
  signal: AbortSignal,
): AsyncIterable<Flow> {
  const queue: Flow[] = [];
  let wake: (() => void) | undefined;
  let open = agents.length;
  const failures: string[] = [];
  const one = async (a: AgentAddress) => {
    try {
      const res = await agentGet(a, `/v1/flows${queryString(query, { follow: '1' })}`, signal);
      if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}`);
      res.socket?.setTimeout(0);
      for await (const line of createInterface({ input: res })) {
        if (line.trim() !== '') queue.push(JSON.parse(line) as Flow);
        wake?.();
      }
    } catch (e) {
      if (!signal.aborted) failures.push(`${agentName(a)}: ${(e as Error).message}`);
    } finally {
      open--;
      wake?.();
    }
  };
  for (const a of agents) void one(a);
  while (!signal.aborted) {
    const f = queue.shift();
    if (f) {
      yield f;
      continue;
    }
    if (open === 0) break;
    await new Promise<void>((r) => (wake = r));
    wake = undefined;
  }
  if (failures.length > 0 && !signal.aborted) throw new Error(failures.join('; '));
}
