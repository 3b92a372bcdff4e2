export * from './fleet';
export * from './ops';
export * from './op-results';
export * from './action-result-text';
export * from './plan';
export * from './phases';
export * from './readiness-gates';
export * from './durations';
export * from './bytes';
export * from './coordinator-url';
export * from './messages';
export * from './groups';
export {
  DB_BACKUP_TIMEOUT_MS,
  DB_RESTORE_TIMEOUT_MS,
  HOOK_TIMEOUT_MS,
  RESTORE_SNAPSHOT_COMMAND,
  SNAPSHOT_COMMAND,
  UPGRADE_DEFAULTS,
  backupLabelSchema,
  versionExpect,
  type FunctionalTestOptions,
  type PreparationOptions,
  type TestStage,
  type UpgradeInput,
} from './compile-common';
export * from './compile-minor';
export * from './compile-major';
export * from './describe-plan';
export * from './run-state';
export * from './lb-config';
export * from './lb-targets';
export * from './readiness';
export * from './windows';
export * from './schedule';
export * from './rollback';
export * from './cluster-settings';
export * from './routing';
export * from './compile-rollout';
export * from './auth';
export * from './agent-identity';
export * from './notify-events';
export * from './edition-source';
