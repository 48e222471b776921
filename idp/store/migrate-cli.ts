// Usage: npm run migrate:db  (reads DATABASE_URL; applies the idp's pending migrations)
import { createDatabase, migrate } from '../../lib/db.ts';
import { loadIdpConfig } from '../config.ts';
import { idpMigrations } from './migrations/index.ts';

const config = loadIdpConfig();
const knex = createDatabase(config.DATABASE_URL);
try {
  const applied = await migrate(knex, idpMigrations);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
} catch (error) {
  console.error('migration failed:', (error as Error).message);
  process.exitCode = 1;
} finally {
  await knex.destroy();
}
