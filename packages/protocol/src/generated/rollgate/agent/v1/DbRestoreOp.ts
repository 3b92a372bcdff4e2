// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Restore the service's database from the backup taken under `label`.
 */
export interface DbRestoreOp {
  service?: string;
  label?: string;
  timeoutMs?: number;
}

/**
 * Restore the service's database from the backup taken under `label`.
 */
export interface DbRestoreOp__Output {
  service: string;
  label: string;
  timeoutMs: number;
}
