// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Stop the service's second instance (SIGTERM; SIGKILL after timeout_ms).
 */
export interface StopBesideOp {
  service?: string;
  timeoutMs?: number;
}

/**
 * Stop the service's second instance (SIGTERM; SIGKILL after timeout_ms).
 */
export interface StopBesideOp__Output {
  service: string;
  timeoutMs: number;
}
