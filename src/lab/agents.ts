import { ErrorCodes, WeftError } from '../core/errors.js';
import type { AgentAddress } from '../flows/client.js';
import { LabPaths, readState } from './state.js';

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
  return state.nodes.map((n) => ({ kind: 'unix', node: n.name, socket: n.socket }));
}
