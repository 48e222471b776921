// The PHP session writer against real PHP: what session_decode() reads back from our bytes, and
// what session_encode() writes for the same session, under each of PHP's serialize handlers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodePhpSession, SERIALIZE_HANDLERS } from '../../legacy-adapter/sessions/php-serialize.ts';
import { loggedInSessionData } from '../../legacy-adapter/sessions/php-session.ts';
import { isPhpSessionId, newPhpSessionId } from '../../legacy-adapter/sessions/session-id.ts';
import { legacySessionData } from '../../scripts/support/legacy-php.ts';
import { awkwardLogins as logins, phpDecode, phpEncode, phpProblem, phpString, runPhp, sessionFormat } from './php-cli.ts';

for (const handler of SERIALIZE_HANDLERS) {
  test(
    `${handler}: PHP session_decode reads what the bridge writes, and session_encode writes the same bytes (non-ASCII too)`,
    { skip: phpProblem },
    async () => {
      for (const login of logins) {
        const data = loggedInSessionData({ legacyId: '42', username: login }, sessionFormat(handler));
        assert.deepEqual(await phpDecode(data, handler), { ok: true, session: { user_id: 42, login }, types: { user_id: 'integer', login: 'string' } }, login);
        assert.deepEqual(data, await phpEncode(`array("user_id" => 42, "login" => ${phpString(login)})`, handler), login);
      }
    },
  );

  test(`${handler}: PHP reads ints at the edge of what is exact; the writer refuses what it cannot say`, { skip: phpProblem }, async () => {
    assert.deepEqual(await phpDecode(encodePhpSession([['n', Number.MAX_SAFE_INTEGER]], handler), handler), {
      ok: true,
      session: { n: Number.MAX_SAFE_INTEGER },
      types: { n: 'integer' },
    });
    assert.throws(() => encodePhpSession([['n', 2 ** 53]], handler), RangeError);
    assert.throws(() => encodePhpSession([['n', 1.5]], handler), RangeError);
    assert.throws(() => encodePhpSession([['', 1]], handler), RangeError);
    assert.throws(() => loggedInSessionData({ legacyId: 'abc', username: 'x' }, sessionFormat(handler)), RangeError);
    assert.throws(() => loggedInSessionData({ legacyId: '0', username: 'x' }, sessionFormat(handler)), RangeError);
  });
}

test('php: the reference format, and the key names it cannot hold', () => {
  // The same bytes the monolith's own login writes (the test harness's reference format).
  assert.equal(loggedInSessionData({ legacyId: '7', username: 'Mia Müller' }, sessionFormat('php')).toString('utf8'), legacySessionData(7, 'Mia Müller'));
  assert.equal(
    encodePhpSession(
      [
        ['user_id', 1],
        ['login', 'alice'],
      ],
      'php',
    ).toString('utf8'),
    'user_id|i:1;login|s:5:"alice";',
  );
  assert.throws(() => encodePhpSession([['a|b', 1]], 'php'), RangeError);
  assert.throws(() => encodePhpSession([['!a', 1]], 'php'), RangeError);
});

test('php_serialize and php_binary: keys the php handler cannot hold, as PHP writes them', { skip: phpProblem }, async () => {
  const awkward: Array<[string, number | string]> = [
    ['a|b', 1],
    ['!x', 'y'],
    ['07', 'not an int key'],
  ];
  // Integer keys: only php_serialize writes them (the others skip them, so the writer refuses them).
  const intKeys: Array<[string, number | string]> = [
    ['7', 'seven'],
    ['-3', 3],
    ['9223372036854775807', 'max'],
  ];
  const phpArray = (entries: Array<[string, number | string]>) =>
    `array(${entries.map(([k, v]) => `${phpString(k)} => ${typeof v === 'number' ? v : phpString(v)}`).join(', ')})`;
  assert.deepEqual(encodePhpSession([...awkward, ...intKeys], 'php_serialize'), await phpEncode(phpArray([...awkward, ...intKeys]), 'php_serialize'));
  assert.deepEqual(encodePhpSession(awkward, 'php_binary'), await phpEncode(phpArray(awkward), 'php_binary'));
  for (const [key] of intKeys) {
    assert.throws(() => encodePhpSession([[key, 1]], 'php_binary'), RangeError, key);
    assert.throws(() => encodePhpSession([[key, 1]], 'php'), RangeError, key);
  }
  assert.equal(
    encodePhpSession(
      [
        ['user_id', 1],
        ['login', 'alice'],
      ],
      'php_serialize',
    ).toString('utf8'),
    'a:2:{s:7:"user_id";i:1;s:5:"login";s:5:"alice";}',
  );
  assert.equal(encodePhpSession([['user_id', 1]], 'php_binary').toString('latin1'), '\x07user_idi:1;');
  // One length byte: PHP's PS_BIN_MAX is 127 (it skips a longer key; the writer refuses it).
  assert.deepEqual(await phpDecode(encodePhpSession([['k'.repeat(127), 1]], 'php_binary'), 'php_binary'), {
    ok: true,
    session: { ['k'.repeat(127)]: 1 },
    types: { ['k'.repeat(127)]: 'integer' },
  });
  assert.throws(() => encodePhpSession([['k'.repeat(128), 1]], 'php_binary'), RangeError);
});

test('session ids: 32 characters of PHP’s own [0-9a-v] alphabet, fresh every time, accepted by PHP', { skip: phpProblem }, async () => {
  const ids = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const id = newPhpSessionId();
    assert.match(id, /^[0-9a-v]{32}$/);
    assert.ok(isPhpSessionId(id));
    ids.add(id);
  }
  assert.equal(ids.size, 2000);
  // Every character of the alphabet shows up (the encoding uses all 5 bits).
  assert.equal(new Set([...ids].join('')).size, 32);
  const id = newPhpSessionId();
  const stdout = await runPhp(
    'ini_set("session.use_strict_mode", "0"); ini_set("session.save_path", sys_get_temp_dir()); session_id($argv[1]); session_start(); echo session_id(); session_destroy();',
    id,
  );
  assert.equal(stdout, id);
  for (const bad of ['', 'short', 'a'.repeat(257), 'has space in it 0123456789', '../../etc/passwd0123456789abc'])
    assert.equal(isPhpSessionId(bad), false, bad);
});
