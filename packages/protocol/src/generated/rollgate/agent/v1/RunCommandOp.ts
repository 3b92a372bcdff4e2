// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Runs a command the service's configuration allows (by name), e.g. the database upgrade command.
 */
export interface RunCommandOp {
  service?: string;
  command?: string;
  timeoutMs?: number;
}

/**
 * Runs a command the service's configuration allows (by name), e.g. the database upgrade command.
 */
export interface RunCommandOp__Output {
  service: string;
  command: string;
  timeoutMs: number;
}
