// The legacy-adapter's PHP sessions under a monolith on session.serialize_handler=php_serialize
// with its own $_SESSION key names (the mapping's session section), real processes: the bridge
// writes what PHP with that handler reads, the resolver reads what PHP with it writes, and a
// user's string that holds php-format session data logs nobody in.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Knex } from 'knex';
import { newPhpSessionId } from '../../legacy-adapter/sessions/session-id.ts';
import { describeOrSkip, legacyKnex, legacyPhpUnavailableReason, startLegacyPhp, type LegacyPhp } from '../../scripts/support/legacy-php.ts';
import { repoRoot, type SpawnedService } from '../../scripts/support/processes.ts';
import { phpDecode, phpEncode, phpString } from './php-cli.ts';
import { postJson } from '../../scripts/support/stack.ts';
import { ADAPTER_SECRET, BRIDGE_SECRET, startAdapterProcess } from '../../scripts/support/legacy-adapter.ts';

const reason = await legacyPhpUnavailableReason({ db: 'sqlite' });

describeOrSkip('legacy-adapter sessions with session.serialize_handler=php_serialize', reason, () => {
  let php: LegacyPhp;
  let adapter: SpawnedService;
  let db: Knex;
  const dir = mkdtempSync(join(tmpdir(), 'serialize-handler-'));
  before(async () => {
    php = await startLegacyPhp({ db: 'sqlite', sessionStore: 'db' });
    const sample = readFileSync(join(repoRoot, 'legacy-adapter/mappings/legacy-php.yaml'), 'utf8');
    assert.match(sample, /serialize_handler: php\n/);
    const mapping = join(dir, 'mapping.yaml');
    // A monolith of its own: php_serialize, and other names for the logged-in keys.
    assert.match(sample, /user_id: \{from: id, type: int\}\n +login: \{from: username, type: string\}\n/);
    assert.match(sample, /loggedInAs: \[user_id, login\]/);
    writeFileSync(
      mapping,
      sample
        .replace('serialize_handler: php\n', 'serialize_handler: php_serialize\n')
        .replace('user_id: {from: id', 'uid: {from: id')
        .replace('login: {from: username', 'username: {from: username')
        .replace('loggedInAs: [user_id, login]', 'loggedInAs: [uid, username]'),
    );
    adapter = await startAdapterProcess(php, { LEGACY_MAPPING_FILE: mapping });
    db = legacyKnex(php);
  });
  after(async () => {
    await db?.destroy();
    await adapter?.stop();
    await php?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const resolve = async (sessionId: string) => {
    const res = await postJson(`${adapter.url}/internal/v1/legacy-sessions/resolve`, ADAPTER_SECRET, { sessionId });
    assert.equal(res.status, 200);
    return (await res.json()) as { ok: boolean; user?: { legacyId: string; username: string } };
  };
  /** A live row in the sessions table with `data`, as the monolith's save handler writes it. */
  const storeSession = async (data: Buffer) => {
    const id = newPhpSessionId();
    await db('sessions').insert({ id, data, last_access: Math.floor(Date.now() / 1000) });
    return id;
  };

  test('the bridge writes php_serialize data PHP reads; the resolver reads what PHP writes', async () => {
    const made = await postJson(`${adapter.url}/internal/v1/sessions`, BRIDGE_SECRET, { login: 'alice' });
    assert.equal(made.status, 201);
    const { sessionId } = (await made.json()) as { sessionId: string };
    const row = await db('sessions').where({ id: sessionId }).first();
    const data = Buffer.from(row.data);
    assert.equal(data.toString('utf8'), 'a:2:{s:3:"uid";i:1;s:8:"username";s:5:"alice";}');
    assert.deepEqual(await phpDecode(data, 'php_serialize'), {
      ok: true,
      session: { uid: 1, username: 'alice' },
      types: { uid: 'integer', username: 'string' },
    });
    assert.deepEqual((await resolve(sessionId)).user?.username, 'alice');

    // What PHP's own login would have stored under php_serialize, with more in it.
    const bob = await storeSession(await phpEncode('array("csrf_token" => "abcd", "uid" => 2, "username" => "bob")', 'php_serialize'));
    assert.equal((await resolve(bob)).user?.username, 'bob');
    // php-format data, or the sample monolith's key names, are not this monolith's: nobody.
    assert.equal((await resolve(await storeSession(Buffer.from('uid|i:2;username|s:3:"bob";')))).ok, false);
    assert.equal((await resolve(await storeSession(await phpEncode('array("user_id" => 2, "login" => "bob")', 'php_serialize')))).ok, false);
  });

  test('a string a user chose, holding php-format session data, logs nobody in', async () => {
    // Read with the php handler's rules, these bytes would be uid 1 (alice) with username "admin".
    const payload = 'X|i:0;uid|i:1;username|s:5:"admin";Z|a:1:{i:0;s:0:"';
    const data = await phpEncode(`array("note" => ${phpString(payload)})`, 'php_serialize');
    assert.deepEqual(await resolve(await storeSession(data)), { ok: false });
  });
});
