// Issue 15: new users get time-ordered ids (UUIDv7), so the batch migration appends to the
// users table's primary key; ids written before are never changed (they are tokens' `sub`).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { runMigration } from '../../legacy-adapter/etl/index.ts';
import { uuidv7 } from '../../lib/uuidv7.ts';
import { forEachDatabase } from '../../scripts/support/databases.ts';
import { createIdpStore, FINGERPRINT_KEY, generateUsers, insertLegacyUsers, loginServiceFor, mapping, TEST_WRAP_ITERATIONS } from './support.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millisOf = (id: string) => Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);

test('uuidv7: RFC 9562 version 7, its time in the first 48 bits, strictly increasing within a millisecond and across a clock stepped back', () => {
  const now = Date.UTC(2026, 0, 1);
  const ids = Array.from({ length: 10_000 }, () => uuidv7(now));
  for (const id of ids) assert.match(id, V7);
  assert.equal(millisOf(ids[0] ?? ''), now);
  for (let i = 1; i < ids.length; i++) assert.ok((ids[i - 1] ?? '') < (ids[i] ?? ''), `id ${i} sorts after id ${i - 1}`);
  const afterStepBack = uuidv7(now - 60_000);
  assert.ok((ids.at(-1) ?? '') < afterStepBack, 'a clock stepped back never sends ids back');
  assert.ok(millisOf(uuidv7(now + 5)) >= now + 5);
  // The random bits are drawn in blocks: never the same ones twice across many blocks.
  const tails = new Set(ids.map((id) => id.slice(-12)));
  assert.equal(tails.size, ids.length, 'every id has random bits of its own');
});

test('the migration gives new users time-ordered ids and keeps the ids (the sub) of users copied before', async (t) => {
  await forEachDatabase(t, async (_t, legacy) => {
    const idp = await createIdpStore(legacy.kind);
    try {
      await createLegacyPhpSchema(legacy);
      const generated = generateUsers(300);
      await insertLegacyUsers(legacy.knex, generated);
      const options = { legacy: legacy.knex, ...idp.target, mapping, fingerprintKey: FINGERPRINT_KEY, wrapIterations: TEST_WRAP_ITERATIONS, batchSize: 40 };
      await runMigration({ ...options, limit: 50 });
      // The first 50 as a release before this one copied them: random UUIDv4 subjects.
      const before = new Map<string, string>();
      for (const row of (await idp.knex('users').select('legacy_id')) as { legacy_id: string }[]) {
        const id = randomUUID();
        await idp.knex('users').where('legacy_id', row.legacy_id).update({ id });
        before.set(row.legacy_id, id);
      }
      await legacy.knex('users').where('user_id', '<=', 50).update({ display_name: 'Renamed' });

      // From the start again (the limited run left a checkpoint after legacy id 50).
      const report = await runMigration({ ...options, fromId: '1' });
      assert.equal(report.complete, true);
      assert.equal(report.counts.updated, before.size, 'the earlier users were updated in place');
      const rows = (await idp.knex('users').select('id', 'legacy_id', 'name')) as { id: string; legacy_id: string; name: string }[];
      const newRows = rows.filter((r) => !before.has(r.legacy_id)).sort((a, b) => Number(a.legacy_id) - Number(b.legacy_id));
      for (const r of rows.filter((x) => before.has(x.legacy_id))) {
        assert.equal(r.id, before.get(r.legacy_id), `legacy id ${r.legacy_id} keeps its subject`);
        assert.match(r.id, V4);
        assert.equal(r.name, 'Renamed');
      }
      assert.ok(newRows.length > 200);
      for (const [i, r] of newRows.entries()) {
        assert.match(r.id, V7, `legacy id ${r.legacy_id}`);
        // Inserted in legacy id order, batch after batch: the primary key only ever grows.
        if (i > 0) assert.ok((newRows[i - 1]?.id ?? '') < r.id, `legacy id ${r.legacy_id} appends`);
      }

      // A login upgrades the hash of a user copied before and leaves the subject alone.
      const old = generated.find((u) => !u.deadLetter && u.row.user_id <= 50 && u.row.is_active === 1) ?? assert.fail();
      const { login, users } = loginServiceFor(idp.knex);
      const outcome = await login.login(old.row.user_login, old.password);
      assert.equal(outcome.ok, true);
      assert.equal((await users.findByLegacyId(String(old.row.user_id)))?.id, before.get(String(old.row.user_id)));
    } finally {
      await idp.drop();
    }
  });
});
