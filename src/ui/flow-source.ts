// The UI's one door to the agents' flow API: the flows client.
export { followFlows, labAgents, listFlows, type AgentAddress } from '../flows/client.js';
