// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Functionality tests run from this server (the test machine) against base_url. The probes are
 * JSON (FunctionalProbe in @rollgate/domain) so new probe kinds need no new message.
 */
export interface FunctionalTestOp {
  baseUrl?: string;
  probesJson?: string;
  timeoutMs?: number;
}

/**
 * Functionality tests run from this server (the test machine) against base_url. The probes are
 * JSON (FunctionalProbe in @rollgate/domain) so new probe kinds need no new message.
 */
export interface FunctionalTestOp__Output {
  baseUrl: string;
  probesJson: string;
  timeoutMs: number;
}
