// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface ArtifactChunk {
  data?: Buffer | Uint8Array | string;
  offset?: number | string | Long;
  totalSize?: number | string | Long;
  sha256?: string;
}

export interface ArtifactChunk__Output {
  data: Buffer;
  offset: number;
  totalSize: number;
  sha256: string;
}
