/**
 * `idm migrate users`, the batch migration: copies every legacy user into the idp through the
 * legacy schema mapping (legacy-adapter/etl) and the idp's bulk-import port. Exact invocation
 * and flags: docs/migration.md, "Batch migration"; `--help` prints them.
 *
 * Exit status: 0 done, nothing dead-lettered; 3 done, some rows dead-lettered (see the
 * legacy_etl_dead_letters table of LEGACY_ETL_DATABASE_URL); 1 failed, or the idp could not be
 * reached (run again: it resumes); 2 bad arguments;
 * 78 bad configuration or mapping; 130/143 stopped by SIGINT/SIGTERM after the batch in flight.
 */
// Only what parsing the command line needs is loaded up front: a typo is answered at once,
// and the database drivers load after (see main()).
import { positiveInteger, readCommandArgs, UsageError, type ParsedCommandArgs } from '../../lib/cli/args.ts';
import { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE } from '../etl/types.ts';

const USAGE = `usage: idm migrate users [options]
       npm run migrate:users -- [options]   (from the sources, with the heap flags it is measured with)

Copies the legacy user table into the idp (its bulk-import port at IDP_INTERNAL_URL, with
IDP_INTERNAL_SECRET) through the legacy schema mapping. Checkpoints and dead letters go to
LEGACY_ETL_DATABASE_URL. Resumes from its checkpoint after a kill; safe to run again at any time.

  --mapping <file>        legacy schema mapping (default: LEGACY_MAPPING_FILE, else
                          legacy-adapter/mappings/legacy-php.yaml); the legacy database is
                          LEGACY_DATABASE_URL, else the mapping's database.url
  --dry-run               read and validate everything, write nothing
  --batch-size <n>        rows per batch and per transaction (default ${DEFAULT_BATCH_SIZE}, at most ${MAX_BATCH_SIZE})
  --from-id <id>          start at this legacy id (inclusive) instead of the checkpoint
  --limit <n>             read at most n rows in this run (the next run goes on)
  --changed-since <time>  delta pass: only rows whose updatedAt column (the mapping's) is at or
                          after this ISO 8601 time, e.g. 2024-05-01T00:00:00Z
  --json                  print the final report as JSON on stdout
  -h, --help              this text

Exit status: 0 done; 3 done but rows were dead-lettered; 1 failed (run again to resume);
2 bad arguments; 78 bad configuration or mapping; 130/143 stopped by a signal.`;

function parseTime(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  // A date alone is midnight UTC; a time without a zone would depend on this machine's, so it is refused.
  const ok = /^\d{4}-\d\d-\d\d$/.test(value) || /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(value);
  const time = new Date(value);
  if (!ok || Number.isNaN(time.getTime()))
    throw new UsageError(`--changed-since must be an ISO 8601 date or UTC/offset time, e.g. 2024-05-01 or 2024-05-01T12:00:00Z (got ${JSON.stringify(value)})`);
  return time;
}

