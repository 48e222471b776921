// The mapping's `session` section: the first format still loads as the keys it named, a monolith
// unlike the sample one (php_serialize sessions in phpredis with its own prefix, cookie and keys)
// is described by a file alone, mistakes fail at load with the path and what is wrong, and the
// LEGACY_SESSION_* variables override what the file says.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadLegacyAdapterConfig } from '../../legacy-adapter/config.ts';
import { MappingError, parseMapping } from '../../legacy-adapter/mapping-format/index.ts';
import { loggedInAs, loggedInSessionData } from '../../legacy-adapter/sessions/php-session.ts';
import { sessionSettings } from '../../legacy-adapter/sessions/settings.ts';
import { ConfigError } from '../../lib/config.ts';

const base = {
  version: 1,
  table: 'members',
  columns: { id: 'member_id', username: 'nick', email: 'mail', hash: 'pw' },
};

function problems(session: unknown, mapping: Record<string, unknown> = base): string[] {
  try {
    parseMapping({ ...mapping, session }, 'm.yaml');
  } catch (error) {
    assert.ok(error instanceof MappingError);
    return error.problems;
  }
  assert.fail('the mapping loaded');
}

test('the first format ({userId, login}) still loads, as the two keys it named deciding who is logged in', () => {
  const { session } = parseMapping({ ...base, session: { serialize_handler: 'php_binary', keys: { userId: 'uid', login: 'who' } } });
  assert.deepEqual(session.keys, { uid: { type: 'int', source: { from: 'id' } }, who: { type: 'string', source: { from: 'username' } } });
  assert.deepEqual(session.loggedInAs, ['uid', 'who']);
  // No session section at all: the sample monolith's keys, even without a username column (it
  // just cannot bridge such users), so every mapping written before this section still loads.
  const noUsername = parseMapping({ ...base, columns: { id: 'member_id', email: 'mail', hash: 'pw' } });
  assert.deepEqual(Object.keys(noUsername.session.keys), ['user_id', 'login']);
  assert.equal(loggedInSessionData({ legacyId: '7', username: null }, noUsername.session).toString(), 'user_id|i:7;login|N;');
  assert.equal(
    loggedInAs(loggedInSessionData({ legacyId: '7', username: null }, noUsername.session), noUsername.session),
    undefined,
    'such a session is nobody: the bridge refuses to make it',
  );
});

test('a second monolith: php_serialize in phpredis with its own prefix, cookie, ids and keys, found by its login name', () => {
  const mapping = parseMapping({
    ...base,
    columns: { ...base.columns, name: 'full_name' },
    session: {
      serialize_handler: 'php_serialize',
      store: { type: 'phpredis', prefix: 'shop:sess:', ttl: 7200 },
      cookie: { name: 'SHOPSESSID', path: '/shop', domain: '.shop.example', secure: true, samesite: 'None', lifetime: 86400 },
      sid: { length: 26, bits_per_character: 6 },
      keys: {
        member: { from: 'username' },
        member_id: { from: 'id', type: 'string' },
        display: { from: 'name' },
        level: { column: 'rank', map: { admin: 9, mod: 5 }, default: 1 },
        is_admin: { column: 'group_id', map: { 1: true }, default: false },
        authenticated: { value: true },
      },
      loggedInAs: ['member', 'authenticated'],
    },
  });
  const { session } = mapping;
  assert.deepEqual(Object.fromEntries(Object.entries(session.keys).map(([k, v]) => [k, v.type])), {
    member: 'string',
    member_id: 'string',
    display: 'string',
    level: 'int',
    is_admin: 'bool',
    authenticated: 'bool',
  });
  const data = loggedInSessionData({ legacyId: '42', username: 'mia', name: 'Mia M', columns: { rank: 'mod', group_id: 1 } }, session);
  assert.equal(
    data.toString(),
    'a:6:{s:6:"member";s:3:"mia";s:9:"member_id";s:2:"42";s:7:"display";s:5:"Mia M";s:5:"level";i:5;s:8:"is_admin";b:1;s:13:"authenticated";b:1;}',
  );
  assert.deepEqual(loggedInAs(data, session), { by: { from: 'username' }, value: 'mia' });
  // Defaults for a value the map does not hold, and for NULL.
  assert.match(
    loggedInSessionData({ legacyId: '43', username: 'kim', columns: { rank: 'member', group_id: null } }, session).toString(),
    /s:5:"level";i:1;s:8:"is_admin";b:0;/,
  );
  // The constant decides too: a session without it, or with another value, is nobody's.
  assert.equal(loggedInAs(Buffer.from('a:1:{s:6:"member";s:3:"mia";}'), session), undefined);
  assert.equal(loggedInAs(Buffer.from('a:2:{s:6:"member";s:3:"mia";s:13:"authenticated";b:0;}'), session), undefined);

  const settings = sessionSettings(session, loadLegacyAdapterConfig({ LEGACY_REDIS_PASSWORD: 'redis-password', LEGACY_REDIS_DB: '3' }));
  assert.deepEqual(settings.store, { type: 'phpredis', prefix: 'shop:sess:', ttl: 7200 });
  assert.deepEqual(settings.cookie, {
    name: 'SHOPSESSID',
    path: '/shop',
    domain: '.shop.example',
    secure: true,
    httpOnly: true,
    sameSite: 'None',
    maxAge: 86400,
  });
  assert.deepEqual(settings.redis, { host: '127.0.0.1', port: 6379, db: 3, password: 'redis-password' });
});

