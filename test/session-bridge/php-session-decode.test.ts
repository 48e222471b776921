// The strict PHP session decoder against real PHP: what session_encode() writes under each of
// PHP's serialize handlers, read back as PHP has it, only with that handler; everything else refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERIALIZE_HANDLERS, type SerializeHandler } from '../../legacy-adapter/sessions/php-serialize.ts';
import { decodePhpSession, PhpSessionFormatError, type PhpValue } from '../../legacy-adapter/sessions/php-session-decode.ts';
import { loggedInAs, loggedInSessionData } from '../../legacy-adapter/sessions/php-session.ts';
import { awkwardLogins as logins, phpDecode, phpEncode as phpEncodeAs, phpProblem, phpString, sessionFormat } from './php-cli.ts';

const phpEncode = (expression: string) => phpEncodeAs(expression, 'php');

/** A decoded value as plain JSON-like data (arrays as [key, value] pairs). */
const plain = (value: PhpValue): unknown => (Array.isArray(value) ? value.map(([k, v]) => [k, plain(v)]) : value);
const decoded = (data: Buffer, handler: SerializeHandler = 'php') => Object.fromEntries([...decodePhpSession(data, handler)].map(([k, v]) => [k, plain(v)]));

for (const handler of SERIALIZE_HANDLERS) {
  test(
    `${handler}: reads what PHP session_encode writes: logins in any script, byte lengths, every scalar and nested arrays`,
    { skip: phpProblem },
    async () => {
      for (const login of logins) {
        const data = await phpEncodeAs(`array("user_id" => 42, "login" => ${phpString(login)}, "csrf_token" => "0123abcd")`, handler);
        assert.deepEqual(decoded(data, handler), { user_id: 42, login, csrf_token: '0123abcd' }, login);
        assert.equal(loggedInAs(data, sessionFormat(handler))?.value, 42, login);
        // Our writer and PHP agree byte for byte.
        if (login !== '')
          assert.deepEqual(
            loggedInSessionData({ legacyId: '42', username: login }, sessionFormat(handler)),
            await phpEncodeAs(`array("user_id" => 42, "login" => ${phpString(login)})`, handler),
          );
      }
      const data = await phpEncodeAs(
        'array("n" => null, "t" => true, "pi" => 3.25, "list" => array(1, "two", array("k" => "v")), "map" => array("a|b" => "x;y", 10 => false), "user_id" => 3, "login" => "x")',
        handler,
      );
      assert.deepEqual(decoded(data, handler), {
        n: null,
        t: true,
        pi: 3.25,
        list: [
          [0, 1],
          [1, 'two'],
          [2, [['k', 'v']]],
        ],
        map: [
          ['a|b', 'x;y'],
          [10, false],
        ],
        user_id: 3,
        login: 'x',
      });
      assert.equal(loggedInAs(data, sessionFormat(handler))?.value, 3);
    },
  );
}

test('a php_serialize session whose string holds php-format session data is never read as that data', { skip: phpProblem }, async () => {
  // A value the user chose (a display name, a search, a note), stored by a monolith on
  // session.serialize_handler=php_serialize. Read with the `php` rules, the bytes before its
  // first `|` pass for a key and the rest for user_id 1 logged in as admin.
  const payload = 'X|i:0;user_id|i:1;login|s:5:"admin";Z|a:1:{i:0;s:0:"';
  const data = await phpEncodeAs(`array("note" => ${phpString(payload)})`, 'php_serialize');
  assert.equal(loggedInAs(data, sessionFormat('php'))?.value, 1, 'the attack: read as the php handler would, it is user 1');
  // Read as what it is: one variable `note` holding the string, and nobody logged in.
  assert.deepEqual(decoded(data, 'php_serialize'), { note: payload });
  assert.equal(loggedInAs(data, sessionFormat('php_serialize'))?.value, undefined);
  assert.deepEqual(await phpDecode(data, 'php_serialize'), { ok: true, session: { note: payload }, types: { note: 'string' } }, 'PHP agrees');
  // The same string in a php_binary session is just as inert.
  const binary = await phpEncodeAs(`array("note" => ${phpString(payload)})`, 'php_binary');
  assert.deepEqual(decoded(binary, 'php_binary'), { note: payload });
  assert.equal(loggedInAs(binary, sessionFormat('php_binary'))?.value, undefined);
});

