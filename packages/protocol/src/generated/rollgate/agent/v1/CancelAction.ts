// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

export interface CancelAction {
  actionId?: string;
  reason?: string;
}

export interface CancelAction__Output {
  actionId: string;
  reason: string;
}
