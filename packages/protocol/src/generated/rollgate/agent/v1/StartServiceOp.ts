// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

export interface StartServiceOp {
  service?: string;
}

export interface StartServiceOp__Output {
  service: string;
}
