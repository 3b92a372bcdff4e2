// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Dump the service's configured database (pg_dump custom format, or its configured command) under
 * `label`; with verify, restore it into a scratch database and compare row counts.
 */
export interface DbBackupOp {
  service?: string;
  label?: string;
  verify?: boolean;
  timeoutMs?: number;
}

/**
 * Dump the service's configured database (pg_dump custom format, or its configured command) under
 * `label`; with verify, restore it into a scratch database and compare row counts.
 */
export interface DbBackupOp__Output {
  service: string;
  label: string;
  verify: boolean;
  timeoutMs: number;
}
