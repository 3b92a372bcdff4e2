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
  /**
   * Set when the operator chose that agents fetch the edition themselves (docs/adr/0039): an
   * http(s) URL the agent downloads from, verifying sha256, instead of FetchArtifact. Its query
   * string may be a signature: agents never log more than its origin and path.
   */
  url?: string;
}

/**
 * Download (FetchArtifact), verify the sha256 and unpack side by side; never over an existing edition.
 */
export interface InstallEditionOp__Output {
  service: string;
  edition: string;
  sha256: string;
  size: number;
  /**
   * Set when the operator chose that agents fetch the edition themselves (docs/adr/0039): an
   * http(s) URL the agent downloads from, verifying sha256, instead of FetchArtifact. Its query
   * string may be a signature: agents never log more than its origin and path.
   */
  url: string;
}
