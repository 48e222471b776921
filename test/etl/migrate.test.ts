import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEAD_LETTER_REASONS, listDeadLetters, runMigration, totalDeadLettered } from '../../legacy-adapter/etl/index.ts';
import { legacyFingerprint } from '../../legacy-adapter/directory/fingerprint.ts';
import { getScheme, pbkdf2Scheme } from '../../lib/passwords/index.ts';
import { mariadbProblem, MARIADB_ADMIN_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { createIdpStore, FINGERPRINT_KEY, generateUsers, insertLegacyUsers, loginServiceFor, mapping } from './support.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { createDatabaseOfKind } from '../../scripts/support/databases.ts';

test('10,000 legacy rows of mixed schemes: every good row lands, every broken row is dead-lettered with its reason, the counts add up, and the users log in', async (t) => {
  const problem = await mariadbProblem();
  if (problem) return skipLoudly(t, `MariaDB at ${MARIADB_ADMIN_URL}`, problem);
  const legacy = await createDatabaseOfKind('mysql', 'idm_etl_legacy');
  const idp = await createIdpStore();
  try {
    await createLegacyPhpSchema(legacy);
    const generated = generateUsers(10_000);
    await insertLegacyUsers(legacy.knex, generated);
    const good = generated.filter((u) => !u.deadLetter);
    const broken = generated.filter((u) => u.deadLetter);
    assert.ok(broken.length >= 30 && good.length > 9_900, 'the population has a sprinkling of broken rows');
    assert.deepEqual(new Set(broken.map((u) => u.deadLetter)), new Set(['no_login', 'invalid_email', 'email_taken', 'unrecognised_hash']));

    // Copied as they are (wrapping off): what the idp's login must verify of a raw legacy hash.
    // Wrapping at import has its own suite (wrap.test.ts).
    const report = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY, batchSize: 500, wrapIterations: 0 });
    const { counts } = report;
    assert.equal(counts.read, 10_000);
    assert.equal(counts.inserted, good.length);
    assert.equal(counts.updated + counts.unchanged + counts.alreadyUpgraded, 0);
    for (const reason of DEAD_LETTER_REASONS) {
      assert.equal(counts.deadLettered[reason], broken.filter((u) => u.deadLetter === reason).length, reason);
    }
    assert.equal(counts.inserted + totalDeadLettered(counts), counts.read, 'every row read is accounted for');
    assert.equal(report.complete, true);
    assert.equal(report.lastId, '10000');
    assert.equal(report.thisRun.batches, 20);
    // Reported for bench:migrate's slope (figures, not asserted): one mean per end of the run.
    assert.equal(typeof report.thisRun.msPerBatch.start, 'number');
    assert.equal(typeof report.thisRun.msPerBatch.end, 'number');
    assert.equal(report.deadLettersOutstanding, broken.length);

    // Every broken row, with the right reason, and nothing else.
    const letters = await listDeadLetters(idp.etl, 'users');
    assert.deepEqual(new Map(letters.map((l) => [l.legacyId, l.reason])), new Map(broken.map((u) => [String(u.row.user_id), u.deadLetter])));
    const takenDetail = letters.find((l) => l.reason === 'email_taken')?.detail ?? '';
    assert.match(takenDetail, /^held by legacy id \d+$/);
    for (const letter of letters) {
      const row = generated[Number(letter.legacyId) - 1]!.row;
      assert.ok(!letter.detail?.includes(row.user_pass) || row.user_pass.trim() === '', 'no hash in a dead letter');
    }

    // Every good row, as the mapping says, with what the idp's login needs to verify it later.
    const stored = new Map(((await idp.knex('users').select()) as Record<string, unknown>[]).map((r) => [String(r.legacy_id), r]));
    assert.equal(stored.size, good.length);
    for (const { row, scheme } of good) {
      const user = stored.get(String(row.user_id));
      assert.ok(user, `legacy id ${row.user_id} landed`);
      assert.equal(user.username, row.user_login);
      assert.equal(user.email, row.user_email);
      assert.equal(user.email_normalized, row.user_email.toLowerCase());
      assert.equal(user.name, row.display_name);
      assert.equal(Boolean(Number(user.active)), row.is_active === 1);
      assert.equal(user.password_hash, row.user_pass);
      // The monolith concatenates a NULL salt as '': the idp stores that, so its login does the same.
      assert.equal(user.password_salt, row.user_salt ?? '');
      assert.equal(user.password_scheme, scheme);
      assert.equal(user.password_candidates, getScheme(scheme)?.kind === 'bare-hex' ? mapping.passwords.hexCandidates.join(',') : null);
      assert.equal(user.password_encodings, 'utf8');
      assert.equal(user.legacy_fingerprint, legacyFingerprint(FINGERPRINT_KEY, row.user_pass, row.user_salt));
    }

    // One user of each scheme, by login and by e-mail in another case, through the idp's own
    // just-in-time login (the legacy-adapter is not even running): verified and upgraded.
    const { login, users } = loginServiceFor(idp.knex);
    const bySchemeActive = new Map<string, (typeof good)[number]>();
    for (const u of good) if (u.row.is_active === 1 && !bySchemeActive.has(u.scheme)) bySchemeActive.set(u.scheme, u);
    assert.ok(bySchemeActive.size >= 6, [...bySchemeActive.keys()].join(', '));
    for (const [scheme, u] of bySchemeActive) {
      assert.equal((await login.login(u.row.user_login, `${u.password}!`)).ok, false, `${scheme}: a wrong password fails`);
      assert.equal((await login.login(u.row.user_email.toUpperCase(), u.password)).ok, true, `${scheme}: logs in`);
      const after = await users.findByLegacyId(String(u.row.user_id));
      assert.ok(after?.passwordHash && pbkdf2Scheme.identify(after.passwordHash), `${scheme}: upgraded at login`);
    }
    const inactive = good.find((u) => u.row.is_active === 0)!;
    assert.equal((await login.login(inactive.row.user_login, inactive.password)).ok, false, 'an inactive legacy user stays locked out');

    // Run again: nothing new, the upgraded users keep their PBKDF2 hash, the broken rows stay dead-lettered.
    const again = await runMigration({ legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY, batchSize: 500 });
    assert.equal(again.counts.read, 10_000);
    assert.equal(again.counts.inserted, 0);
    assert.equal(again.counts.updated, 0);
    assert.equal(again.counts.alreadyUpgraded, bySchemeActive.size);
    assert.equal(again.counts.unchanged, good.length - bySchemeActive.size);
    assert.equal(totalDeadLettered(again.counts), broken.length);
    assert.equal(
      await idp
        .knex('users')
        .count({ n: '*' })
        .then((r) => Number(r[0]?.n)),
      good.length,
      'no duplicates',
    );
    for (const [scheme, u] of bySchemeActive) {
      assert.ok(pbkdf2Scheme.identify((await users.findByLegacyId(String(u.row.user_id)))?.passwordHash ?? ''), `${scheme}: still PBKDF2`);
      assert.equal((await login.login(u.row.user_login, u.password)).ok, true, `${scheme}: still logs in`);
    }
  } finally {
    await Promise.all([legacy.drop(), idp.drop()]);
  }
});
