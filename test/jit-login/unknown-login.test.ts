// A login that matches no legacy row spends a real row's verify (directory/dummy-verify.ts), so
// it takes as long as a wrong password. Checked by what the directory counts, never by a clock;
// the timing itself is measured by `npm run bench:legacy-timing` (docs/PERFORMANCE.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createLegacyDirectory } from '../../legacy-adapter/directory/directory.ts';
import { lookalikePassword } from '../../legacy-adapter/directory/dummy-verify.ts';
import { loadMapping } from '../../legacy-adapter/mapping-format/index.ts';
import { createAdapterMetrics } from '../../legacy-adapter/metrics.ts';
import type { Knex } from '../../lib/db.ts';
import { forEachDatabase } from '../../scripts/support/databases.ts';
import { insertLegacyRows } from './support.ts';
import { PASSWORD } from '../../scripts/support/legacy-hashes.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { legacyRow, schemeUsers } from '../../scripts/support/legacy-users.ts';
import { LEGACY_PHP_MAPPING } from '../../scripts/support/legacy-adapter.ts';
import { sample } from '../support/prometheus-text.ts';

const KEY = 'fingerprint-key-for-tests-0123456789';

function directoryFor(knex: Knex) {
  const registry = new Registry();
  const directory = createLegacyDirectory(knex, { mapping: loadMapping(LEGACY_PHP_MAPPING), fingerprintKey: KEY, metrics: createAdapterMetrics(registry) });
  return { directory, dummies: async (labels: Record<string, string> = {}) => sample(await registry.metrics(), 'legacy_adapter_dummy_verifies_total', labels) };
}

/** The scheme the dummy verify of `login` spent, read from the counter it moved. */
async function spentBy(rig: ReturnType<typeof directoryFor>, login: string, schemes: string[]): Promise<string> {
  const before = await Promise.all(schemes.map((scheme) => rig.dummies({ scheme })));
  const result = await rig.directory.authenticate(login, PASSWORD);
  assert.deepEqual(result, { ok: false, reason: 'not_found' });
  const after = await Promise.all(schemes.map((scheme) => rig.dummies({ scheme })));
  const moved = schemes.filter((_, i) => (after[i] ?? 0) > (before[i] ?? 0));
  assert.equal(moved.length, 1, `one dummy verify per unknown login, got ${moved.join(', ')}`);
  return moved[0] ?? '';
}

test("an unknown login spends a real row's verify, the same row's on every try, and rows of every kind are picked", async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await createLegacyPhpSchema(db);
    // Garbage rows are never picked: they would fail at once.
    await insertLegacyRows(db.knex, [...schemeUsers, legacyRow('garbage', 'not a hash at all!')]);
    const rig = directoryFor(db.knex);
    const mapping = loadMapping(LEGACY_PHP_MAPPING);
    const schemes = [
      'md5(salt.password)',
      'sha1(salt.password)',
      'sha256(salt.password)',
      'crypt-des',
      'crypt-md5',
      'crypt-sha256',
      'crypt-sha512',
      'bcrypt-2y',
      'bcrypt-2a',
      'argon2id',
      'argon2i',
      'phpass-portable-P',
      'phpass-portable-H',
    ];
    assert.ok(mapping.passwords.hexCandidates.every((c) => schemes.includes(c)));

    const first = await spentBy(rig, 'nobody@example.com', schemes);
    assert.equal(await spentBy(rig, 'NOBODY@example.com', schemes), first, 'the pick follows the login, not the try');
    const picked = new Set<string>();
    for (let i = 0; i < 24; i++) picked.add(await spentBy(rig, `unknown-${i}`, schemes));
    assert.ok(picked.size > 1, `24 unknown logins all spent ${[...picked].join()}`);
    // A known login does not pay it: it verifies its own row.
    assert.equal(((await rig.directory.authenticate('u_md5', 'wrong')) as { reason?: string }).reason, 'wrong_password');
    assert.equal(await rig.dummies(), 26);
  });
});

test("with no legacy rows at all, an unknown login spends a bcrypt verify of PHP's default cost", async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await createLegacyPhpSchema(db);
    const rig = directoryFor(db.knex);
    assert.equal(await spentBy(rig, 'nobody', ['bcrypt-2y']), 'bcrypt-2y');
  });
});

test('the dummy verify hashes a fresh password of the same shape, never the one sent', () => {
  const encodable = (p: string): boolean => [...p].every((ch) => (ch.codePointAt(0) ?? 0) <= 0xff);
  for (const password of [PASSWORD, 'pässwörd', 'пароль', '日本語のパスワード', 'emoji 🔑 key', 'nul\u0000after', 'ÿ\u0080', '\ud800lone', 'a']) {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const lookalike = lookalikePassword(password);
      assert.notEqual(lookalike, password);
      assert.equal(Buffer.byteLength(lookalike, 'utf8'), Buffer.byteLength(password, 'utf8'), password);
      assert.equal(encodable(lookalike), encodable(password), password);
      const ascii = (p: string): boolean => [...p].every((ch) => (ch.codePointAt(0) ?? 0) < 0x80);
      assert.equal(ascii(lookalike), ascii(password), password);
      assert.equal(lookalike.indexOf('\u0000'), password.indexOf('\u0000'), password);
      seen.add(lookalike);
    }
    assert.ok(seen.size > 1, `${password}: the same lookalike every time`);
  }
});
