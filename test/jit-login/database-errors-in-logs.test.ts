// Failed statements carry what they were bound with (knex's message, mysql2's `sql` and
// `sqlMessage`); none of it may reach a log. Real failing statements on both engines.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { describeDatabaseError } from '../../lib/safe-error.ts';
import { createLogger } from '../../lib/logger.ts';
import { forEachDatabase, type TestDatabase } from '../../scripts/support/databases.ts';
import { startServiceProcess } from '../../scripts/support/processes.ts';
import { insertLegacyRows, legacyIdOf, outputOnceLogged } from './support.ts';
import { vector } from '../../scripts/support/legacy-hashes.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { legacyRow } from '../../scripts/support/legacy-users.ts';
import { ADAPTER_SECRET, LEGACY_PHP_MAPPING } from '../../scripts/support/legacy-adapter.ts';

/** A logger like every service's, writing into a string. */
function capturedLogger(): { logger: ReturnType<typeof createLogger>; text(): string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: createLogger('test', 'info', sink), text: () => text };
}

async function failure(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  return assert.fail('the statement was expected to fail');
}

test('a statement failing on its bound value leaves the value out of the logged error, with its code kept', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await db.knex.schema.createTable('accounts', (table) => {
      table.string('email', 190).unique();
    });
    const bound = 'recognisable-bound-value@example.com';
    await db.knex('accounts').insert({ email: bound });
    const error = await failure(() => db.knex('accounts').insert({ email: bound }));
    // Through the very serializer every service logs with.
    const { logger, text } = capturedLogger();
    logger.error({ err: error, other: { cause: error } }, 'insert failed');
    logger.error(error, 'as the first argument');
    logger.error({ err: new Error('wrapped', { cause: error }) }, 'as a cause');
    // Keeping the error's code must not let an authorization code through.
    logger.info({ code: 'an-authorization-code', query: { code: 'an-authorization-code' } }, 'a callback');
    const logged = text();
    assert.ok(!logged.includes('recognisable-bound-value'), logged);
    assert.ok(!logged.includes('an-authorization-code'), logged);
    assert.match(logged, db.kind === 'mysql' ? /"code":"ER_DUP_ENTRY".*"errno":1062.*"sqlState":"23000"/ : /"code":"SQLITE_CONSTRAINT_UNIQUE"/);
    assert.ok(!describeDatabaseError(error).includes('recognisable-bound-value'), describeDatabaseError(error));
  });
});

// Makes the legacy table refuse any bcrypt hash written into it, as a failing dual-write.
const REFUSE_BCRYPT: Record<TestDatabase['kind'], string> = {
  mysql: "alter table users add constraint no_bcrypt check (user_pass not like '$2y$%')",
  sqlite: "create trigger no_bcrypt before update of user_pass on users when new.user_pass like '$2y$%' begin select raise(abort, 'no bcrypt here'); end",
};

test("a failed dual-write logs the database's error without the hash it was writing", async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await createLegacyPhpSchema(db);
    await insertLegacyRows(db.knex, [legacyRow('alice', vector('md5').hash)]);
    await db.knex.raw(REFUSE_BCRYPT[db.kind]);
    const adapter = await startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', {
      LOG_LEVEL: 'info',
      LEGACY_DATABASE_URL: db.url,
      LEGACY_MAPPING_FILE: LEGACY_PHP_MAPPING,
      LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
    });
    try {
      const hash = vector('bcrypt-2y').hash;
      const res = await fetch(`${adapter.url}/internal/v1/users/password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADAPTER_SECRET}` },
        body: JSON.stringify({ eventId: crypto.randomUUID(), sequence: 1, legacyId: await legacyIdOf(db.knex, 'alice'), hash }),
      });
      assert.equal(res.status, 503);
      const logged = await outputOnceLogged(adapter, /legacy database unavailable/);
      assert.ok(!logged.includes(hash.slice(7)), logged);
    } finally {
      await adapter.stop();
    }
  });
});
