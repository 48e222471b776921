import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listDeadLetters, runMigration, type MigrationReport } from '../../legacy-adapter/etl/index.ts';
import { createDatabase } from '../../lib/db.ts';
import { forEachDatabase, mariadbProblem, MARIADB_ADMIN_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { createIdpStore, FINGERPRINT_KEY, generateUsers, idpState, insertLegacyUsers, mapping, spawnMigrate, TEST_WRAP_ITERATIONS } from './support.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { createDatabaseOfKind } from '../../scripts/support/databases.ts';

test('a batch with a row the idp store refuses is rolled back and retried row by row: the other rows land, that one is dead-lettered', async (t) => {
  const problem = await mariadbProblem();
  if (problem) return skipLoudly(t, `MariaDB at ${MARIADB_ADMIN_URL}`, problem);
  const legacy = await createDatabaseOfKind('mysql', 'idm_etl_legacy');
  const idp = await createIdpStore();
  try {
    await createLegacyPhpSchema(legacy);
    // A legacy schema that allows longer display names than the idp's column (250).
    await legacy.knex.raw('ALTER TABLE users MODIFY display_name TEXT NOT NULL');
    const generated = generateUsers(30);
    const tooLong = generated[14]!;
    tooLong.row.display_name = 'N'.repeat(300);
    await insertLegacyUsers(legacy.knex, generated);

    const warnings: string[] = [];
    const report = await runMigration({
      legacy: legacy.knex,
      ...idp.target,
      mapping,
      fingerprintKey: FINGERPRINT_KEY,
      batchSize: 10,
      wrapIterations: TEST_WRAP_ITERATIONS,
      log: (_level, message) => warnings.push(message),
    });
    assert.equal(report.thisRun.batchesRetriedRowByRow, 1, 'only the batch with the bad row was retried');
    assert.equal(report.counts.read, 30);
    assert.equal(report.counts.inserted, 29);
    assert.equal(report.counts.deadLettered.write_failed, 1);
    assert.match(warnings.join('\n'), /batch after legacy id 10 failed .*retrying its 10 rows one by one/);

    const landed = ((await idp.knex('users').select('legacy_id')) as { legacy_id: string }[]).map((r) => Number(r.legacy_id)).sort((a, b) => a - b);
    assert.deepEqual(
      landed,
      generated.map((u) => u.row.user_id).filter((id) => id !== tooLong.row.user_id),
    );
    const [letter, ...others] = await listDeadLetters(idp.etl, 'users');
    assert.equal(others.length, 0);
    assert.equal(letter?.legacyId, String(tooLong.row.user_id));
    assert.equal(letter?.reason, 'write_failed');
    assert.match(letter?.detail ?? '', /ER_DATA_TOO_LONG/);
    assert.ok(!letter?.detail?.includes(tooLong.row.user_pass), 'the detail never quotes the statement');

    // Fixed on the legacy side, the next pass copies it and clears its dead letter.
    await legacy.knex('users').where('user_id', tooLong.row.user_id).update({ display_name: 'Fixed' });
    const again = await runMigration({
      legacy: legacy.knex,
      ...idp.target,
      mapping,
      fingerprintKey: FINGERPRINT_KEY,
      batchSize: 10,
      wrapIterations: TEST_WRAP_ITERATIONS,
    });
    assert.deepEqual([again.counts.inserted, again.counts.unchanged, again.deadLetteredTotal, again.deadLettersOutstanding], [1, 29, 0, 0]);
  } finally {
    await Promise.all([legacy.drop(), idp.drop()]);
  }
});

test('the legacy site keeps working during a run: a concurrent writer to the legacy table is never blocked', async (t) => {
  const problem = await mariadbProblem();
  if (problem) return skipLoudly(t, `MariaDB at ${MARIADB_ADMIN_URL}`, problem);
  const legacy = await createDatabaseOfKind('mysql', 'idm_etl_legacy');
  const idp = await createIdpStore();
  // The PHP site's own connection: autocommitted single-row writes, as its pages do them.
  const site = createDatabase(legacy.url, { pool: { min: 1, max: 1 } });
  try {
    await createLegacyPhpSchema(legacy);
    await insertLegacyUsers(legacy.knex, generateUsers(6_000));
    let running = true;
    const latencies: number[] = [];
    const errors: unknown[] = [];
    const writer = (async () => {
      for (let n = 0; running; n++) {
        const started = performance.now();
        try {
          // Sign-ups after the end of the table, and password changes in the rows being read.
          if (n % 2 === 0)
            await site('users').insert({
              user_login: `signup${n}`,
              user_email: `signup${n}@example.test`,
              user_pass: 'd41d8cd98f00b204e9800998ecf8427e',
              display_name: `Signup ${n}`,
            });
          else
            await site('users')
              .where('user_id', 1 + ((n * 37) % 6_000))
              .update({ display_name: `Renamed ${n}`, updated_at: site.raw('UTC_TIMESTAMP()') });
        } catch (error) {
          errors.push(error);
        }
        latencies.push(performance.now() - started);
      }
    })();
    // Small batches: many reads interleaved with the writer's commits.
    const report = await runMigration({
      legacy: legacy.knex,
      ...idp.target,
      mapping,
      fingerprintKey: FINGERPRINT_KEY,
      batchSize: 100,
      wrapIterations: TEST_WRAP_ITERATIONS,
    }).finally(() => (running = false));
    await writer;
    assert.deepEqual(errors, [], 'every write of the legacy site succeeded');
    assert.ok(latencies.length >= 20, `the site wrote all along the run (${latencies.length} writes)`);
    const worst = Math.max(...latencies);
    t.diagnostic(`legacy writer: ${latencies.length} writes during the run, max latency ${worst.toFixed(1)} ms`);
    // A sanity bound far below InnoDB's lock wait timeout (50 s): no write ever waited on the migration.
    assert.ok(worst < 5_000, `max write latency ${worst} ms`);
    assert.ok(report.counts.read >= 6_000);

    // A second pass picks up what the site wrote meanwhile: the idp matches the legacy table.
    const after = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY, wrapIterations: TEST_WRAP_ITERATIONS });
    const legacyRows = Number((await legacy.knex('users').count({ n: '*' }))[0]?.n);
    assert.equal(after.counts.read, legacyRows);
    const renamed = (await legacy.knex('users').where('display_name', 'like', 'Renamed %').select('user_id', 'display_name')) as {
      user_id: number;
      display_name: string;
    }[];
    for (const row of renamed) {
      const user = await idp.knex('users').where('legacy_id', String(row.user_id)).first('name');
      if (user) assert.equal(user.name, row.display_name);
    }
  } finally {
    await site.destroy();
    await Promise.all([legacy.drop(), idp.drop()]);
  }
});

