// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

export interface FetchArtifactRequest {
  sha256?: string;
  agentId?: string;
}

export interface FetchArtifactRequest__Output {
  sha256: string;
  agentId: string;
}
