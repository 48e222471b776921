// Signing keys' private halves are encrypted at rest with IDP_KEY_ENCRYPTION_KEY: the rows hold
// no private member in clear, legacy plaintext rows are encrypted at start, a KEK that opens no
// row stops the idp (exit 78) instead of skipping keys, and the KEK can be rotated.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import { loadIdpConfig } from '../../idp/config.ts';
import { createKeyCipher, KeyDecryptionError, type KeyCipher } from '../../idp/oidc/keys/key-encryption.ts';
import { createKeyRing } from '../../idp/oidc/keys/key-ring.ts';
import { addNextKey, promoteNextKey, type Jwk } from '../../idp/oidc/keys/key-store.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { ConfigError } from '../../lib/config.ts';
import { migrate, type Knex } from '../../lib/db.ts';
import { createLogger } from '../../lib/logger.ts';
import { forEachDatabase } from '../../scripts/support/databases.ts';
import { repoRoot, spawnScript } from '../../scripts/support/processes.ts';

const OLD_KEK = 'old-key-encryption-key-for-tests-0123456789';
const NEW_KEK = 'new-key-encryption-key-for-tests-0123456789';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;
const logger = createLogger('test', 'silent');

/** A replica starting: encrypts legacy rows, loads and decrypts the published keys. */
async function start(knex: Knex, cipher: KeyCipher, development = false) {
  const ring = await createKeyRing(knex, { development, pollMs: 60_000, logger, cipher });
  ring.stop();
  return ring.current;
}

async function activeKey(knex: Knex, cipher: KeyCipher): Promise<string> {
  await addNextKey(knex, cipher);
  return (await promoteNextKey(knex, { minPublishedMs: 0, force: true })).promoted;
}

async function stored(knex: Knex, kid: string): Promise<{ private_jwk: string; public_jwk: string }> {
  return (await knex('signing_keys').where({ kid }).first('private_jwk', 'public_jwk')) as { private_jwk: string; public_jwk: string };
}

function keysCommand(env: Record<string, string>, ...args: string[]) {
  const result = spawnSync(process.execPath, ['idp/cli/keys.ts', ...args], { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

const refusedFor = (kid: string) => (e: unknown) => e instanceof ConfigError && e.message.includes(kid) && /IDP_KEY_ENCRYPTION_KEY/.test(e.message);

test('production refuses the development key-encryption key', () => {
  assert.throws(() => loadIdpConfig({ NODE_ENV: 'production' }), /IDP_KEY_ENCRYPTION_KEY: the development default cannot be used in production/);
});

test('stored rows hold no private member in clear, and signing survives a restart', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const kid = await activeKey(db.knex, createKeyCipher({ current: NEW_KEK }));
    const first = await start(db.knex, createKeyCipher({ current: NEW_KEK }));
    const signing = first.jwks.keys[0]!;
    assert.equal(signing.kid, kid);
    const row = await stored(db.knex, kid);
    assert.ok(!row.private_jwk.startsWith('{'), 'the private half is not JSON');
    for (const member of PRIVATE_MEMBERS) {
      assert.equal(typeof signing[member], 'string', `the loaded key has ${member}`);
      assert.ok(!row.private_jwk.includes(signing[member] as string), `${member} is not stored in clear`);
      assert.ok(!row.private_jwk.includes(`"${member}"`));
    }
    const publicJwk = JSON.parse(row.public_jwk) as Jwk;
    for (const member of PRIVATE_MEMBERS) assert.equal(publicJwk[member], undefined, `the public half has no ${member}`);

    const token = await new SignJWT({ sub: 'before-restart' }).setProtectedHeader({ alg: 'RS256', kid }).sign(await importJWK(signing as JWK, 'RS256'));
    // A restart: a new process derives the key from the same secret.
    const second = await start(db.knex, createKeyCipher({ current: NEW_KEK }));
    assert.equal(second.activeKid, kid);
    const published = createLocalJWKSet({ keys: [publicJwk as JWK] });
    assert.equal((await jwtVerify(token, published)).payload.sub, 'before-restart');
    const again = await new SignJWT({ sub: 'after-restart' })
      .setProtectedHeader({ alg: 'RS256', kid })
      .sign(await importJWK(second.jwks.keys[0] as JWK, 'RS256'));
    assert.equal((await jwtVerify(again, published)).payload.sub, 'after-restart');
  });
});

