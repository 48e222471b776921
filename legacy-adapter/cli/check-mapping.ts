/**
 * Migration readiness of the legacy table, read through the schema mapping:
 *
 *   idm check-mapping [--mapping <file>] [--json]
 *
 * The mapping comes from --mapping, else LEGACY_MAPPING_FILE, else the sample monolith's; the
 * database from LEGACY_DATABASE_URL, else the mapping's database.url. Reads no password and
 * prints no hash: counts per recognised scheme, and the ids of rows no scheme recognises, with
 * an empty hash, a salted scheme but no salt, no login, or a shared e-mail / username; and
 * whether the mapping can dual-write (its `write` section and the columns it names); and the PHP
 * sessions the session bridge reads and writes (the `session` section with the LEGACY_SESSION_*
 * overrides: serializer, store, cookie, ids, keys), checking that the store is there (the table
 * and its columns, a writable save_path, a Redis that answers) and the columns the keys read exist.
 * Exit code: 0 ready, 1 not ready (rows to fix, a write section naming a missing column, or
 * sessions the bridge cannot use) or the database cannot be read, 2 the arguments are wrong,
 * 78 the mapping or the environment is. No write section at all is reported, not failed: a site
 * may migrate without dual-write.
 */
import { readCommandArgs } from '../../lib/cli/args.ts';
import { ConfigError } from '../../lib/config.ts';
import { createDatabase } from '../../lib/db.ts';
import { loadLegacyAdapterConfig } from '../config.ts';
import { checkMapping, formatReadinessReport } from '../directory/readiness.ts';
import { checkSessionSupport, formatSessionSupport } from '../directory/session-support.ts';
import { checkWriteSupport, formatWriteSupport } from '../directory/write-support.ts';
import { legacyDatabaseUrl, loadMapping } from '../mapping-format/index.ts';
import { sessionSettings, type SessionSettings } from '../sessions/settings.ts';

const USAGE = 'usage: idm check-mapping [--mapping <file>] [--json]';

export async function main(argv: string[]): Promise<number> {
  const parsed = readCommandArgs(argv, {
    name: 'check-mapping',
    usage: USAGE,
    options: { mapping: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (!parsed.ok) return parsed.exit;
  const args = parsed.args;
  let mapping;
  let url;
  let settings: SessionSettings;
  try {
    const config = loadLegacyAdapterConfig();
    mapping = loadMapping(args.values.mapping ?? config.LEGACY_MAPPING_FILE);
    url = legacyDatabaseUrl(config.LEGACY_DATABASE_URL, mapping);
    settings = sessionSettings(mapping.session, config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`check-mapping: ${error.message}`);
    return 78;
  }
  const knex = createDatabase(url, { pool: { min: 0, max: 1 } });
  try {
    const rows = await checkMapping(knex, mapping);
    const write = await checkWriteSupport(knex, mapping);
    const session = await checkSessionSupport(knex, mapping, settings);
    const ready = rows.ready && (!write.configured || write.canWrite) && session.ok;
    console.log(
      args.values.json
        ? JSON.stringify({ ...rows, write, session, ready }, null, 2)
        : `${formatReadinessReport(rows)}\n\n${formatWriteSupport(write, mapping.table)}\n\n${formatSessionSupport(session)}`,
    );
    return ready ? 0 : 1;
  } catch (error) {
    // Driver messages name tables and columns, never the URL's password.
    console.error(`check-mapping: cannot read ${mapping.table} through the mapping: ${(error as Error).message}`);
    return 1;
  } finally {
    await knex.destroy();
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
