// The verified-token cache: bounded whatever the number of distinct tokens, an entry dies at its
// own deadline, and a token in use outlives ones nobody presents any more.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenCache } from '../../gateway/api-auth/token-cache.ts';

test('token cache: bounded, each entry until its deadline, the least recently used out first', () => {
  const cache = new TokenCache<string>(4);
  for (let i = 0; i < 1000; i++) cache.set(`t${i}`, `v${i}`, 10_000);
  assert.equal(cache.size, 4, 'a flood of distinct tokens cannot grow it');
  assert.equal(cache.get('t999', 0), 'v999');
  assert.equal(cache.get('t0', 0), undefined, 'pushed out');

  cache.set('short', 'x', 100);
  assert.equal(cache.get('short', 99), 'x');
  assert.equal(cache.get('short', 100), undefined, 'never past its deadline');

  const lru = new TokenCache<string>(4);
  for (const k of ['a', 'b', 'c', 'd']) lru.set(k, k, 10_000);
  assert.equal(lru.get('a', 0), 'a', 'a is used again');
  lru.set('e', 'e', 10_000);
  assert.equal(lru.get('a', 0), 'a', 'the token in use stays');
  assert.equal(lru.get('b', 0), undefined, 'the least recently used went');

  const off = new TokenCache<string>(0);
  off.set('a', 'a', 10_000);
  assert.equal(off.get('a', 0), undefined, 'size 0 keeps nothing');
});