test('a plaintext row from before encryption is read, and encrypted by replicas starting at once', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const kid = randomBytes(16).toString('base64url');
    const exported = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as Record<string, string>;
    const now = Date.now();
    await db.knex('signing_keys').insert({
      kid,
      state: 'active',
      alg: 'RS256',
      public_jwk: JSON.stringify({ kty: 'RSA', kid, alg: 'RS256', use: 'sig', n: exported.n, e: exported.e }),
      private_jwk: JSON.stringify({ ...exported, kid, alg: 'RS256', use: 'sig' }),
      development: false,
      created_at: now,
      activated_at: now,
      updated_at: now,
    });
    const replicas = await Promise.all([0, 1, 2].map(() => start(db.knex, createKeyCipher({ current: NEW_KEK }))));
    for (const keys of replicas) {
      assert.equal(keys.activeKid, kid);
      assert.equal(keys.jwks.keys[0]!.d, exported.d, 'the legacy key still signs');
    }
    const row = await stored(db.knex, kid);
    assert.ok(!row.private_jwk.startsWith('{'), 'the legacy row was encrypted in place');
    assert.ok(!row.private_jwk.includes(exported.d!));
    assert.equal(createKeyCipher({ current: NEW_KEK }).decrypt(kid, row.private_jwk).current, true);
    assert.equal((await start(db.knex, createKeyCipher({ current: NEW_KEK }))).jwks.keys[0]!.d, exported.d);
  });
});

test('a key-encryption key that opens no row stops the idp (exit 78) naming the key', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const kid = await activeKey(db.knex, createKeyCipher({ current: OLD_KEK }));
    const before = await stored(db.knex, kid);
    await assert.rejects(start(db.knex, createKeyCipher({ current: NEW_KEK })), refusedFor(kid));
    await assert.rejects(start(db.knex, createKeyCipher({ current: NEW_KEK }), true), refusedFor(kid), 'development does not paper over it either');

    const idp = spawnScript('idp/main.ts', { NODE_ENV: 'test', IDP_PORT: '0', IDP_OPS_PORT: '0', DATABASE_URL: db.url, IDP_KEY_ENCRYPTION_KEY: NEW_KEK });
    assert.equal(await idp.exited, 78);
    assert.match(idp.output(), new RegExp(`IDP_KEY_ENCRYPTION_KEY: signing key ${kid} was encrypted with a key-encryption key that is not configured`));
    assert.deepEqual(await stored(db.knex, kid), before, 'the row is left as it was');
  });
});

test('KEK rotation: previous keys read, reencrypt writes with the current one', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const old = createKeyCipher({ current: OLD_KEK });
    const active = await activeKey(db.knex, old);
    const next = (await addNextKey(db.knex, old)).kid;
    const rotating = createKeyCipher({ current: NEW_KEK, previous: ['some-other-old-key-encryption-key-000', OLD_KEK] });
    const keys = await start(db.knex, rotating);
    assert.deepEqual(keys.jwks.keys.map((k) => k.kid).sort(), [active, next].sort());

    const env = { DATABASE_URL: db.url, IDP_KEY_ENCRYPTION_KEY: NEW_KEK };
    const without = keysCommand(env, 'reencrypt');
    assert.equal(without.status, 78, without.out);
    assert.match(without.out, /IDP_KEY_ENCRYPTION_KEY: signing key \S+ was encrypted with a key-encryption key that is not configured/);

    const rotated = keysCommand({ ...env, IDP_KEY_ENCRYPTION_KEYS_PREVIOUS: ` some-other-old-key-encryption-key-000 , ${OLD_KEK}` }, 'reencrypt');
    assert.equal(rotated.status, 0, rotated.out);
    assert.match(rotated.out, new RegExp(`re-encrypted .*${active}`));
    assert.match(rotated.out, new RegExp(`re-encrypted .*${next}`));
    assert.match(keysCommand(env, 'reencrypt').out, /already encrypted/);

    const after = await start(db.knex, createKeyCipher({ current: NEW_KEK }));
    assert.deepEqual(
      after.jwks.keys.map((k) => k.d),
      keys.jwks.keys.map((k) => k.d),
      'the same keys, under the new KEK',
    );
    await assert.rejects(start(db.knex, old), refusedFor(active));
    // add-next writes with the current KEK.
    await db.knex('signing_keys').where({ kid: next }).update({ state: 'retired', private_jwk: null });
    const added = keysCommand(env, 'add-next');
    assert.equal(added.status, 0, added.out);
    const addedKid = /added (\S+) \(next\)/.exec(added.out)?.[1];
    assert.ok(addedKid);
    assert.equal(createKeyCipher({ current: NEW_KEK }).decrypt(addedKid, (await stored(db.knex, addedKid)).private_jwk).current, true);
  });
});

test('a ciphertext moved to another row does not decrypt', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const cipher = createKeyCipher({ current: NEW_KEK });
    const active = await activeKey(db.knex, cipher);
    const next = (await addNextKey(db.knex, cipher)).kid;
    const moved = (await stored(db.knex, active)).private_jwk;
    assert.throws(() => cipher.decrypt(next, moved), KeyDecryptionError);
    await db.knex('signing_keys').where({ kid: next }).update({ private_jwk: moved });
    await assert.rejects(start(db.knex, cipher), (e: unknown) => refusedFor(next)(e) && /belongs to another row/.test((e as Error).message));
  });
});