test("a nested array, as $_SESSION['member'] = ['id' => …, 'name' => …], decided by its keys", () => {
  const { session } = parseMapping({
    ...base,
    session: {
      serialize_handler: 'php_serialize',
      keys: { member: { type: 'array', keys: { id: { from: 'id' }, name: { from: 'username' }, level: { column: 'rank', map: { admin: 9 }, default: 1 } } } },
      loggedInAs: ['member.id', 'member.name'],
    },
  });
  const data = loggedInSessionData({ legacyId: '42', username: 'mia', columns: { rank: 'admin' } }, session);
  assert.equal(data.toString(), 'a:1:{s:6:"member";a:3:{s:2:"id";i:42;s:4:"name";s:3:"mia";s:5:"level";i:9;}}');
  assert.deepEqual(loggedInAs(data, session), { by: { from: 'id' }, value: 42 });
  assert.equal(loggedInAs(Buffer.from('a:1:{s:6:"member";a:1:{s:2:"id";i:42;}}'), session), undefined);
  assert.equal(loggedInAs(Buffer.from('a:2:{s:2:"id";i:42;s:4:"name";s:3:"mia";}'), session), undefined, 'flat keys are not the nested ones');
  // Without loggedInAs, the keys from the legacy id decide, nested ones included.
  assert.deepEqual(parseMapping({ ...base, session: { keys: { member: { type: 'array', keys: { id: { from: 'id' } } } } } }).session.loggedInAs, ['member.id']);
});

test('the LEGACY_SESSION_* variables, when set, override the mapping (the sample monolith reads the same ones)', () => {
  const { session } = parseMapping({
    ...base,
    session: {
      store: { type: 'table', table: 'sess', columns: { id: 'k', data: 'v', timestamp: 't' }, timestamp: 'datetime' },
      lifetime: 600,
      cookie: { name: 'A' },
    },
  });
  const none = sessionSettings(session, loadLegacyAdapterConfig({}));
  assert.deepEqual(
    [none.store, none.lifetime, none.cookie.name],
    [{ type: 'table', table: 'sess', columns: { id: 'k', data: 'v', timestamp: 't' }, timestamp: 'datetime' }, 600, 'A'],
  );
  const table = sessionSettings(session, loadLegacyAdapterConfig({ LEGACY_SESSION_TABLE: 'other', LEGACY_SESSION_LIFETIME: '900', LEGACY_SESSION_NAME: 'B' }));
  assert.deepEqual(
    [table.store, table.lifetime, table.cookie.name],
    [{ type: 'table', table: 'other', columns: { id: 'k', data: 'v', timestamp: 't' }, timestamp: 'datetime' }, 900, 'B'],
  );
  assert.deepEqual(sessionSettings(session, loadLegacyAdapterConfig({ LEGACY_SESSION_STORE: 'redis', LEGACY_SESSION_REDIS_PREFIX: 'p:' })).store, {
    type: 'phpredis',
    prefix: 'p:',
  });
  assert.deepEqual(
    sessionSettings(session, loadLegacyAdapterConfig({ LEGACY_SESSION_STORE: 'files', LEGACY_SESSION_SAVE_PATH: '/var/lib/php/sessions' })).store,
    { type: 'files', save_path: '/var/lib/php/sessions' },
  );
  assert.throws(() => sessionSettings(session, loadLegacyAdapterConfig({ LEGACY_SESSION_STORE: 'files' })), ConfigError);
  // Nothing anywhere: the sample monolith's sessions table.
  assert.deepEqual(sessionSettings(parseMapping(base).session, loadLegacyAdapterConfig({})).store, {
    type: 'table',
    table: 'sessions',
    columns: { id: 'id', data: 'data', timestamp: 'last_access' },
    timestamp: 'unix',
  });
});

