// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Remove every installed edition and the runtime state of a stopped service (rebuild).
 */
export interface UninstallOp {
  service?: string;
}

/**
 * Remove every installed edition and the runtime state of a stopped service (rebuild).
 */
export interface UninstallOp__Output {
  service: string;
}
