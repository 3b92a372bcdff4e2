// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Start `edition` of the service as a second instance on its beside_port, next to the running
 * one, and wait until it answers healthy there (single-server rollouts).
 */
export interface StartBesideOp {
  service?: string;
  edition?: string;
  timeoutMs?: number;
  /**
   * Overrides of the edition's configuration (the rest is carried over, as ConfigureOp does).
   */
  env?: { [key: string]: string };
}

/**
 * Start `edition` of the service as a second instance on its beside_port, next to the running
 * one, and wait until it answers healthy there (single-server rollouts).
 */
export interface StartBesideOp__Output {
  service: string;
  edition: string;
  timeoutMs: number;
  /**
   * Overrides of the edition's configuration (the rest is carried over, as ConfigureOp does).
   */
  env: { [key: string]: string };
}
