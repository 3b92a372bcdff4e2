// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Wait until the service has no active connections, or max_wait_ms has passed.
 */
export interface DrainOp {
  service?: string;
  maxWaitMs?: number;
}

/**
 * Wait until the service has no active connections, or max_wait_ms has passed.
 */
export interface DrainOp__Output {
  service: string;
  maxWaitMs: number;
}
