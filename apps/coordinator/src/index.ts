// The coordinator's public entry (package.json "exports"): what tools may import under the
// module-boundary rules (eslint.config.mjs allows `@rollgate/coordinator` itself, no deep path).
export {
  createCoordinator,
  COORDINATOR_VERSION,
  type Coordinator,
  type CoordinatorAddresses,
  type CoordinatorOptions,
} from './create-coordinator';
// The agent gateway alone, for tools/bench's gateway-level fan-out (no engine, no database).
export { createAgentGateway, type AgentGateway, type AgentGatewayEvents } from './agents/agent-gateway';
export { createArtifactStore } from './editions/artifact-store';
