// A reset's revocation is owed from the moment its password is written: the row that says so
// commits with the new hash, so a Redis that fails right after the commit only delays the
// sign-out of every other session (the retrier, idp/account/revocation-retrier.ts) and never
// loses it. Real SQLite store; the transaction is the store's own.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createDatabase, migrate } from '../../lib/db.ts';
import { createPendingRevocations } from '../../idp/account/index.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { createUserStore } from '../../idp/users/store.ts';

test('a reset records, with its new password, the revocation of every grant and session, keeping none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-reset-revocation-'));
  const knex = createDatabase(`sqlite:${join(dir, 'idp.sqlite')}`);
  try {
    await migrate(knex, idpMigrations);
    const users = createUserStore(knex);
    const { user } = await users.insertFromLegacy({
      legacyId: 'legacy-eve',
      username: 'eve',
      email: 'eve@example.test',
      name: 'Eve',
      passwordHash: '$P$Bxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      passwordScheme: 'phpass-portable-P',
      legacyFingerprint: null,
    });
    const pending = createPendingRevocations(knex);

    const spent = await users.resetPassword({ userId: user.id, newHash: 'new-hash', newScheme: 'pbkdf2-sha256', claim: async () => false });
    assert.deepEqual(spent, { changed: false }, 'a spent link writes nothing');
    assert.deepEqual(await pending.due(10), [], 'and owes nothing');

    const outcome = await users.resetPassword({ userId: user.id, newHash: 'new-hash', newScheme: 'pbkdf2-sha256', claim: async () => true });
    assert.ok(outcome.changed && outcome.revocationId, 'the reset names the revocation it recorded');
    const owed = await pending.due(10);
    assert.deepEqual(
      owed.map(({ id, accountId, keepGrantId, keepSessionId }) => ({ id, accountId, keepGrantId, keepSessionId })),
      [{ id: outcome.revocationId, accountId: user.id, keepGrantId: null, keepSessionId: null }],
    );
    await pending.settle(outcome.revocationId);
    assert.deepEqual(await pending.due(10), []);
  } finally {
    await knex.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
