// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

/**
 * Archive the service's configured backup directories (agent config) into the agent's backups
 * directory under `label`; the agent keeps the archive.
 */
export interface BackupFilesOp {
  service?: string;
  label?: string;
}

/**
 * Archive the service's configured backup directories (agent config) into the agent's backups
 * directory under `label`; the agent keeps the archive.
 */
export interface BackupFilesOp__Output {
  service: string;
  label: string;
}
