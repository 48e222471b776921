import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadCheckpoint, runMigration, type MigrationReport } from '../../legacy-adapter/etl/index.ts';
import { mariadbProblem, MARIADB_ADMIN_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { createIdpStore, FINGERPRINT_KEY, generateUsers, idpState, insertLegacyUsers, mapping, spawnMigrate, TEST_WRAP_ITERATIONS } from './support.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { createDatabaseOfKind } from '../../scripts/support/databases.ts';
import { decodeReceiptAnswer, importUsers } from '../../idp/import/apply.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { migrate } from '../../lib/db.ts';

test('killed with SIGKILL mid-run and run again: the same final state as an uninterrupted run, no duplicates, counts for the whole pass', async (t) => {
  const problem = await mariadbProblem();
  if (problem) return skipLoudly(t, `MariaDB at ${MARIADB_ADMIN_URL}`, problem);
  const legacy = await createDatabaseOfKind('mysql', 'idm_etl_legacy');
  const uninterrupted = await createIdpStore();
  const killed = await createIdpStore();
  try {
    await createLegacyPhpSchema(legacy);
    const generated = generateUsers(10_000);
    await insertLegacyUsers(legacy.knex, generated);
    const good = generated.filter((u) => !u.deadLetter).length;
    const env = { ...killed.env, LEGACY_DATABASE_URL: legacy.url };

    await runMigration({
      legacy: legacy.knex,
      ...uninterrupted.target,
      mapping,
      fingerprintKey: FINGERPRINT_KEY,
      batchSize: 100,
      wrapIterations: TEST_WRAP_ITERATIONS,
    });

    // Small batches so the run lasts long enough to be killed between checkpoints.
    const first = spawnMigrate(['--batch-size', '50', '--json'], env);
    let exited = false;
    void first.done.then(() => (exited = true));
    for (;;) {
      const checkpoint = await loadCheckpoint(killed.etl, 'users').catch(() => undefined);
      if (checkpoint && Number(checkpoint.lastId) >= 1_000) break;
      if (exited) assert.fail(`the migrate command ended before it could be killed:\n${(await first.done).stderr}`);
      await sleep(10);
    }
    first.child.kill('SIGKILL');
    assert.equal((await first.done).code, 'SIGKILL');
    const atKill = await loadCheckpoint(killed.etl, 'users');
    assert.ok(atKill && atKill.state === 'running', 'the pass was under way');
    const doneAtKill = Number(atKill.lastId);
    assert.ok(doneAtKill >= 1_000 && doneAtKill < 10_000, `killed mid-run (checkpoint at ${doneAtKill})`);
    const landedAtKill = Number((await killed.knex('users').count({ n: '*' }))[0]?.n);
    assert.ok(landedAtKill > 0 && landedAtKill < good, `some users landed before the kill (${landedAtKill})`);

    // Resuming with another batch size is fine: the checkpoint is an id, not a batch number.
    const second = await spawnMigrate(['--batch-size', '250', '--json'], env).done;
    assert.equal(second.code, 3, `dead letters make the exit status 3\n${second.stderr}`);
    const report = JSON.parse(second.stdout) as MigrationReport;
    assert.equal(report.resumedAfter, String(doneAtKill));
    assert.equal(report.complete, true);
    // The pass's counts cover the killed run's committed batches and this one, each row once.
    assert.equal(report.counts.read, 10_000);
    assert.equal(report.counts.inserted, good);
    assert.equal(report.deadLetteredTotal, 10_000 - good);
    assert.equal(report.thisRun.read, 10_000 - doneAtKill);
    assert.match(second.stderr, /resuming the pass started .* after legacy id \d+/);
    assert.match(second.stderr, /rows read, [\d,]+ rows\/s, ETA/, 'plain progress lines when stdout is not a terminal');

    assert.deepEqual(await idpState(killed), await idpState(uninterrupted));

    // A finished pass is not resumed: the next run is a new full pass, which changes nothing.
    const third = await spawnMigrate(['--json'], env).done;
    assert.equal(third.code, 3);
    const again = JSON.parse(third.stdout) as MigrationReport;
    assert.equal(again.resumedAfter, null);
    assert.equal(again.counts.read, 10_000);
    assert.equal(again.counts.inserted, 0);
    assert.equal(again.counts.unchanged, good);
    assert.deepEqual(await idpState(killed), await idpState(uninterrupted));
  } finally {
    await Promise.all([legacy.drop(), uninterrupted.drop(), killed.drop()]);
  }
});

test('a batch the idp committed but whose answer never came back is sent again with the same key: the resumed pass, in bigger batches, counts each row once', async () => {
  const legacy = await createDatabaseOfKind('sqlite', 'idm_etl_legacy');
  const idp = await createIdpStore('sqlite');
  try {
    await createLegacyPhpSchema(legacy);
    const generated = generateUsers(100);
    await insertLegacyUsers(legacy.knex, generated);
    const options = { legacy: legacy.knex, etl: idp.etl, mapping, fingerprintKey: FINGERPRINT_KEY, wrapIterations: TEST_WRAP_ITERATIONS };
    // The real idp imports the third batch; the answer is lost on the way back, as when the
    // migrate process dies (or its request times out) while the idp commits.
    let calls = 0;
    const losesThirdAnswer = {
      async importUsers(request: Parameters<typeof idp.target.idp.importUsers>[0]) {
        const answer = await idp.target.idp.importUsers(request);
        if (++calls === 3) throw new Error('the answer was lost');
        return answer;
      },
    };
    await assert.rejects(runMigration({ ...options, idp: losesThirdAnswer, batchSize: 10 }), /the answer was lost/);
    const atLoss = await loadCheckpoint(idp.etl, 'users');
    assert.equal(atLoss?.lastId, '20', 'two batches recorded');
    assert.equal(Number((await idp.knex('users').count({ n: '*' }))[0]?.n), 30, 'the idp committed the third');

    const report = await runMigration({ ...options, idp: idp.target.idp, batchSize: 25 });
    assert.equal(report.resumedAfter, '20');
    assert.equal(report.complete, true);
    // Sent again as the same 10 rows, the third batch gets the idp's first answer back: its rows
    // count as inserted once, not as unchanged.
    assert.equal(report.counts.inserted, generated.filter((u) => !u.deadLetter).length);
    assert.equal(report.counts.unchanged, 0);
  } finally {
    await Promise.all([legacy.drop(), idp.drop()]);
  }
});

test('a receipt is stored deflated, and one stored as plain JSON by an older idp still answers its batch', async () => {
  const db = await createDatabaseOfKind('sqlite', 'idm_etl_idp');
  try {
    await migrate(db.knex, idpMigrations);
    const users = generateUsers(1_000)
      .filter((u) => !u.deadLetter)
      .map((u, i) => ({
        legacyId: String(u.row.user_id),
        username: u.row.user_login,
        email: u.row.user_email,
        name: null,
        active: true,
        passwordHash: `${i}`.padStart(32, 'a'),
        passwordSalt: null,
        passwordScheme: 'md5',
        passwordCandidates: ['md5'],
        passwordEncodings: ['utf8' as const],
        legacyFingerprint: null,
      }));
    const first = await importUsers(db.knex, users, { dryRun: false, wrapIterations: 0, receipt: { pass: 'p', batch: 'after=;rows=1000' } });
    const [stored] = (await db.knex('import_receipts').select('answer')) as { answer: string }[];
    assert.ok(stored && stored.answer.length < JSON.stringify(first).length / 5, `deflated (${stored?.answer.length} characters)`);
    assert.deepEqual(decodeReceiptAnswer(stored?.answer ?? ''), first);

    // An older idp's receipt, plain JSON: the batch sent again is answered from it, nothing written.
    const older = { results: users.map((u) => ({ legacyId: u.legacyId, ok: true, outcome: 'inserted', wrapped: false })), retriedRowByRow: null };
    await db
      .knex('import_receipts')
      .where('pass', 'p')
      .update({ batch: 'after=;rows=999', answer: JSON.stringify(older) });
    const again = await importUsers(db.knex, users, { dryRun: false, wrapIterations: 0, receipt: { pass: 'p', batch: 'after=;rows=999' } });
    assert.deepEqual(again, older);
  } finally {
    await db.drop();
  }
});
