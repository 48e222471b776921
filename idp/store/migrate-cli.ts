// `idm migrate db`: applies the idp's pending migrations to DATABASE_URL (the idp also does at
// start unless DB_MIGRATE_ON_START=false). Exit codes: 0 done, 1 failed, 2 usage, 78 configuration.
import { parseArgs } from 'node:util';
import { ConfigError } from '../../lib/config.ts';
import { createDatabase, migrate } from '../../lib/db.ts';
import { loadIdpConfig, type IdpConfig } from '../config.ts';
import { idpMigrations } from './migrations/index.ts';

const USAGE = `usage: idm migrate db [--json]
Applies the idp's pending database migrations to DATABASE_URL; prints the ones applied.`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  let config: IdpConfig;
  try {
    config = loadIdpConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 78;
  }
  const knex = createDatabase(config.DATABASE_URL);
  try {
    const applied = await migrate(knex, idpMigrations);
    console.log(parsed.values.json ? JSON.stringify({ applied }) : applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
    return 0;
  } catch (error) {
    console.error('migration failed:', (error as Error).message);
    return 1;
  } finally {
    await knex.destroy();
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
