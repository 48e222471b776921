import { migrate, type Knex, type Migration } from '../../../lib/db.ts';
import { deadLetters } from './001-dead-letters.ts';
import { checkpoints } from './002-checkpoints.ts';

/** The ETL's own store: its dead letters and checkpoints, nothing of the idp's. */
export const etlMigrations: Migration[] = [deadLetters, checkpoints];

/**
 * Its own migrations table, so the store may even share a database with another service (the
 * table names are the ETL's own too) without either mistaking the other's migrations for unknown.
 */
export const ETL_MIGRATIONS_TABLE = 'legacy_etl_migrations';

export function migrateEtlStore(knex: Knex): Promise<string[]> {
  return migrate(knex, etlMigrations, ETL_MIGRATIONS_TABLE);
}
