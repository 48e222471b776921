// Issue 15: what the idp's bulk import asks its database per batch does not grow with the table.
// The same statements for a batch whether the users table is empty or holds thousands, and each
// of them reaches its rows through an index (EXPLAIN), never a scan of a table that grows.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { ImportUser } from '../../contracts/idp-import.ts';
import { importUsers } from '../../idp/import/apply.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { migrate, type Knex } from '../../lib/db.ts';
import { forEachDatabase } from '../../scripts/support/databases.ts';

const GROWING = ['users', 'legacy_outbox', 'import_receipts'];

function importUser(i: number, name = `User ${i}`): ImportUser {
  return {
    legacyId: String(i),
    username: `user${i}`,
    email: `user${i}@example.test`,
    name,
    active: true,
    passwordHash: createHash('md5').update(`pw${i}`).digest('hex'),
    passwordSalt: null,
    passwordScheme: 'md5',
    passwordCandidates: ['md5'],
    passwordEncodings: ['utf8'],
    legacyFingerprint: `fp-${i}`,
  };
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

/** The statements (with their bindings) one import of `users` sends, in order. */
async function statementsOf(knex: Knex, users: ImportUser[], pass: string): Promise<{ sql: string; bindings: unknown[] }[]> {
  const seen: { sql: string; bindings: unknown[] }[] = [];
  const listener = (q: { sql: string; bindings?: unknown[] }) => seen.push({ sql: q.sql, bindings: q.bindings ?? [] });
  knex.on('query', listener);
  try {
    const outcome = await importUsers(knex, users, { dryRun: false, wrapIterations: 0, receipt: { pass, batch: `after=${users[0]?.legacyId}` } });
    assert.equal(outcome.retriedRowByRow, null);
  } finally {
    knex.off('query', listener);
  }
  return seen;
}

/** Whether the database would read a statement's rows through an index, for every growing table it names. */
async function usesIndexes(knex: Knex, kind: string, statement: { sql: string; bindings: unknown[] }): Promise<string[]> {
  const scans: string[] = [];
  if (kind === 'sqlite') {
    const plan = (await knex.raw(`EXPLAIN QUERY PLAN ${statement.sql}`, statement.bindings as Knex.RawBinding[])) as { detail: string }[];
    for (const row of plan) {
      const table = /^SCAN (\w+)/.exec(row.detail)?.[1];
      if (table && GROWING.includes(table)) scans.push(`${table}: ${row.detail}`);
    }
    return scans;
  }
  const [plan] = (await knex.raw(`EXPLAIN ${statement.sql}`, statement.bindings as Knex.RawBinding[])) as [
    { table: string; type: string; key: string | null }[],
  ];
  for (const row of plan) if (GROWING.includes(row.table) && (row.type === 'ALL' || row.key === null)) scans.push(`${row.table}: type ${row.type}`);
  return scans;
}

const shapeOf = (statements: { sql: string }[]) => statements.map((s) => s.sql.replace(/\s+/g, ' ').slice(0, 60));

test("the bulk import's statements per batch are the same at any table size, and each goes through an index", async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const batch = 100;
    const first = await statementsOf(
      db.knex,
      range(1, batch).map((i) => importUser(i)),
      'lookups',
    );
    // The table grows by thousands of users (in import batches, as the migration writes them).
    for (let from = batch + 1; from <= 6_000; from += 1_000)
      await importUsers(
        db.knex,
        range(from, 1_000).map((i) => importUser(i)),
        { dryRun: false, wrapIterations: 0 },
      );
    assert.equal(Number((await db.knex('users').count({ n: '*' }))[0]?.n), 6_100);
    // The dual-write outbox grows too: an echoed password change for each of the first 3,000 users.
    const ids = (await db.knex('users').orderBy('legacy_id').limit(3_000).select('id', 'legacy_id')) as { id: string; legacy_id: string }[];
    for (let i = 0; i < ids.length; i += 500) {
      await db.knex('legacy_outbox').insert(
        ids.slice(i, i + 500).map((u, j) => ({
          event_id: `event-${i + j}`,
          kind: 'password_changed',
          user_id: u.id,
          legacy_id: u.legacy_id,
          status: 'relayed',
          created_at: 0,
          next_attempt_at: 0,
          legacy_fingerprint: `fp-echo-${u.legacy_id}`,
        })),
      );
    }
    if (db.kind === 'mysql') await db.knex.raw('ANALYZE TABLE users, legacy_outbox');
    const later = await statementsOf(
      db.knex,
      range(10_001, batch).map((i) => importUser(i)),
      'lookups',
    );
    assert.deepEqual(shapeOf(later), shapeOf(first), 'the same statements for a batch of new users, 6,000 rows later');
    const selects = later.filter((s) => /^select/i.test(s.sql.trim()));
    assert.ok(selects.length <= 4, `looked up set-at-a-time, not per user (${selects.length} selects for ${batch} users)`);

    // A batch of users already there, renamed on the legacy side: their rows are updated by id,
    // and the dual-write echoes are looked up for them.
    const renamed = await statementsOf(
      db.knex,
      range(2_001, batch).map((i) => importUser(i, `Renamed ${i}`)),
      'lookups',
    );
    assert.ok(renamed.filter((s) => /^update/i.test(s.sql)).length === batch, 'one update per changed user, by its id');
    assert.ok(
      renamed.some((s) => /legacy_outbox/.test(s.sql)),
      'the dual-write echoes are looked up',
    );

    for (const statement of [...later, ...renamed].filter((s) => /^(select|update)/i.test(s.sql.trim()))) {
      assert.deepEqual(await usesIndexes(db.knex, db.kind, statement), [], statement.sql.slice(0, 120));
    }
  });
});
