// Where /auth/login may send a browser back to after sign-in. The rules are checked on the value
// the browser will really get (the normalised path), not only on what was asked for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeReturnTo } from '../../gateway/signin/return-to.ts';

const ORIGIN = 'https://site.example';

test('a dot segment cannot turn a local path into //host', () => {
  // new URL('/.//evil.example/x', origin).pathname is '//evil.example/x': a protocol-relative Location.
  for (const target of ['/.//evil.example/x', '/./', '/a/../..//evil.example/x', '/x/..//evil.example', '/..', '/x/.', '/x/./y', '/x/..?q', '/x/.#f']) {
    assert.equal(safeReturnTo(target, ORIGIN), undefined, target);
  }
});

test('encoded dots, slashes, backslashes and control characters are refused', () => {
  for (const target of [
    '/%2e//evil.example/x',
    '/%2E%2E//evil.example',
    '/.%2e//evil.example',
    '/%2f/evil.example',
    '/%2F%2Fevil.example',
    '/%5cevil.example',
    '/%5C%5Cevil.example',
    '/x%0d%0aset-cookie:a=b',
    '/x?q=%00',
    '/x#%7f',
  ]) {
    assert.equal(safeReturnTo(target, ORIGIN), undefined, target);
  }
});

test('other origins, schemes, backslashes and raw control characters are refused', () => {
  for (const target of [
    'https://evil.example/',
    '//evil.example/x',
    '/\\evil.example/x',
    '\\\\evil.example',
    'javascript:alert(1)',
    'account.php',
    '/x\r\nset-cookie:a=b',
    '/x\tx',
    `/${'a'.repeat(2048)}`,
  ]) {
    assert.equal(safeReturnTo(target, ORIGIN), undefined, JSON.stringify(target));
  }
});

test('ordinary local paths come back as they were, query and fragment included', () => {
  assert.equal(safeReturnTo(undefined, ORIGIN), '/');
  assert.equal(safeReturnTo('', ORIGIN), '/');
  for (const target of ['/', '/account.php', '/account.php?tab=1#top', '/a//b', '/notes/..x/y', '/search?q=a%2Fb', '/caf%C3%A9']) {
    assert.equal(safeReturnTo(target, ORIGIN), target, target);
  }
});

test('every accepted result resolves on the public origin and is never protocol-relative', () => {
  const pieces = ['/', '.', '..', '%2e', '%2f', '%5c', '\\', 'evil.example', '?', '#', '@', ':'];
  // Every path of up to four pieces: whatever is accepted must be a plain local path.
  const walk = (prefix: string, depth: number): void => {
    const result = safeReturnTo(prefix, ORIGIN);
    if (result !== undefined) {
      assert.ok(result.startsWith('/') && !result.startsWith('//') && !result.startsWith('/\\'), `${prefix} -> ${result}`);
      assert.equal(new URL(result, ORIGIN).origin, ORIGIN, `${prefix} -> ${result}`);
    }
    if (depth === 4) return;
    for (const piece of pieces) walk(prefix + piece, depth + 1);
  };
  walk('/', 0);
});
