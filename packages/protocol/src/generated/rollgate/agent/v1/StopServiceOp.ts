// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

export interface StopServiceOp {
  service?: string;
  timeoutMs?: number;
}

export interface StopServiceOp__Output {
  service: string;
  timeoutMs: number;
}
