// Reset link tokens on the real SQLite store: the database holds only a keyed hash of each (a
// copy of the database, or the same token under another key, opens nothing), a link is spent
// once, and spending one spends every other open link of the account; the links not used are
// counted (open, expired unused within the last day) for the metrics.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createDatabase, migrate } from '../../lib/db.ts';
import { createResetTokens } from '../../idp/reset/index.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { createUserStore } from '../../idp/users/store.ts';

const KEY = 'the-reset-token-key-of-this-test-0123456789';

test('only a keyed hash of a link is stored; a link is spent once, with every other link of the account', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-reset-tokens-'));
  const knex = createDatabase(`sqlite:${join(dir, 'idp.sqlite')}`);
  try {
    await migrate(knex, idpMigrations);
    const { user } = await createUserStore(knex).insertFromLegacy({
      legacyId: 'legacy-eve',
      username: 'eve',
      email: 'eve@example.test',
      name: 'Eve',
      passwordHash: '$P$Bxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      passwordScheme: 'phpass-portable-P',
      legacyFingerprint: null,
    });
    const tokens = createResetTokens(knex, { key: KEY, ttlMs: 60_000 });
    const token = await tokens.issue(user.id);

    const stored = ((await knex('password_resets').select('token_hash')) as { token_hash: string }[]).map((r) => r.token_hash);
    assert.equal(stored.length, 1);
    for (const unkeyed of [token, createHash('sha256').update(token).digest('hex'), createHash('sha256').update(`password-reset:${token}`).digest('hex')]) {
      assert.ok(!stored.includes(unkeyed), 'neither the token nor an unkeyed hash of it is stored');
    }
    assert.deepEqual(
      await createResetTokens(knex, { key: `another-${KEY}`, ttlMs: 60_000 }).check(token),
      { ok: false, reason: 'invalid' },
      'another key opens nothing',
    );
    assert.deepEqual(await tokens.check(token), { ok: true, userId: user.id });

    const other = await tokens.issue(user.id);
    assert.deepEqual(await tokens.stats(), { open: 2, expiredUnused: 0 });
    assert.equal(await knex.transaction((trx) => tokens.claim(trx, token, user.id)), true);
    assert.equal(await knex.transaction((trx) => tokens.claim(trx, token, user.id)), false, 'a link is spent once');
    assert.deepEqual(await tokens.check(token), { ok: false, reason: 'invalid' });
    assert.deepEqual(await tokens.check(other), { ok: false, reason: 'invalid' }, "the account's other link was spent with it");
    assert.deepEqual(await tokens.stats(), { open: 0, expiredUnused: 0 }, 'spent links are neither open nor expired unused');

    // A link nobody used: expired unused for a day after its expiry, then no longer counted.
    const unused = await tokens.issue(user.id);
    await knex('password_resets')
      .whereNull('used_at')
      .update({ expires_at: Date.now() - 1000 });
    assert.deepEqual(await tokens.check(unused), { ok: false, reason: 'expired' });
    assert.deepEqual(await tokens.stats(), { open: 0, expiredUnused: 1 });
    await knex('password_resets')
      .whereNull('used_at')
      .update({ expires_at: Date.now() - 2 * 86_400_000 });
    assert.deepEqual(await tokens.stats(), { open: 0, expiredUnused: 0 });
  } finally {
    await knex.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
