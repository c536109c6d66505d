// The UI's one door to the agents' flow API: the flows client.
export {
  agentJson,
  followFlows,
  labAgents,
  listFlows,
  readStream,
  ReorderWindow,
  type AgentAddress,
} from '../flows/client.js';
