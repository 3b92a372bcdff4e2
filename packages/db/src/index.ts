export {
  createDb,
  defaultMigrationsFolder,
  redactUrl,
  type CreateDbOptions,
  type Db,
  type DbLogger,
  type RollgateDb,
} from './create-db';
export { createPgStore } from './pg-store';
export { createEmbeddedTemplate, type EmbeddedTemplateOptions } from './embedded-template';
export { DEFAULT_LOG_LIMIT, createLogDeadLetters, unstorableLogLine, type LogDeadLetter } from './log-chunks';
export { pruneExpired, type PruneOptions, type PruneResult } from './retention';
export { createPgAuthStore, createPgLoginAttempts, type PgLoginAttempts } from './pg-auth-store';
export { createPgIdentityStore } from './pg-identity-store';
export { createPgLbLedgerViews, type LbLedgerView, type PgLbLedgerViews } from './lb-ledger-views';
export {
  ServiceTokenNameTaken,
  createPgServiceTokenStore,
  type ServiceTokenRecord,
  type ServiceTokenStore,
} from './pg-service-token-store';
export { createLogWriter, type LogWriter, type LogWriterOptions, type LogWriterStats } from './log-writer';
export * as schema from './schema';
export { createPgNotifier, type PgNotifier, type PgNotifierOptions } from './pg-notifier';
