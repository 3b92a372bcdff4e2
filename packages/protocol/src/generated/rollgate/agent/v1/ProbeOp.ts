// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * A functionality test run by the agent against its local service.
 */
export interface ProbeOp {
  service?: string;
  path?: string;
  expectStatus?: number;
  expectBodyContains?: string;
  timeoutMs?: number;
}

/**
 * A functionality test run by the agent against its local service.
 */
export interface ProbeOp__Output {
  service: string;
  path: string;
  expectStatus: number;
  expectBodyContains: string;
  timeoutMs: number;
}
