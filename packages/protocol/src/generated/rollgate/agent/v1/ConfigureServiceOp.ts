// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Carry the service's configuration over to the edition, with these overrides.
 */
export interface ConfigureServiceOp {
  service?: string;
  edition?: string;
  env?: { [key: string]: string };
}

/**
 * Carry the service's configuration over to the edition, with these overrides.
 */
export interface ConfigureServiceOp__Output {
  service: string;
  edition: string;
  env: { [key: string]: string };
}
