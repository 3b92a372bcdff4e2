// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Wait until the service has no active connections, or max_wait_ms has passed. With
 * min_wait_ms, wait at least that long first: a load balancer that only polls the gate needs
 * its check interval × fall to notice that the server left rotation.
 */
export interface DrainOp {
  service?: string;
  maxWaitMs?: number;
  minWaitMs?: number;
}

/**
 * Wait until the service has no active connections, or max_wait_ms has passed. With
 * min_wait_ms, wait at least that long first: a load balancer that only polls the gate needs
 * its check interval × fall to notice that the server left rotation.
 */
export interface DrainOp__Output {
  service: string;
  maxWaitMs: number;
  minWaitMs: number;
}
