export * from './ports';
export {
  createEngine,
  EngineError,
  type Engine,
  type EngineOptions,
  type EngineLogger,
  type ActionUpdateInput,
} from './engine';
export { createMemoryStore } from './memory-store';
export { createMemoryAuthStore, type AuthStore } from './auth-ports';
export {
  createMemoryIdentityStore,
  type AgentCertRecord,
  type AgentTransport,
  type ConsumeResult,
  type IdentityStore,
  type JoinTokenRecord,
} from './identity-ports';
