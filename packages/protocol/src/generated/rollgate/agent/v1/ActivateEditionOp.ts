// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

export interface ActivateEditionOp {
  service?: string;
  edition?: string;
}

export interface ActivateEditionOp__Output {
  service: string;
  edition: string;
}