test('php_serialize and php_binary refuse what is not exactly their format', () => {
  const refused: Array<[SerializeHandler, string, Buffer]> = [
    ['php_serialize', 'php-format data', Buffer.from('user_id|i:1;login|s:5:"alice";')],
    ['php_serialize', 'not an array', Buffer.from('s:5:"alice";')],
    ['php_serialize', 'trailing bytes', Buffer.from('a:1:{s:7:"user_id";i:1;}user_id|i:1;')],
    ['php_serialize', 'a short array', Buffer.from('a:2:{s:7:"user_id";i:1;}')],
    ['php_serialize', 'one key twice, as int and string', Buffer.from('a:2:{i:5;i:1;s:1:"5";i:2;}')],
    ['php_serialize', 'an object', Buffer.from('O:8:"stdClass":0:{}')],
    ['php_binary', 'php-format data', Buffer.from('user_id|i:1;login|s:5:"alice";')],
    ['php_binary', 'a key past the end', Buffer.from('\x20user_id', 'latin1')],
    ['php_binary', 'an unset marker', Buffer.from('\x87user_id', 'latin1')],
    ['php_binary', 'a zero-length key', Buffer.from('\x00i:1;', 'latin1')],
    ['php_binary', 'a truncated value', Buffer.from('\x07user_idi:1', 'latin1')],
  ];
  for (const [handler, what, data] of refused) {
    assert.throws(() => decodePhpSession(data, handler), PhpSessionFormatError, `${handler}: ${what}`);
    assert.equal(loggedInAs(data, sessionFormat(handler))?.value, undefined, `${handler}: ${what}`);
  }
  for (const handler of SERIALIZE_HANDLERS) assert.equal(loggedInAs(Buffer.alloc(0), sessionFormat(handler))?.value, undefined, `${handler}: empty`);
});

test('php: reads every scalar type and nested arrays as PHP writes them', { skip: phpProblem }, async () => {
  const data = await phpEncode(
    'array("n" => null, "t" => true, "f" => false, "neg" => -7, "big" => 9007199254740991, "pi" => 3.25, "tiny" => 1.0E-10, "whole" => 2.0, ' +
      '"list" => array(1, "two", array("k" => "v")), "map" => array("a|b" => "x;y", 10 => false), "empty" => array(), "user_id" => 3, "login" => "x")',
  );
  assert.deepEqual(decoded(data), {
    n: null,
    t: true,
    f: false,
    neg: -7,
    big: 9007199254740991,
    pi: 3.25,
    tiny: 1e-10,
    whole: 2,
    list: [
      [0, 1],
      [1, 'two'],
      [2, [['k', 'v']]],
    ],
    map: [
      ['a|b', 'x;y'],
      [10, false],
    ],
    empty: [],
    user_id: 3,
    login: 'x',
  });
  assert.equal(loggedInAs(data, sessionFormat('php'))?.value, 3);
});

test('php: refuses what it does not understand instead of guessing', { skip: phpProblem }, async () => {
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
    assert.throws(() => decodePhpSession(data, 'php'), PhpSessionFormatError, what);
    assert.equal(loggedInAs(data, sessionFormat('php'))?.value, undefined, what);
  }
  // Decodable, but not logged in by auth.php's rule as login_user() writes it.
  for (const data of [
    '',
    'login|s:5:"alice";',
    'user_id|i:0;login|s:5:"alice";',
    'user_id|i:-1;login|s:1:"a";',
    'user_id|s:1:"1";login|s:1:"a";',
    'user_id|i:1;',
    'user_id|i:1;login|N;',
    'csrf_token|s:4:"abcd";',
  ]) {
    assert.equal(loggedInAs(Buffer.from(data), sessionFormat('php'))?.value, undefined, data);
  }
  assert.equal(loggedInAs(Buffer.from('user_id|i:1;login|s:5:"alice";'), sessionFormat('php'))?.value, 1);
});
