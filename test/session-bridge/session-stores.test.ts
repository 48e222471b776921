// The mapping's `session` section describes a monolith's sessions without code: for each store
// (a table with its own names and a DATETIME stamp, phpredis with its own prefix, PHP's files
// handler), a session the legacy-adapter writes is read by real PHP's session machinery
// (session_start with that handler, serializer and use_strict_mode=1: the id is kept, so PHP
// accepts ids we make) with every key typed as PHP expects (an extra column, a value map, a
// constant, a nested array), and a session PHP writes is resolved by the adapter. Real processes, no mocks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import type { SerializeHandler } from '../../legacy-adapter/sessions/php-serialize.ts';
import { createMariaDbDatabase, createSqliteDatabase, mariadbProblem, skipLoudly, type TestDatabase } from '../../scripts/support/databases.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { redisServerProblem, startOwnRedis, type OwnRedis } from '../../scripts/support/redis-server.ts';
import { phpProblem, runPhp } from './php-cli.ts';
import { postJson } from '../../scripts/support/stack.ts';
import { ADAPTER_SECRET, BRIDGE_SECRET } from '../../scripts/support/legacy-adapter.ts';

const dir = mkdtempSync(join(tmpdir(), 'session-stores-'));
let redis: OwnRedis | undefined;
before(async () => {
  if (!redisServerProblem()) redis = await startOwnRedis();
});
after(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** What every store's monolith puts in $_SESSION at login: the id, the login, an extra column, a value map, a constant, an array. */
const KEYS = {
  uid: { from: 'id' },
  uname: { from: 'username' },
  group: { column: 'group_id', type: 'int' },
  is_admin: { column: 'group_id', map: { 1: true }, default: false },
  auth_via: { value: 'idm' },
  member: { type: 'array', keys: { id: { from: 'id' }, name: { from: 'username' } } },
};
const ALICE = { uid: 1, uname: 'alice', group: 1, is_admin: true, auth_via: 'idm', member: { id: 1, name: 'alice' } };
const BOB = { uid: 2, uname: 'bob', group: 3, is_admin: false, auth_via: 'idm', member: { id: 2, name: 'bob' } };
const TYPES = { uid: 'integer', uname: 'string', group: 'integer', is_admin: 'boolean', auth_via: 'string', member: 'array' };

interface StoreCase {
  name: string;
  handler: SerializeHandler;
  sid: { length: number; bits_per_character: 4 | 5 | 6 };
  /** The keys that decide who is logged in (a nested one with dots). */
  loggedInAs: string[];
  /** The mapping's session.store. */
  store(db: TestDatabase): Promise<Record<string, unknown>>;
  env(): Record<string, string>;
  /** PHP statements that set up the monolith's save handler before session_start(). */
  php(db: TestDatabase): string;
}

/** A PDO DSN for the test database, for PHP's own handler. */
function pdo(db: TestDatabase): string {
  if (db.kind === 'sqlite') return `new PDO(${JSON.stringify(`sqlite:${db.url.slice('sqlite:'.length)}`)})`;
  const url = new URL(db.url);
  return `new PDO(${JSON.stringify(`mysql:host=${url.hostname};port=${url.port || 3306};dbname=${url.pathname.slice(1)}`)}, ${JSON.stringify(decodeURIComponent(url.username))}, "")`;
}

// A monolith's own PDO save handler over `member_sessions (sid, payload, touched_at DATETIME UTC)`,
// with validateId so that use_strict_mode keeps only ids the table has.
const PHP_TABLE_HANDLER = `
class TableHandler implements SessionHandlerInterface, SessionUpdateTimestampHandlerInterface {
  public function __construct(private PDO $pdo) {}
  public function open(string $p, string $n): bool { return true; }
  public function close(): bool { return true; }
  public function read(string $id): string|false {
    $s = $this->pdo->prepare("SELECT payload FROM member_sessions WHERE sid = ? AND touched_at >= ?");
    $s->execute([$id, gmdate("Y-m-d H:i:s", time() - 1440)]);
    $d = $s->fetchColumn();
    return $d === false ? "" : (is_resource($d) ? stream_get_contents($d) : (string) $d);
  }
  public function write(string $id, string $data): bool {
    $this->pdo->prepare("DELETE FROM member_sessions WHERE sid = ?")->execute([$id]);
    $s = $this->pdo->prepare("INSERT INTO member_sessions (sid, payload, touched_at) VALUES (?, ?, ?)");
    $s->bindValue(1, $id); $s->bindValue(2, $data, PDO::PARAM_LOB); $s->bindValue(3, gmdate("Y-m-d H:i:s"));
    return $s->execute();
  }
  public function destroy(string $id): bool { return $this->pdo->prepare("DELETE FROM member_sessions WHERE sid = ?")->execute([$id]); }
  public function gc(int $max): int|false { return 0; }
  public function validateId(string $id): bool {
    $s = $this->pdo->prepare("SELECT 1 FROM member_sessions WHERE sid = ?");
    $s->execute([$id]);
    return $s->fetchColumn() !== false;
  }
  public function updateTimestamp(string $id, string $data): bool { return true; }
}`;

const cases: StoreCase[] = [
  {
    name: 'table',
    handler: 'php',
    sid: { length: 40, bits_per_character: 4 },
    loggedInAs: ['uid', 'uname'],
    async store(db) {
      await db.knex.schema.createTable('member_sessions', (t) => {
        t.string('sid', 128).primary();
        t.binary('payload').notNullable();
        t.dateTime('touched_at').notNullable();
      });
      return { type: 'table', table: 'member_sessions', columns: { id: 'sid', data: 'payload', timestamp: 'touched_at' }, timestamp: 'datetime' };
    },
    env: () => ({}),
    php: (db) => `${PHP_TABLE_HANDLER} session_set_save_handler(new TableHandler(${pdo(db)}), true);`,
  },
  {
    name: 'phpredis',
    handler: 'php_serialize',
    sid: { length: 48, bits_per_character: 6 },
    // $_SESSION['member'] = ['id' => …, 'name' => …]: found by the nested id.
    loggedInAs: ['member.id', 'member.name'],
    store: async () => ({ type: 'phpredis', prefix: 'members2:sess:', ttl: 3600 }),
    env: () => ({ LEGACY_REDIS_HOST: '127.0.0.1', LEGACY_REDIS_PORT: String(redis!.port), LEGACY_REDIS_DB: '2' }),
    php: () => `ini_set("session.save_handler", "redis"); ini_set("session.save_path", "tcp://127.0.0.1:${redis!.port}?database=2&prefix=members2:sess:");`,
  },
  {
    name: 'files',
    handler: 'php_binary',
    sid: { length: 32, bits_per_character: 5 },
    loggedInAs: ['uid'],
    store: async () => {
      const savePath = mkdtempSync(join(dir, 'save-path-'));
      return { type: 'files', save_path: savePath };
    },
    env: () => ({}),
    php: () => '',
  },
];

const ALPHABETS = { 4: /^[0-9a-f]+$/, 5: /^[0-9a-v]+$/, 6: /^[0-9a-zA-Z,-]+$/ };

async function withStore(
  t: TestContext,
  c: StoreCase,
  db: TestDatabase,
  body: (
    adapter: SpawnedService,
    store: Record<string, unknown>,
    php: (statements: string, ...args: string[]) => Promise<string>,
    ini: string,
  ) => Promise<void>,
) {
  await createLegacyPhpSchema(db);
  await db.knex.schema.alterTable('users', (table) => table.integer('group_id').nullable());
  await db.knex('users').insert([
    // md5('secret'): the row must be importable for a resolved session to sign in.
    { user_login: 'alice', user_email: 'alice@example.test', user_pass: '5ebe2294ecd0e0f08eab7690d2a6ee69', group_id: 1 },
    { user_login: 'bob', user_email: 'bob@example.test', user_pass: '5ebe2294ecd0e0f08eab7690d2a6ee69', group_id: 3 },
  ]);
  const store = await c.store(db);
  const mapping = join(dir, `${c.name}-${db.kind}.json`);
  // JSON is YAML: the same format, written by the test.
  writeFileSync(
    mapping,
    JSON.stringify({
      version: 1,
      table: 'users',
      columns: { id: 'user_id', username: 'user_login', email: 'user_email', hash: 'user_pass', salt: 'user_salt' },
      passwords: { hexCandidates: ['md5'] },
      session: {
        serialize_handler: c.handler,
        store,
        lifetime: 1440,
        cookie: { name: `MEMBERS_${c.name.toUpperCase()}`, path: '/members', domain: 'example.test', secure: true, samesite: 'Strict', lifetime: 3600 },
        sid: c.sid,
        keys: KEYS,
        loggedInAs: c.loggedInAs,
      },
    }),
  );
  const adapter = await startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', {
    LEGACY_DATABASE_URL: db.url,
    LEGACY_MAPPING_FILE: mapping,
    LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
    LEGACY_SESSION_BRIDGE_SECRET: BRIDGE_SECRET,
    ...c.env(),
  });
  // The monolith's php.ini, as the mapping describes it; strict mode refuses ids the store lacks.
  const ini = [
    `ini_set("session.serialize_handler", "${c.handler}");`,
    'ini_set("session.use_strict_mode", "1");',
    'ini_set("session.use_cookies", "0");',
    'ini_set("session.gc_probability", "0");',
    `ini_set("session.sid_length", "${c.sid.length}");`,
    `ini_set("session.sid_bits_per_character", "${c.sid.bits_per_character}");`,
    store.type === 'files' ? `ini_set("session.save_path", ${JSON.stringify(store.save_path)});` : '',
    c.php(db),
  ].join(' ');
  try {
    await body(adapter, store, (statements, ...args) => runPhp(`${ini} ${statements}`, ...args), ini);
  } catch (error) {
    t.diagnostic(adapter.output());
    throw error;
  } finally {
    await adapter.stop();
  }
}

