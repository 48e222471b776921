// The batch migration (issue 4): copy the legacy user table into the idp through its bulk-import
// port. The ops entry point is legacy-adapter/cli/migrate.ts (`npm run migrate:users`).
export { runMigration, type MigrateOptions, type MigrationReport } from './engine.ts';
export { formatMigrationReport } from './report.ts';
export { createProgressReporter, type ProgressReporter } from './progress.ts';
export { listDeadLetters, countDeadLetters, type StoredDeadLetter } from './dead-letters.ts';
export { loadCheckpoint, checkpointName, type Checkpoint } from './checkpoint.ts';
export { loadMigrateConfig, type MigrateConfig } from './config.ts';
export { createIdpImportClient, IdpImportFailure, type IdpImportClient } from './idp-import-client.ts';
export { migrateEtlStore } from './migrations/index.ts';
export { DEAD_LETTER_REASONS, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, totalDeadLettered, type DeadLetterReason, type MigrationCounts } from './types.ts';
