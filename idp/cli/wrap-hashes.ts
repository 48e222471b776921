/**
 * `idm wrap-hashes`: the one-off pass that wraps, in PBKDF2, every cheap legacy hash the batch
 * migration copied before it wrapped at import (idp/import/wrap-pass.ts). It touches only the
 * idp's own tables. docs/migration.md, "Batch migration".
 *
 * Exit status: 0 done; 1 failed (run again: it resumes); 2 bad arguments; 78 bad configuration;
 * 130/143 stopped by SIGINT/SIGTERM after the batch in flight.
 */
import { positiveInteger, readCommandArgs } from '../../lib/cli/args.ts';
import { DEFAULT_WRAP_BATCH_SIZE as DEFAULT_BATCH_SIZE, MAX_WRAP_BATCH_SIZE as MAX_BATCH_SIZE } from '../import/wrap-pass.ts';

const USAGE = `usage: idm wrap-hashes [--batch-size <n>] [--limit <n>] [--count] [--json]
       npm run wrap:hashes -- [options]   (from the sources, with the heap flags it is measured with)

Wraps every md5, salted digest, DES and md5 crypt and phpass hash in the idp's store
(DATABASE_URL) in PBKDF2 with LEGACY_WRAP_ITERATIONS iterations (default 10000), on every core.
Resumes from its checkpoint after a kill; safe to run again at any time.

  --batch-size <n>   users per read and per transaction (default ${DEFAULT_BATCH_SIZE}, at most ${MAX_BATCH_SIZE})
  --limit <n>        read at most n users in this run (the next run goes on)
  --count            only count the weak hashes left, by scheme; change nothing
  --json             print the report as JSON
  -h, --help         this text`;

export async function main(argv: string[]): Promise<number> {
  const parsed = readCommandArgs(
    argv,
    {
      name: 'wrap-hashes',
      usage: USAGE,
      options: {
        'batch-size': { type: 'string' },
        limit: { type: 'string' },
        count: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    },
    ({ values }) => ({
      ...values,
      batchSize: positiveInteger('batch-size', values['batch-size'], MAX_BATCH_SIZE),
      limit: positiveInteger('limit', values.limit),
    }),
  );
  if (!parsed.ok) return parsed.exit;
  const args = parsed.args;
  const [{ idpMigrations }, { ConfigError }, { createDatabase, migrate }, { loadWrapConfig }, { countWeakHashes, runWrapPass }, { describeDatabaseError }] =
    await Promise.all([
      import('../store/migrations/index.ts'),
      import('../../lib/config.ts'),
      import('../../lib/db.ts'),
      import('../import/config.ts'),
      import('../import/wrap-pass.ts'),
      import('../../lib/safe-error.ts'),
    ]);
  let config;
  try {
    config = loadWrapConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`wrap:hashes: ${error.message}`);
    return 78;
  }
  if (config.LEGACY_WRAP_ITERATIONS === 0 && !args.count) {
    console.error('wrap:hashes: LEGACY_WRAP_ITERATIONS is 0 (wrapping off); set it to 1000 or more');
    return 78;
  }
  const abort = new AbortController();
  let signalCode = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
    signalCode = signal === 'SIGINT' ? 130 : 143;
    process.stderr.write(`wrap:hashes: ${signal}: stopping after the batch in flight\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const idp = createDatabase(config.DATABASE_URL, { pool: { min: 0, max: 2 } });
  try {
    if (args.count) {
      const weak = await countWeakHashes(idp);
      process.stdout.write(
        args.json
          ? `${JSON.stringify({ weakRemaining: weak })}\n`
          : `weak hashes left: ${Object.values(weak).reduce((a, b) => a + b, 0)} ${JSON.stringify(weak)}\n`,
      );
      return 0;
    }
    await migrate(idp, idpMigrations);
    const report = await runWrapPass({
      idp,
      iterations: config.LEGACY_WRAP_ITERATIONS,
      batchSize: args.batchSize,
      limit: args.limit,
      signal: abort.signal,
      log: (message) => process.stderr.write(`wrap:hashes: ${message}\n`),
    });
    if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      const left = Object.values(report.weakRemaining).reduce((a, b) => a + b, 0);
      const state = report.complete ? 'complete' : 'partial (run again to go on)';
      process.stdout.write(
        `wrap:hashes: ${state}; wrapped ${report.counts.wrapped} of ${report.counts.read} users read (${report.counts.skipped} left: changed meanwhile or not wrappable); ` +
          `this run ${report.thisRun.read} users at ${report.thisRun.rowsPerSecond}/s, ${report.thisRun.wrappedPerSecond} wrapped/s (i=${report.iterations}); weak hashes left: ${left}\n`,
      );
    }
    return report.stopped ? signalCode || 143 : 0;
  } catch (error) {
    console.error(`wrap:hashes: failed: ${describeDatabaseError(error)}; run the same command again to resume`);
    return 1;
  } finally {
    await idp.destroy();
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
