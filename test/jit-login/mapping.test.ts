import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '../../lib/config.ts';
import { loadLegacyAdapterConfig } from '../../legacy-adapter/config.ts';
import { legacyDatabaseUrl, loadMapping, MappingError, parseMapping } from '../../legacy-adapter/mapping-format/index.ts';
import { spawnScript } from '../../scripts/support/processes.ts';
import { FORUM_MAPPING, LEGACY_PHP_MAPPING } from '../../scripts/support/legacy-adapter.ts';

const dir = mkdtempSync(join(tmpdir(), 'idm-mapping-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const minimal = { version: 1, table: 'users', columns: { id: 'id', username: 'login', hash: 'pw' } };

function problemsOf(document: unknown): string[] {
  try {
    parseMapping(document, 'm.yaml');
  } catch (error) {
    assert.ok(error instanceof MappingError && error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('mapping was accepted');
}

test('the shipped mappings load: the sample monolith and a differently shaped forum schema', () => {
  const php = loadMapping(LEGACY_PHP_MAPPING);
  assert.equal(php.table, 'users');
  assert.deepEqual(php.columns, { id: 'user_id', username: 'user_login', email: 'user_email', hash: 'user_pass', salt: 'user_salt', name: 'display_name' });
  assert.deepEqual(php.passwords, {
    hexCandidates: ['md5(salt.password)', 'sha1(salt.password)', 'sha256(salt.password)'],
    encodings: ['utf8'],
    nullSalt: 'empty',
  });
  assert.deepEqual(php.active, { column: 'is_active', activeValues: [1] });
  const forum = loadMapping(FORUM_MAPPING);
  assert.equal(forum.columns.username, undefined);
  assert.deepEqual(forum.passwords.encodings, ['latin1', 'utf8']);
  assert.deepEqual(forum.active, { column: 'status', activeValues: ['active', 'verified'] });
});

test('defaults: utf8, no candidates, NULL salt means no salt, LOWER() comparisons', () => {
  const m = parseMapping(minimal);
  assert.deepEqual(m.passwords, { hexCandidates: [], encodings: ['utf8'], nullSalt: 'absent' });
  assert.deepEqual(m.lookup, { caseInsensitive: 'lower' });
  assert.deepEqual(parseMapping({ ...minimal, passwords: { encodings: 'latin1' } }).passwords.encodings, ['latin1']);
});

test('every problem of a bad mapping is named with its path', () => {
  const problems = problemsOf({
    version: 1,
    table: 'users; drop table x',
    columns: { id: 'id', hash: 'pass word' },
    passwords: { hexCandidates: ['md5', 'rot13'], encodings: ['ebcdic'] },
    active: { column: 'on' },
    extra: true,
  });
  const text = problems.join('\n');
  assert.match(text, /m\.yaml: table: must be a table name/);
  assert.match(text, /columns\.hash: must be a plain SQL identifier/);
  assert.match(text, /passwords\.hexCandidates\.1: must be one of: md5, /);
  assert.match(text, /passwords\.encodings/);
  assert.match(text, /active/);
  assert.match(text, /extra|Unrecognized key/);
});

test('a mapping needs a login column, a salt column for salted candidates, and a known version', () => {
  assert.match(
    problemsOf({ version: 1, table: 't', columns: { id: 'id', hash: 'h' } }).join('\n'),
    /columns: needs at least one of columns.username and columns.email/,
  );
  assert.match(problemsOf({ ...minimal, passwords: { hexCandidates: ['md5(salt.password)'] } }).join('\n'), /salted hexCandidates need columns.salt/);
  assert.match(problemsOf({ ...minimal, version: 2 }).join('\n'), /version/);
});

test('a database URL with a password is refused in the mapping; LEGACY_DATABASE_URL wins over the mapping', () => {
  assert.match(problemsOf({ ...minimal, database: { url: 'mysql://app:hunter2@db/legacy' } }).join('\n'), /must not carry a password/);
  assert.doesNotMatch(problemsOf({ ...minimal, database: { url: 'mysql://app:hunter2@db/legacy' } }).join('\n'), /hunter2/);
  const m = parseMapping({ ...minimal, database: { url: 'mysql://app@db/legacy' } });
  assert.equal(legacyDatabaseUrl(undefined, m), 'mysql://app@db/legacy');
  assert.equal(legacyDatabaseUrl('mysql://app:secret@db2/legacy', m), 'mysql://app:secret@db2/legacy');
  assert.equal(legacyDatabaseUrl(undefined, parseMapping(minimal)), 'sqlite:./data/legacy.sqlite');
});

test('unreadable files and YAML syntax errors are clear; JSON mappings work too', () => {
  assert.throws(() => loadMapping(join(dir, 'missing.yaml')), /missing\.yaml: cannot read the mapping file \(ENOENT\)/);
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, 'table: [users\n');
  assert.throws(() => loadMapping(broken), /broken\.yaml: not valid YAML\/JSON/);
  const json = join(dir, 'm.json');
  writeFileSync(json, JSON.stringify(minimal));
  assert.equal(loadMapping(json).columns.hash, 'pw');
});

test('LEGACY_MAPPING_FILE defaults to the sample monolith mapping; LEGACY_DATABASE_URL is optional', () => {
  const config = loadLegacyAdapterConfig({});
  assert.equal(config.LEGACY_MAPPING_FILE, 'legacy-adapter/mappings/legacy-php.yaml');
  assert.equal(config.LEGACY_DATABASE_URL, undefined);
  assert.throws(() => loadLegacyAdapterConfig({ LEGACY_FINGERPRINT_KEY: 'short' }), /LEGACY_FINGERPRINT_KEY: must be at least 32/);
});

test('the adapter refuses to start with a bad mapping: exit 78 naming the problem', async () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'version: 1\ntable: users\ncolumns: { id: user_id, hash: user_pass }\n');
  const proc = spawnScript('legacy-adapter/main.ts', {
    LEGACY_MAPPING_FILE: bad,
    LEGACY_DATABASE_URL: 'sqlite::memory:',
    LEGACY_ADAPTER_PORT: '0',
    LEGACY_ADAPTER_OPS_PORT: '0',
  });
  assert.equal(await proc.exited, 78);
  assert.match(proc.output(), /bad\.yaml: columns: needs at least one of columns.username and columns.email/);
});

test("session.serialize_handler: php unless the mapping names another of PHP's handlers", () => {
  assert.equal(parseMapping(minimal).session.serialize_handler, 'php');
  assert.equal(loadMapping(LEGACY_PHP_MAPPING).session.serialize_handler, 'php');
  for (const handler of ['php_serialize', 'php_binary'] as const)
    assert.equal(parseMapping({ ...minimal, session: { serialize_handler: handler } }).session.serialize_handler, handler);
  assert.match(problemsOf({ ...minimal, session: { serialize_handler: 'igbinary' } }).join('\n'), /^m\.yaml: session\.serialize_handler: /m);
  assert.match(problemsOf({ ...minimal, session: { serializeHandler: 'php' } }).join('\n'), /m\.yaml: session: .*serializeHandler/);
});

test('session.keys in the first format: the $_SESSION names of the user id and login, plain names, two of them', () => {
  const keys = (userId: string, login: string) => ({
    [userId]: { type: 'int', source: { from: 'id' } },
    [login]: { type: 'string', source: { from: 'username' } },
  });
  assert.deepEqual(parseMapping(minimal).session.keys, keys('user_id', 'login'));
  assert.deepEqual(parseMapping({ ...minimal, session: { keys: { userId: 'uid', login: 'username' } } }).session.keys, keys('uid', 'username'));
  assert.deepEqual(parseMapping({ ...minimal, session: { keys: { userId: 'uid', login: 'username' } } }).session.loggedInAs, ['uid', 'username']);
  for (const bad of ['a|b', '!uid', '7', '', 'x'.repeat(64)])
    assert.match(problemsOf({ ...minimal, session: { keys: { userId: bad } } }).join('\n'), /session\.keys\.userId: must be a plain name/, bad);
  assert.match(problemsOf({ ...minimal, session: { keys: { userId: 'login' } } }).join('\n'), /session\.keys: userId and login must be different keys/);
});
