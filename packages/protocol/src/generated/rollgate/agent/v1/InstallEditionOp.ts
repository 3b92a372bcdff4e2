// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Download (FetchArtifact), verify the sha256 and unpack side by side; never over an existing edition.
 */
export interface InstallEditionOp {
  service?: string;
  edition?: string;
  sha256?: string;
  size?: number | string | Long;
}

/**
 * Download (FetchArtifact), verify the sha256 and unpack side by side; never over an existing edition.
 */
export interface InstallEditionOp__Output {
  service: string;
  edition: string;
  sha256: string;
  size: number;
}
