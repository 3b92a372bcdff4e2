// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

export interface WaitHealthyOp {
  service?: string;
  timeoutMs?: number;
}

export interface WaitHealthyOp__Output {
  service: string;
  timeoutMs: number;
}
