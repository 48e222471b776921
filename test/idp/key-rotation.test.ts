// Signing-key rotation with the ops command while tokens are in flight, on two replicas that
// share MariaDB and Redis: the next key is published before it signs, tokens signed before the
// rotation keep verifying until their key is retired, and production refuses development keys.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { createKeyCipher } from '../../idp/oidc/keys/key-encryption.ts';
import { createKeyRing, SigningKeyError } from '../../idp/oidc/keys/key-ring.ts';
import { createLogger } from '../../lib/logger.ts';
import { createSqliteDatabase } from '../../scripts/support/databases.ts';
import { repoRoot } from '../../scripts/support/processes.ts';
import { API_AUDIENCE, closeSharedResources, SERVICE_SECRET, startTestIdp, withIdp, type TestIdp } from '../support/idp.ts';
import { migrate } from '../../lib/db.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';

after(closeSharedResources);

function keysCommand(idp: TestIdp, ...args: string[]): { status: number | null; out: string } {
  const result = spawnSync(process.execPath, ['idp/cli/keys.ts', ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...idp.env },
    encoding: 'utf8',
  });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

async function jwks(idp: TestIdp): Promise<JSONWebKeySet> {
  return (await (await fetch(`${idp.issuer}/jwks`)).json()) as JSONWebKeySet;
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting until ${what}`);
}

async function serviceToken(idp: TestIdp): Promise<string> {
  const config = await oidc.discovery(new URL(idp.issuer), 'service', {}, oidc.ClientSecretPost(SERVICE_SECRET), { execute: [oidc.allowInsecureRequests] });
  return (await oidc.clientCredentialsGrant(config, { scope: 'orders:read' })).access_token;
}

/** Whether `token` verifies against the JWKS `idp` serves (replicas here differ only by URL). */
async function verifies(idp: TestIdp, token: string): Promise<boolean> {
  try {
    await jwtVerify(token, createLocalJWKSet(await jwks(idp)), { audience: API_AUDIENCE });
    return true;
  } catch {
    return false;
  }
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid;

test('rotation with tokens in flight, picked up by every replica without a restart', async (t) => {
  await withIdp(
    t,
    { db: 'mysql', redis: true },
    async (one) => {
      const two = await startTestIdp({ storage: { db: 'mysql', redis: true }, replicaOf: one, env: { IDP_KEYS_POLL_SECONDS: '1' } });
      try {
        const oldKid = one.oidc.keyRing.current.activeKid;
        assert.equal(two.oidc.keyRing.current.activeKid, oldKid, 'both replicas sign with the same key');
        const before = await serviceToken(one);
        assert.equal(kidOf(before), oldKid);

        const added = keysCommand(one, 'add-next');
        assert.equal(added.status, 0, added.out);
        const nextKid = /added (\S+) \(next\)/.exec(added.out)?.[1];
        assert.ok(nextKid);
        for (const replica of [one, two]) {
          await until('the next key is published', async () => (await jwks(replica)).keys.some((k) => k.kid === nextKid));
        }
        assert.equal(kidOf(await serviceToken(two)), oldKid, 'a published next key does not sign yet');

        const early = keysCommand(one, 'promote');
        assert.equal(early.status, 1, `promote right after add-next is refused: ${early.out}`);
        assert.match(early.out, /published for \d+ s only/);
        const promoted = keysCommand(one, 'promote', '--force');
        assert.equal(promoted.status, 0, promoted.out);
        for (const replica of [one, two]) {
          await until('the new key signs', async () => kidOf(await serviceToken(replica)) === nextKid);
        }
        assert.ok(await verifies(one, before), 'a token signed before the rotation still verifies');
        assert.ok(await verifies(two, before));

        const tooSoon = keysCommand(one, 'retire', oldKid!);
        assert.equal(tooSoon.status, 1, `retiring while its tokens may be valid is refused: ${tooSoon.out}`);
        assert.match(tooSoon.out, /may still be valid/);
        assert.equal(keysCommand(one, 'retire', nextKid!).status, 1, 'the active key cannot be retired');

        const retired = keysCommand(one, 'retire', oldKid!, '--force');
        assert.equal(retired.status, 0, retired.out);
        for (const replica of [one, two]) {
          await until('the retired key is unpublished', async () => !(await jwks(replica)).keys.some((k) => k.kid === oldKid));
        }
        assert.equal(await verifies(one, before), false, 'once retired, its tokens no longer verify');
        const listed = keysCommand(one, 'list');
        assert.match(listed.out, new RegExp(`${oldKid}\\s+retired`));
      } finally {
        await two.stop();
      }
    },
    { env: { IDP_KEYS_POLL_SECONDS: '1' } },
  );
});

test('production refuses development keys, and starting without any key', async () => {
  const db = await createSqliteDatabase();
  const logger = createLogger('test', 'silent');
  const cipher = createKeyCipher({ current: 'test-key-encryption-key' });
  try {
    await migrate(db.knex, idpMigrations);
    await assert.rejects(
      createKeyRing(db.knex, { development: false, pollMs: 1000, logger, cipher }),
      (e: unknown) => e instanceof SigningKeyError && /no active signing key/.test(e.message),
    );
    const dev = await createKeyRing(db.knex, { development: true, pollMs: 1000, logger, cipher });
    dev.stop();
    await assert.rejects(
      createKeyRing(db.knex, { development: false, pollMs: 1000, logger, cipher }),
      (e: unknown) => e instanceof SigningKeyError && /development signing keys/.test(e.message),
    );
  } finally {
    await db.drop();
  }
});
