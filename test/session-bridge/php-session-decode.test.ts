// The strict PHP session decoder against real PHP: what session_encode() writes, read back as PHP
// has it; and everything else refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodePhpSession, PhpSessionFormatError, type PhpValue } from '../../legacy-adapter/sessions/php-session-decode.ts';
import { loggedInSessionData, loggedInUserId } from '../../legacy-adapter/sessions/php-session.ts';
import { awkwardLogins as logins, phpProblem, runInPhpSession } from './php-cli.ts';

/** $_SESSION = <php expression>; session_encode() in a real PHP with the `php` handler. */
async function phpEncode(expression: string): Promise<Buffer> {
  const stdout = await runInPhpSession([`$_SESSION = ${expression};`, 'echo base64_encode(session_encode());']);
  return Buffer.from(stdout, 'base64');
}

/** A decoded value as plain JSON-like data (arrays as [key, value] pairs). */
const plain = (value: PhpValue): unknown => (Array.isArray(value) ? value.map(([k, v]) => [k, plain(v)]) : value);
const decoded = (data: Buffer) => Object.fromEntries([...decodePhpSession(data)].map(([k, v]) => [k, plain(v)]));

test('reads what PHP session_encode writes: logins in any script, byte lengths', { skip: phpProblem }, async () => {
  for (const login of logins) {
    const data = await phpEncode(`array("user_id" => 42, "login" => base64_decode("${Buffer.from(login).toString('base64')}"), "csrf_token" => "0123abcd")`);
    assert.deepEqual(decoded(data), { user_id: 42, login, csrf_token: '0123abcd' }, login);
    assert.equal(loggedInUserId(data), 42, login);
    // Our writer and PHP agree byte for byte.
    if (login !== '') assert.deepEqual(loggedInSessionData({ legacyId: '42', username: login }), await phpEncode(`array("user_id" => 42, "login" => base64_decode("${Buffer.from(login).toString('base64')}"))`));
  }
});

test('reads every scalar type and nested arrays as PHP writes them', { skip: phpProblem }, async () => {
  const data = await phpEncode(
    'array("n" => null, "t" => true, "f" => false, "neg" => -7, "big" => 9007199254740991, "pi" => 3.25, "tiny" => 1.0E-10, "whole" => 2.0, ' +
      '"list" => array(1, "two", array("k" => "v")), "map" => array("a|b" => "x;y", 10 => false), "empty" => array(), "user_id" => 3, "login" => "x")',
  );
  assert.deepEqual(decoded(data), {
    n: null, t: true, f: false, neg: -7, big: 9007199254740991, pi: 3.25, tiny: 1e-10, whole: 2,
    list: [[0, 1], [1, 'two'], [2, [['k', 'v']]]],
    map: [['a|b', 'x;y'], [10, false]],
    empty: [],
    user_id: 3,
    login: 'x',
  });
  assert.equal(loggedInUserId(data), 3);
});

test('refuses what it does not understand instead of guessing', { skip: phpProblem }, async () => {
  const refused: Array<[string, Buffer]> = [
    ['an object', await phpEncode('array("user_id" => 1, "login" => "a", "o" => new ArrayObject(array(1)))')],
    ['a reference', await phpEncode('(function () { $a = array(1); $s = array("user_id" => 1, "login" => "a", "x" => &$a, "y" => &$a); return $s; })()')],
    ['a 64-bit int past 2^53', await phpEncode('array("user_id" => 1, "login" => "a", "n" => PHP_INT_MAX)')],
    ['INF', await phpEncode('array("user_id" => 1, "login" => "a", "d" => INF)')],
    ['a byte length too long', Buffer.from('user_id|i:1;login|s:6:"alice";')],
    ['a byte length too short', Buffer.from('user_id|i:1;login|s:4:"alice";')],
    ['characters counted instead of bytes', Buffer.from('user_id|i:1;login|s:6:"Müller";')],
    ['trailing garbage', Buffer.from('user_id|i:1;login|s:5:"alice";x')],
    ['a missing semicolon', Buffer.from('user_id|i:1login|s:5:"alice";')],
    ['a leading zero', Buffer.from('user_id|i:01;login|s:5:"alice";')],
    ['a plus sign', Buffer.from('user_id|i:+1;login|s:5:"alice";')],
    ['a duplicate key', Buffer.from('user_id|i:2;user_id|i:1;login|s:5:"alice";')],
    ['an unset marker', Buffer.from('!user_id|user_id|i:1;login|s:5:"alice";')],
    ['an empty key', Buffer.from('|i:1;')],
    ['a bad bool', Buffer.from('user_id|i:1;login|s:5:"alice";b|b:2;')],
    ['a short array', Buffer.from('user_id|i:1;login|s:5:"alice";a|a:2:{i:0;i:1;}')],
    ['an array with a float key', Buffer.from('user_id|i:1;login|s:5:"alice";a|a:1:{d:0.5;i:1;}')],
    ['invalid UTF-8', Buffer.concat([Buffer.from('user_id|i:1;login|s:2:"'), Buffer.from([0xc3, 0x28]), Buffer.from('";')])],
    ['a truncated value', Buffer.from('user_id|i:1;login|s:5:"ali')],
    ['deep nesting', Buffer.from(`user_id|i:1;x|${'a:1:{i:0;'.repeat(40)}i:1;${'}'.repeat(40)}`)],
  ];
  for (const [what, data] of refused) {
    assert.throws(() => decodePhpSession(data), PhpSessionFormatError, what);
    assert.equal(loggedInUserId(data), undefined, what);
  }
  // Decodable, but not logged in by auth.php's rule as login_user() writes it.
  for (const data of ['', 'login|s:5:"alice";', 'user_id|i:0;login|s:5:"alice";', 'user_id|i:-1;login|s:1:"a";', 'user_id|s:1:"1";login|s:1:"a";', 'user_id|i:1;', 'user_id|i:1;login|N;', 'csrf_token|s:4:"abcd";']) {
    assert.equal(loggedInUserId(Buffer.from(data)), undefined, data);
  }
  assert.equal(loggedInUserId(Buffer.from('user_id|i:1;login|s:5:"alice";')), 1);
});
