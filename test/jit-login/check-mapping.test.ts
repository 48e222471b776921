import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { forEachDatabase, REDIS_TEST_URL, redisProblem } from '../../scripts/support/databases.ts';
import { freePort, repoRoot } from '../../scripts/support/processes.ts';
import { insertLegacyRows, legacyIdOf } from './support.ts';
import { vector } from '../../scripts/support/legacy-hashes.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { legacyRow, schemeUsers } from '../../scripts/support/legacy-users.ts';

async function run(args: string[], env: Record<string, string>): Promise<{ code: number | string; output: string }> {
  const child = spawn(process.execPath, ['legacy-adapter/cli/check-mapping.ts', ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', LEGACY_MAPPING_FILE: 'legacy-adapter/mappings/legacy-php.yaml', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | string>((resolve) => child.once('exit', (c, s) => resolve(c ?? s ?? -1)));
  return { code, output };
}

test('check-mapping reports schemes, unrecognised rows, broken rows and duplicates, by id, never a hash', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await createLegacyPhpSchema(db);
    await insertLegacyRows(db.knex, [
      ...schemeUsers,
      legacyRow('garbage', 'not a hash'),
      legacyRow('nine', '$9$abcdefghijklmnop'),
      legacyRow('empty', ''),
      legacyRow('twin1', vector('md5').hash, { user_email: 'twin@example.com' }),
      legacyRow('twin2', vector('sha1').hash, { user_email: 'TWIN@example.com', is_active: 0 }),
    ]);
    const env = { LEGACY_DATABASE_URL: db.url };
    const json = await run(['--json'], env);
    assert.equal(json.code, 1, json.output);
    const report = JSON.parse(json.output);
    const ids = async (...logins: string[]) => Promise.all(logins.map((l) => legacyIdOf(db.knex, l)));
    assert.equal(report.rows, schemeUsers.length + 5);
    assert.equal(report.inactive, 1);
    assert.equal(report.schemes['bcrypt-2y'], 1);
    assert.equal(report.schemes['crypt-des'], 1);
    assert.equal(report.schemes['md5(salt.password)'], 3);
    assert.deepEqual(report.unrecognised, { count: 2, ids: await ids('garbage', 'nine') });
    assert.deepEqual(report.emptyHash, { count: 1, ids: await ids('empty') });
    assert.deepEqual(report.duplicateEmails, { groups: 1, rows: 2, ids: [await ids('twin1', 'twin2')] });
    assert.equal(report.ready, false);
    for (const row of schemeUsers) assert.ok(!json.output.includes(row.user_pass));
    assert.ok(!json.output.includes('twin@example.com'), 'no e-mail addresses in the report');

    const human = await run([], env);
    assert.equal(human.code, 1);
    assert.match(human.output, /legacy table users: 21 rows \(20 active, 1 inactive\)/);
    assert.match(human.output, new RegExp(`hash no scheme recognises: 2 \\(ids: ${(await ids('garbage', 'nine')).join(', ')}\\)`));
    assert.match(human.output, /NOT READY/);

    await db.knex('users').whereIn('user_login', ['garbage', 'nine', 'empty', 'twin2']).delete();
    const clean = await run([], env);
    assert.equal(clean.code, 0, clean.output);
    assert.match(clean.output, /READY: every row can migrate/);
  });
});

test('check-mapping with a mapping that does not fit exits 1, with a bad argument 2, each with a clear message', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await createLegacyPhpSchema(db);
    const wrong = await run(['--mapping', 'legacy-adapter/mappings/forum-members.yaml'], { LEGACY_DATABASE_URL: db.url });
    assert.equal(wrong.code, 1);
    assert.match(wrong.output, /cannot read forum_members through the mapping/);
  });
  const bad = await run(['--nope'], {});
  assert.equal(bad.code, 2);
  assert.match(bad.output, /usage: idm check-mapping/);
});