test('--dry-run writes nothing; --from-id and --limit take a slice and the next run goes on from the checkpoint', async (t) => {
  const problem = await mariadbProblem();
  if (problem) return skipLoudly(t, `MariaDB at ${MARIADB_ADMIN_URL}`, problem);
  const legacy = await createDatabaseOfKind('mysql', 'idm_etl_legacy');
  const idp = await createIdpStore();
  try {
    await createLegacyPhpSchema(legacy);
    const generated = generateUsers(300);
    await insertLegacyUsers(legacy.knex, generated);
    const env = { ...idp.env, LEGACY_DATABASE_URL: legacy.url };

    const dry = await spawnMigrate(['--dry-run', '--json', '--batch-size', '64'], env).done;
    assert.equal(dry.code, 3, `a dry run reports the rows it would dead-letter\n${dry.stderr}`);
    const dryReport = JSON.parse(dry.stdout) as MigrationReport;
    assert.equal(dryReport.dryRun, true);
    assert.equal(dryReport.counts.read, 300);
    assert.equal(dryReport.counts.inserted, generated.filter((u) => !u.deadLetter).length);
    assert.equal(dryReport.deadLetteredTotal, generated.filter((u) => u.deadLetter).length);
    assert.deepEqual(await idpState(idp), { users: [], deadLetters: [] }, 'nothing written');
    assert.equal(Number((await idp.etl('legacy_etl_checkpoints').count({ n: '*' }))[0]?.n), 0, 'no checkpoint either');

    const slice = await spawnMigrate(['--from-id', '101', '--limit', '50', '--json'], env).done;
    const sliceReport = JSON.parse(slice.stdout) as MigrationReport;
    assert.deepEqual([sliceReport.counts.read, sliceReport.lastId, sliceReport.complete], [50, '150', false]);
    const ids = ((await idp.knex('users').select('legacy_id')) as { legacy_id: string }[]).map((r) => Number(r.legacy_id));
    assert.ok(
      ids.every((id) => id >= 101 && id <= 150),
      'only ids 101..150',
    );

    const rest = await spawnMigrate(['--json'], env).done;
    const restReport = JSON.parse(rest.stdout) as MigrationReport;
    assert.equal(restReport.resumedAfter, '150');
    assert.deepEqual([restReport.thisRun.read, restReport.counts.read, restReport.complete], [150, 200, true]);
    assert.equal(rest.stdout.includes('\r'), false, 'no progress bar when stdout is not a terminal');

    // A human report, without --json.
    const human = await spawnMigrate([], env).done;
    assert.match(human.stdout, /^migrate users: complete, full pass/);
    assert.match(human.stdout, /already upgraded\s+0/);
    assert.match(human.stdout, /dead-lettered\s+\d+\n\s+no_login/);
  } finally {
    await Promise.all([legacy.drop(), idp.drop()]);
  }
});

