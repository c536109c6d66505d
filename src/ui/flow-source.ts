// The UI's one door to the agents' flow API: the flows client.
export {
  agentJson,
  followFlows,
  listFlows,
  readStream,
  ReorderWindow,
  type AgentAddress,
} from '../flows/client.js';
export { labAgents } from '../lab/agents.js';