test('check-mapping says whether the mapping can dual-write, and names a write column the table lacks', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'check-mapping-'));
  try {
    const sample = await readFile(join(repoRoot, 'legacy-adapter/mappings/legacy-php.yaml'), 'utf8');
    assert.match(sample, /column: user_pass\n/);
    const missingColumn = join(dir, 'missing-column.yaml');
    await writeFile(missingColumn, sample.replace('column: user_pass\n', 'column: user_pass_bcrypt\n'));
    const noWrite = join(dir, 'no-write.yaml');
    await writeFile(noWrite, sample.replace(/^write:\n(?:[ #].*\n)*/m, ''));
    await forEachDatabase(t, async (_t, db) => {
      await createLegacyPhpSchema(db);
      const env = { LEGACY_DATABASE_URL: db.url };

      const able = await run([], env);
      assert.equal(able.code, 0, able.output);
      assert.match(able.output, /dual-write columns of users: user_pass, user_salt, updated_at/);
      assert.match(able.output, /DUAL-WRITE: YES/);
      const json = JSON.parse((await run(['--json'], env)).output);
      assert.equal(json.write.canWrite, true);

      const missing = await run(['--mapping', missingColumn], env);
      assert.equal(missing.code, 1, missing.output);
      assert.match(missing.output, /DUAL-WRITE: NO: users has no column user_pass_bcrypt/);
      const missingJson = JSON.parse((await run(['--mapping', missingColumn, '--json'], env)).output);
      assert.deepEqual(missingJson.write.missing, ['user_pass_bcrypt']);
      assert.equal(missingJson.ready, false);

      const none = await run(['--mapping', noWrite], env);
      assert.equal(none.code, 0, none.output);
      assert.match(none.output, /DUAL-WRITE: NO: the mapping has no write section/);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('check-mapping reports the PHP session format, and refuses one PHP does not have', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'check-mapping-session-'));
  try {
    const sample = await readFile(join(repoRoot, 'legacy-adapter/mappings/legacy-php.yaml'), 'utf8');
    assert.match(sample, /serialize_handler: php\n/);
    const serialize = join(dir, 'php-serialize.yaml');
    await writeFile(serialize, sample.replace('serialize_handler: php\n', 'serialize_handler: php_serialize\n'));
    const wrong = join(dir, 'wrong.yaml');
    await writeFile(wrong, sample.replace('serialize_handler: php\n', 'serialize_handler: wddx\n'));
    await forEachDatabase(t, async (_t, db) => {
      await createLegacyPhpSchema(db);
      const env = { LEGACY_DATABASE_URL: db.url };
      assert.match((await run([], env)).output, /PHP sessions: read and written as session\.serialize_handler = php \(/);
      const human = await run(['--mapping', serialize], env);
      assert.equal(human.code, 0, human.output);
      assert.match(human.output, /session\.serialize_handler = php_serialize/);
      assert.match(human.output, /logged in as: \$_SESSION\['user_id'\] and \$_SESSION\['login'\] set/);
      assert.match(human.output, /SESSIONS: YES/);
      const json = JSON.parse((await run(['--mapping', serialize, '--json'], env)).output).session;
      assert.equal(json.serialize_handler, 'php_serialize');
      assert.deepEqual(
        json.keys.map((k: { name: string; type: string }) => [k.name, k.type]),
        [
          ['user_id', 'int'],
          ['login', 'string'],
        ],
      );
      assert.deepEqual(json.loggedInAs, ['user_id', 'login']);
      const refused = await run(['--mapping', wrong], env);
      assert.equal(refused.code, 78, 'a mapping PHP could not have is bad configuration');
      assert.match(refused.output, /session\.serialize_handler: .*"php".*"php_serialize".*"php_binary"/);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('check-mapping checks the session store and the columns the session keys read, and reports them (also as JSON)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'check-mapping-stores-'));
  const redisProblemNow = await redisProblem();
  try {
    const sample = await readFile(join(repoRoot, 'legacy-adapter/mappings/legacy-php.yaml'), 'utf8');
    const withSession = async (name: string, session: unknown) => {
      const file = join(dir, `${name}.yaml`);
      // The sample's session section replaced by another (JSON is YAML).
      await writeFile(file, sample.replace(/^session:\n(?:[ #].*\n|\n)*/m, `session: ${JSON.stringify(session)}\n`));
      return file;
    };
    const keys = { uid: { from: 'id' }, login: { from: 'username' }, rank: { column: 'group_rank', type: 'int' } };
    const savePath = join(dir, 'php-sessions');
    await mkdir(savePath);
    const table = await withSession('table', {
      store: { type: 'table', table: 'sessions', columns: { timestamp: 'touched_at' } },
      keys,
      loggedInAs: ['uid', 'login'],
    });
    const files = await withSession('files', { serialize_handler: 'php_binary', store: { type: 'files', save_path: savePath }, keys: { uid: { from: 'id' } } });
    const missingDir = await withSession('missing-dir', { store: { type: 'files', save_path: join(dir, 'nowhere') } });
    const redis = await withSession('redis', {
      serialize_handler: 'php_serialize',
      store: { type: 'phpredis', prefix: 'shop:' },
      cookie: { name: 'SHOP', samesite: 'Strict' },
      sid: { length: 22, bits_per_character: 4 },
    });
    await forEachDatabase(t, async (_t, db) => {
      await createLegacyPhpSchema(db);
      const env = { LEGACY_DATABASE_URL: db.url };

      // The sample's sessions table has last_access, not touched_at; users has no group_rank.
      const bad = await run(['--mapping', table], env);
      assert.equal(bad.code, 1, bad.output);
      assert.match(
        bad.output,
        /SESSIONS: NO: the sessions table sessions has no column touched_at; session key rank reads column group_rank, which users does not have\./,
      );
      await db.knex.schema.alterTable('users', (t) => t.integer('group_rank').nullable());
      await db.knex.schema.alterTable('sessions', (t) => t.integer('touched_at').nullable());
      const good = await run(['--mapping', table], env);
      assert.equal(good.code, 0, good.output);
      assert.match(good.output, /store: table sessions \(id id, data data, last access touched_at as unix seconds\)/);
      assert.match(
        good.output,
        /a logged-in session holds: \$_SESSION\['uid'\] \(int, the legacy id \(user_id\)\), \$_SESSION\['login'\] \(string, columns\.username \(user_login\)\), \$_SESSION\['rank'\] \(int, column group_rank\)/,
      );
      assert.match(good.output, /SESSIONS: YES/);

      const inDir = await run(['--mapping', files], env);
      assert.equal(inDir.code, 0, inDir.output);
      assert.match(inDir.output, new RegExp(`store: files sess_<id> in ${savePath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      const nowhere = await run(['--mapping', missingDir, '--json'], env);
      assert.equal(nowhere.code, 1, nowhere.output);
      const report = JSON.parse(nowhere.output);
      assert.equal(report.ready, false);
      assert.equal(report.session.ok, false);
      assert.match(report.session.problems[0], /save_path .*nowhere is not a directory the adapter can write \(ENOENT\)/);

      // phpredis: a Redis that answers, one that does not; the password is never printed.
      if (!redisProblemNow) {
        const shared = new URL(REDIS_TEST_URL);
        const up = await run(['--mapping', redis, '--json'], { ...env, LEGACY_REDIS_HOST: shared.hostname, LEGACY_REDIS_PORT: shared.port || '6379' });
        assert.equal(up.code, 0, up.output);
        assert.deepEqual(JSON.parse(up.output).session.store, {
          type: 'phpredis',
          prefix: 'shop:',
          ttl: 1440,
          host: shared.hostname,
          port: Number(shared.port || 6379),
          db: 0,
          password: 'unset',
        });
      } else t.diagnostic(`shared Redis not reachable (${redisProblemNow}): only the unreachable case ran`);
      const closed = await run(['--mapping', redis], { ...env, LEGACY_REDIS_PORT: String(await freePort()), LEGACY_REDIS_PASSWORD: 'never-printed-secret' });
      assert.equal(closed.code, 1, closed.output);
      assert.match(closed.output, /SESSIONS: NO: phpredis's Redis 127\.0\.0\.1:\d+\/0 does not answer/);
      assert.match(closed.output, /phpredis keys shop:<id> with TTL 1440 s .*\(password set\)/);
      assert.match(closed.output, /cookie: SHOP; Path=\/; HttpOnly; SameSite=Strict; browser-session/);
      assert.match(closed.output, /warning: session ids of 88 random bits: fewer than 128/);
      assert.ok(!closed.output.includes('never-printed-secret'));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