test('the migrate command refuses bad arguments (2) and a bad configuration or mapping (78) before touching anything', async () => {
  const env = { LEGACY_ETL_DATABASE_URL: 'sqlite::memory:', LEGACY_DATABASE_URL: 'sqlite::memory:' };
  for (const args of [
    ['--batch-size', '0'],
    ['--batch-size', '20000'],
    ['--limit', 'ten'],
    ['--changed-since', 'last tuesday'],
    ['--changed-since', '2024-05-01T10:00:00'],
    ['--frobnicate'],
    ['--from-id', ''],
  ]) {
    const run = await spawnMigrate(args, env).done;
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /usage: idm migrate users/);
  }
  const noMapping = await spawnMigrate(['--mapping', 'no/such/mapping.yaml'], env).done;
  assert.equal(noMapping.code, 78);
  assert.match(noMapping.stderr, /no\/such\/mapping\.yaml: cannot read the mapping file/);
  const badUrl = await spawnMigrate([], { LEGACY_ETL_DATABASE_URL: 'postgres://x' }).done;
  assert.equal(badUrl.code, 78);
  assert.match(badUrl.stderr, /LEGACY_ETL_DATABASE_URL/);
  const production = await spawnMigrate([], { ...env, NODE_ENV: 'production', LEGACY_ADAPTER_SECRET: 'short' }).done;
  assert.equal(production.code, 78, 'production refuses a weak fingerprint secret');
  const help = await spawnMigrate(['--help'], env).done;
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--changed-since/);
});

test('the same pass on the embedded default (SQLite on both sides) and on MariaDB', async (t) => {
  await forEachDatabase(t, async (_t, legacy) => {
    const idp = await createIdpStore(legacy.kind);
    try {
      await createLegacyPhpSchema(legacy);
      const generated = generateUsers(600);
      await insertLegacyUsers(legacy.knex, generated);
      const run = await spawnMigrate(['--json', '--batch-size', '128'], { ...idp.env, LEGACY_DATABASE_URL: legacy.url }).done;
      assert.equal(run.code, 3, run.stderr);
      const report = JSON.parse(run.stdout) as MigrationReport;
      assert.equal(report.counts.inserted, generated.filter((u) => !u.deadLetter).length);
      assert.equal(report.deadLetteredTotal, generated.filter((u) => u.deadLetter).length);
      const state = await idpState(idp);
      assert.equal(state.users.length, report.counts.inserted);
      assert.equal(state.deadLetters.length, report.deadLetteredTotal);
    } finally {
      await idp.drop();
    }
  });
});
