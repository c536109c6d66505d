import { AgentClient, type AgentAddress } from '../api/client.js';
import type { JsonRoute } from '../api/routes.js';
import { ErrorCodes, WeftError } from '../core/errors.js';
import { LabPaths, readState, type LabNode } from './state.js';

/** How long the lab waits for one answer of a node's agent. */
const ANSWER_MS = 1000;

/** The agent of a lab node, on the node's unix socket. */
export function labAgent(n: LabNode): AgentAddress {
  return { kind: 'unix', node: n.name, socket: n.socket };
}

/** A lab node's agent's answer, or undefined when it does not answer (in time, or as weft reads). */
export function askLabAgent<T>(n: LabNode, route: JsonRoute<T>): Promise<T | undefined> {
  return new AgentClient(labAgent(n), ANSWER_MS).get(route).catch(() => undefined);
}

/** Every agent of a running lab (throws WeftError naming the lab if it is not up). */
export async function labAgents(lab: string): Promise<AgentAddress[]> {
  const state = await readState(new LabPaths(lab));
  if (!state)
    throw WeftError.of({
      code: ErrorCodes.NOT_FOUND,
      object: `lab ${lab}`,
      field: '',
      message: 'is not up',
      fix: `start it with: weft lab up --name ${lab}`,
    });
  return state.nodes.map(labAgent);
}