const OPTIONS = {
  mapping: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  'batch-size': { type: 'string' },
  'from-id': { type: 'string' },
  limit: { type: 'string' },
  'changed-since': { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

function checkCommandLine({ values }: ParsedCommandArgs<typeof OPTIONS>) {
  const fromId = values['from-id'];
  if (fromId !== undefined && (fromId === '' || fromId.length > 64)) throw new UsageError('--from-id must be a legacy id (1 to 64 characters)');
  return {
    mapping: values.mapping,
    dryRun: values['dry-run'],
    batchSize: positiveInteger('batch-size', values['batch-size'], MAX_BATCH_SIZE) ?? DEFAULT_BATCH_SIZE,
    fromId,
    limit: positiveInteger('limit', values.limit),
    changedSince: parseTime(values['changed-since']),
    json: values.json,
  };
}

export async function main(argv: string[]): Promise<number> {
  const parsed = readCommandArgs(argv, { name: 'migrate', usage: USAGE, options: OPTIONS }, checkCommandLine);
  if (!parsed.ok) return parsed.exit;
  const args = parsed.args;

  const [{ ConfigError }, { createDatabase }, etl, { describeDatabaseError }, { fingerprintKey }, { legacyDatabaseUrl, loadMapping }] = await Promise.all([
    import('../../lib/config.ts'),
    import('../../lib/db.ts'),
    import('../etl/index.ts'),
    import('../../lib/safe-error.ts'),
    import('../directory/fingerprint.ts'),
    import('../mapping-format/index.ts'),
  ]);
  const {
    createIdpImportClient,
    createProgressReporter,
    formatMigrationReport,
    IdpImportFailure,
    loadMigrateConfig,
    migrateEtlStore,
    runMigration,
    totalDeadLettered,
  } = etl;
  let config: ReturnType<typeof loadMigrateConfig>;
  let mapping: ReturnType<typeof loadMapping>;
  try {
    config = loadMigrateConfig();
    mapping = loadMapping(args.mapping ?? config.LEGACY_MAPPING_FILE);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`migrate: ${error.message}`);
    return 78;
  }
  if (args.changedSince && !mapping.updatedAt) {
    console.error('migrate: --changed-since needs the mapping to name its updatedAt column (see legacy-adapter/mappings/)');
    return 2;
  }

  const log = (level: 'info' | 'warn', message: string) => process.stderr.write(`migrate: ${level === 'warn' ? 'warning: ' : ''}${message}\n`);
  const abort = new AbortController();
  let signalCode = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
    signalCode = signal === 'SIGINT' ? 130 : 143;
    log('info', `${signal}: stopping after the batch in flight (send it again to stop at once; the checkpoint makes either safe)`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let store: ReturnType<typeof createDatabase> | undefined;
  let legacy: ReturnType<typeof createDatabase> | undefined;
  try {
    store = createDatabase(config.LEGACY_ETL_DATABASE_URL, { pool: { min: 0, max: 2 } });
    legacy = createDatabase(legacyDatabaseUrl(config.LEGACY_DATABASE_URL, mapping), { pool: { min: 0, max: 2 } });
    // The ETL's own store: created on first use, even by a dry run (which writes nothing to it).
    await migrateEtlStore(store);
    const idp = createIdpImportClient({
      baseUrl: config.IDP_INTERNAL_URL,
      secret: config.IDP_INTERNAL_SECRET,
      timeoutMs: config.IDP_IMPORT_TIMEOUT_MS,
      log: (message) => log('warn', message),
    });
    const options: Parameters<typeof runMigration>[0] = {
      legacy,
      idp,
      etl: store,
      mapping,
      fingerprintKey: fingerprintKey(config),
      batchSize: args.batchSize,
      dryRun: args.dryRun,
      fromId: args.fromId,
      limit: args.limit,
      changedSince: args.changedSince,
      wrapIterations: config.LEGACY_WRAP_ITERATIONS,
      signal: abort.signal,
      log,
      progress: createProgressReporter({ tty: process.stdout.isTTY === true, terminal: process.stdout, log: process.stderr }),
    };
    log(
      'info',
      `${args.dryRun ? 'dry run of ' : ''}${args.changedSince ? `a delta pass (changed since ${args.changedSince.toISOString()})` : 'a full pass'} of ${mapping.table}, batches of ${args.batchSize}`,
    );
    const report = await runMigration(options);
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatMigrationReport(report));
    if (report.stopped) return signalCode || 143;
    return totalDeadLettered(report.counts) > 0 ? 3 : 0;
  } catch (error) {
    // knex puts the statement with its values (hashes) into its messages: only the driver's part is shown.
    console.error(`migrate: failed: ${error instanceof IdpImportFailure ? error.message : describeDatabaseError(error)}`);
    console.error('migrate: everything up to the last checkpoint is kept; run the same command again to resume');
    return 1;
  } finally {
    await Promise.allSettled([store?.destroy(), legacy?.destroy()]);
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