/**
 * PHP holds a files session under flock(LOCK_EX) from session_start() until it writes it back
 * (truncating, then writing): meanwhile the adapter's read waits for the lock and, PHP holding
 * it past the wait, answers unavailable rather than reading a file PHP may be rewriting. Once PHP
 * lets go, the same session resolves.
 */
async function whileFilesSessionLocked(ini: string, sessionId: string, adapter: SpawnedService) {
  // A process of its own: it keeps the session open until the test lets it go.
  const holder = spawn(
    process.env.PHP_BINARY ?? 'php',
    ['-r', `${ini} session_id($argv[1]); session_start(); echo "locked\n"; fgets(STDIN); session_write_close();`, sessionId],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = once(holder, 'exit');
  try {
    const [line] = (await once(holder.stdout!, 'data')) as [Buffer];
    assert.equal(line.toString().trim(), 'locked');
    const busy = await postJson(`${adapter.url}/internal/v1/legacy-sessions/resolve`, ADAPTER_SECRET, { sessionId });
    assert.equal(busy.status, 503, 'a session PHP holds is not read under it');
  } finally {
    holder.stdin!.end('\n');
    await exited;
  }
  const free = await postJson(`${adapter.url}/internal/v1/legacy-sessions/resolve`, ADAPTER_SECRET, { sessionId });
  assert.equal(((await free.json()) as { ok: boolean }).ok, true);
}

for (const c of cases) {
  const skip = phpProblem ?? (c.name === 'phpredis' ? redisServerProblem() : undefined);
  const engines = c.name === 'table' ? (['sqlite', 'mysql'] as const) : (['sqlite'] as const);
  for (const kind of engines) {
    test(
      `${c.name} store (${kind}, ${c.handler}): PHP reads the session the adapter writes, and the adapter resolves the one PHP writes`,
      { skip },
      async (t) => {
        if (kind === 'mysql') {
          const problem = await mariadbProblem();
          if (problem) return skipLoudly(t, 'MariaDB', problem);
        }
        const db = kind === 'mysql' ? await createMariaDbDatabase() : await createSqliteDatabase();
        try {
          await withStore(t, c, db, async (adapter, store, php, ini) => {
            const made = await postJson(`${adapter.url}/internal/v1/sessions`, BRIDGE_SECRET, { legacyId: '1' });
            assert.equal(made.status, 201);
            const body = (await made.json()) as { sessionId: string; lifetimeSeconds: number; cookie: unknown };
            // The cookie's attributes travel with the session: the gateway sets exactly these.
            assert.deepEqual(body.cookie, {
              name: `MEMBERS_${c.name.toUpperCase()}`,
              path: '/members',
              domain: 'example.test',
              secure: true,
              httpOnly: true,
              sameSite: 'Strict',
              maxAge: 3600,
            });
            assert.equal(body.lifetimeSeconds, 1440);
            assert.equal(body.sessionId.length, c.sid.length);
            assert.match(body.sessionId, ALPHABETS[c.sid.bits_per_character]);
            if (store.type === 'files') assert.equal(statSync(join(String(store.save_path), `sess_${body.sessionId}`)).mode & 0o777, 0o600);

            // Real PHP: session_start() with the id keeps it (strict mode found it) and sees every key typed.
            const read = JSON.parse(
              await php(
                'session_id($argv[1]); session_start(); echo json_encode(["id" => session_id(), "session" => $_SESSION, "types" => array_map("gettype", $_SESSION)]);',
                body.sessionId,
              ),
            ) as { id: string; session: unknown; types: unknown };
            assert.equal(read.id, body.sessionId, 'use_strict_mode accepted the id the adapter made');
            assert.deepEqual(read.session, ALICE);
            assert.deepEqual(read.types, TYPES);

            // And the other way: a login on the monolith, the way PHP stores it, resolved by the adapter.
            const id = (
              await php(
                'session_start(); $_SESSION = array_merge(["csrf" => "x"], json_decode($argv[1], true)); echo session_id(); session_write_close();',
                JSON.stringify(BOB),
              )
            ).trim();
            assert.equal(id.length, c.sid.length);
            const resolved = await postJson(`${adapter.url}/internal/v1/legacy-sessions/resolve`, ADAPTER_SECRET, { sessionId: id });
            assert.equal(resolved.status, 200);
            const answer = (await resolved.json()) as { ok: boolean; user?: { legacyId: string; username: string } };
            assert.equal(answer.ok, true);
            assert.equal(answer.user?.legacyId, '2');
            assert.equal(answer.user?.username, 'bob');

            // A session PHP holds with a deciding key missing or of another type is nobody's.
            const partial = (
              await php('session_start(); $_SESSION = ["uid" => "2", "member" => ["name" => "bob"]]; echo session_id(); session_write_close();')
            ).trim();
            const refused = await postJson(`${adapter.url}/internal/v1/legacy-sessions/resolve`, ADAPTER_SECRET, { sessionId: partial });
            assert.deepEqual(await refused.json(), { ok: false });

            if (store.type === 'files') await whileFilesSessionLocked(ini, body.sessionId, adapter);

            // Logout: the adapter removes it, and PHP's strict mode no longer takes the id.
            const deleted = await fetch(`${adapter.url}/internal/v1/sessions/${body.sessionId}`, {
              method: 'DELETE',
              headers: { authorization: `Bearer ${BRIDGE_SECRET}` },
            });
            assert.equal(deleted.status, 204);
            assert.notEqual((await php('session_id($argv[1]); session_start(); echo session_id();', body.sessionId)).trim(), body.sessionId);
          });
        } finally {
          await db.drop();
        }
      },
    );
  }
}
