// The migration's way into the idp (contracts/idp-import.ts): only with the idp's internal
// secret, and a migration that cannot reach the idp, or is refused by it, stops with a message
// that says what to check (exit 1, resumable), having imported nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IDP_IMPORT_USERS_PATH } from '../../contracts/idp-import.ts';
import { createSqliteDatabase } from '../../scripts/support/databases.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { freePort } from '../../scripts/support/processes.ts';
import { startTcpProxy } from '../../scripts/support/tcp-proxy.ts';
import { createIdpStore, generateUsers, insertLegacyUsers, spawnMigrate } from './support.ts';

test('the import endpoint refuses a caller without the internal secret, and a body outside the contract', async () => {
  const idp = await createIdpStore('sqlite');
  try {
    const url = `${idp.idp.url}${IDP_IMPORT_USERS_PATH}`;
    const anonymous = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ users: [], wrapIterations: 0 }),
    });
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: string }).error, 'unauthorized');
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${idp.env.IDP_INTERNAL_SECRET}` },
      body: JSON.stringify({ users: [{ legacyId: '1' }], wrapIterations: 0 }),
    });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'invalid_request');
    assert.match(body.error_description, /users\.0\./);
  } finally {
    await idp.drop();
  }
});

test('the migrate command stops with a clear error when the idp is down or refuses its secret, and writes nothing', async () => {
  const legacy = await createSqliteDatabase();
  const idp = await createIdpStore('sqlite');
  try {
    await createLegacyPhpSchema(legacy);
    await insertLegacyUsers(legacy.knex, generateUsers(20));
    const down = await spawnMigrate(['--json'], { ...idp.env, IDP_INTERNAL_URL: `http://127.0.0.1:${await freePort()}`, LEGACY_DATABASE_URL: legacy.url }).done;
    assert.equal(down.code, 1, down.stderr);
    assert.match(down.stderr, /did not answer \(ECONNREFUSED\).*gave up after \d+ attempts\. Is the idp running, and is IDP_INTERNAL_URL its address\?/);
    assert.match(down.stderr, /run the same command again to resume/);

    const refused = await spawnMigrate(['--json'], {
      ...idp.env,
      IDP_INTERNAL_SECRET: 'not-the-idp-internal-secret-0123456789',
      LEGACY_DATABASE_URL: legacy.url,
    }).done;
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /refused IDP_INTERNAL_SECRET/);
    assert.equal(Number((await idp.knex('users').count({ n: '*' }))[0]?.n), 0, 'nothing imported');

    const ok = await spawnMigrate(['--json'], { ...idp.env, LEGACY_DATABASE_URL: legacy.url }).done;
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(Number((await idp.knex('users').count({ n: '*' }))[0]?.n), 20);
  } finally {
    await Promise.all([legacy.drop(), idp.drop()]);
  }
});

test('every batch of a pass reaches the idp over one kept-alive connection', async () => {
  const legacy = await createSqliteDatabase();
  const idp = await createIdpStore('sqlite');
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(idp.idp.url).port) });
  try {
    await createLegacyPhpSchema(legacy);
    await insertLegacyUsers(legacy.knex, generateUsers(60));
    const run = await spawnMigrate(['--batch-size', '10', '--json'], {
      ...idp.env,
      IDP_INTERNAL_URL: `http://127.0.0.1:${proxy.port}`,
      LEGACY_DATABASE_URL: legacy.url,
    }).done;
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { thisRun: { batches: number } };
    assert.ok(report.thisRun.batches >= 6, `several batches (${report.thisRun.batches})`);
    assert.equal(Number((await idp.knex('users').count({ n: '*' }))[0]?.n), 60);
    assert.equal(proxy.connections(), 1, 'one connection for the whole pass');
  } finally {
    await proxy.close();
    await Promise.all([legacy.drop(), idp.drop()]);
  }
});
