// The PHP session writer against real PHP: what session_decode() reads back from our bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodePhpSession } from '../../legacy-adapter/sessions/php-serialize.ts';
import { loggedInSessionData } from '../../legacy-adapter/sessions/php-session.ts';
import { isPhpSessionId, newPhpSessionId } from '../../legacy-adapter/sessions/session-id.ts';
import { legacySessionData } from '../support/legacy-php.ts';
import { awkwardLogins as logins, phpProblem, runInPhpSession, runPhp } from './php-cli.ts';

/** session_decode() in a real PHP, with the default `php` serialize_handler; returns $_SESSION as JSON. */
async function phpDecode(data: Buffer): Promise<unknown> {
  const stdout = await runInPhpSession(
    [
      '$ok = session_decode(base64_decode($argv[1]));',
      'echo json_encode(array("ok" => $ok, "session" => $_SESSION, "types" => array_map("gettype", $_SESSION)), JSON_UNESCAPED_UNICODE);',
    ],
    data.toString('base64'),
  );
  return JSON.parse(stdout);
}

test('PHP session_decode reads what the bridge writes, byte lengths included (non-ASCII too)', { skip: phpProblem }, async () => {
  for (const login of logins) {
    const data = loggedInSessionData({ legacyId: '42', username: login });
    assert.deepEqual(await phpDecode(data), { ok: true, session: { user_id: 42, login }, types: { user_id: 'integer', login: 'string' } }, login);
  }
  // The same bytes the monolith's own login writes (the test harness's reference format).
  assert.equal(loggedInSessionData({ legacyId: '7', username: 'Mia Müller' }).toString('utf8'), legacySessionData(7, 'Mia Müller'));
  assert.equal(encodePhpSession([['user_id', 1], ['login', 'alice']]).toString('utf8'), 'user_id|i:1;login|s:5:"alice";');
});

test('PHP reads ints at the edge of what is exact, and the writer refuses what it cannot say', { skip: phpProblem }, async () => {
  assert.deepEqual(await phpDecode(encodePhpSession([['n', Number.MAX_SAFE_INTEGER]])), { ok: true, session: { n: Number.MAX_SAFE_INTEGER }, types: { n: 'integer' } });
  assert.throws(() => encodePhpSession([['n', 2 ** 53]]), RangeError);
  assert.throws(() => encodePhpSession([['n', 1.5]]), RangeError);
  assert.throws(() => encodePhpSession([['a|b', 1]]), RangeError);
  assert.throws(() => encodePhpSession([['!a', 1]]), RangeError);
  assert.throws(() => loggedInSessionData({ legacyId: 'abc', username: 'x' }), RangeError);
  assert.throws(() => loggedInSessionData({ legacyId: '0', username: 'x' }), RangeError);
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
  const stdout = await runPhp('ini_set("session.use_strict_mode", "0"); ini_set("session.save_path", sys_get_temp_dir()); session_id($argv[1]); session_start(); echo session_id(); session_destroy();', id);
  assert.equal(stdout, id);
  for (const bad of ['', 'short', 'a'.repeat(257), 'has space in it 0123456789', '../../etc/passwd0123456789abc']) assert.equal(isPhpSessionId(bad), false, bad);
});