test('mistakes fail at load, each named with its path', () => {
  assert.match(problems({ store: { type: 'memcached' } }).join('\n'), /session\.store\.type/);
  assert.match(problems({ store: { type: 'files', save_path: '2;/var/lib/php' } }).join('\n'), /session\.store\.save_path: must be an absolute directory path/);
  assert.match(
    problems({ store: { type: 'table', columns: { data: 'data; drop' } } }).join('\n'),
    /session\.store\.columns\.data: must be a plain SQL identifier/,
  );
  assert.match(problems({ sid: { length: 16 } }).join('\n'), /session\.sid\.length/);
  assert.match(problems({ sid: { bits_per_character: 3 } }).join('\n'), /session\.sid\.bits_per_character/);
  assert.match(problems({ cookie: { samesite: 'None' } }).join('\n'), /session\.cookie: samesite None needs secure: true/);
  assert.match(problems({ cookie: { name: 'bad name' } }).join('\n'), /session\.cookie\.name/);
  assert.match(problems({ keys: { uid: { from: 'id', value: 1 } } }).join('\n'), /session\.keys\.uid: needs exactly one source/);
  assert.match(
    problems({ keys: { uid: { from: 'id' }, flag: { value: 1, map: { 1: 2 } } } }).join('\n'),
    /session\.keys\.flag: a constant \(value\) takes no map or default/,
  );
  assert.match(
    problems({ keys: { uid: { from: 'id' }, x: { column: 'c', map: { 1: true, 2: 'yes' } } } }).join('\n'),
    /session\.keys\.x: values of different PHP types: say which with type/,
  );
  assert.match(problems({ keys: { 'a|b': { from: 'id' } } }).join('\n'), /session\.keys/);
  assert.match(problems({ keys: { who: { from: 'name' } }, loggedInAs: ['who'] }).join('\n'), /session\.keys\.who: from: name needs columns\.name/);
  assert.match(problems({ keys: { who: { from: 'username' } } }).join('\n'), /session\.loggedInAs: name the keys that decide who is logged in/);
  assert.match(problems({ keys: { uid: { from: 'id' } }, loggedInAs: ['nope'] }).join('\n'), /session\.loggedInAs: nope is not one of the keys/);
  assert.match(
    problems({ keys: { uid: { from: 'id' }, on: { value: true } }, loggedInAs: ['on', 'uid'] }).join('\n'),
    /the first key must come from the user's row/,
  );
  assert.match(problems({ keys: { userId: 'a', login: 'a' } }).join('\n'), /userId and login must be different keys/);
  assert.match(
    problems({ keys: { member: { type: 'array', keys: { id: { from: 'id', column: 'x' } } } } }).join('\n'),
    /session\.keys\.member\.keys\.id: needs exactly one source/,
  );
  assert.match(
    problems({ keys: { member: { type: 'array', keys: {} } }, loggedInAs: ['member'] }).join('\n'),
    /session\.keys\.member\.keys: needs at least one key/,
  );
  assert.match(
    problems({ keys: { member: { type: 'array', keys: { id: { from: 'id' } } } }, loggedInAs: ['member'] }).join('\n'),
    /session\.loggedInAs: member is not one of the keys/,
  );
  assert.match(
    problems({ keys: { member: { type: 'array', keys: { n: { from: 'name' } } } }, loggedInAs: ['member.n'] }).join('\n'),
    /session\.keys\.member\.keys\.n: from: name needs columns\.name/,
  );
});
