// Routes match the path the upstream will run, whatever the client's spelling of it: once
// `login` is flipped, no spelling of /login.php may reach the legacy login through the
// catch-all route, and what cannot be spelled one way is refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { compileCanonicalizer } from '../../gateway/routes/canonical.ts';
import { repoRoot } from '../../scripts/support/processes.ts';
import { startTestGateway, startUpstream, type TaggedUpstream, type TestGateway } from '../support/gateway.ts';

let legacy: TaggedUpstream;
let next: TaggedUpstream;
let gateway: TestGateway;

before(async () => {
  legacy = await startUpstream('legacy');
  next = await startUpstream('new');
  // The shipped route table, with `login` flipped to the new side as ops would. Its `signin`
  // action is taken out, so that the new side is an upstream that shows what it was sent
  // (route-actions.test.ts runs the action on the same spellings).
  const shipped = parse(readFileSync(join(repoRoot, 'gateway/routes.yaml'), 'utf8')) as { routes: Array<{ name: string; action?: unknown }> };
  for (const route of shipped.routes) if (route.name === 'login') delete route.action;
  gateway = await startTestGateway(stringify(shipped), { LEGACY_UPSTREAM_URL: legacy.url, IDP_UPSTREAM_URL: next.url });
  await gateway.flip('login', { mode: 'idp' });
});

after(async () => {
  await gateway?.stop();
  await Promise.all([legacy?.close(), next?.close()]);
});

/** A request with its target exactly as given (fetch and URL would tidy it first). */
function send(path: string, method = 'GET'): Promise<{ status: number; servedBy: string | undefined; allow: string | undefined; body: string }> {
  const { hostname, port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, servedBy: res.headers['x-served-by'] as string | undefined, allow: res.headers.allow, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('canonical targets: unreserved escapes decoded, "//" and ";" parameters dropped, path info cut for routing only', () => {
  const canonical = compileCanonicalizer(['.php', '.phtml']);
  const cases: Array<[string, string, string]> = [
    // [request target, what goes upstream, what routes match]
    ['/login.php', '/login.php', '/login.php'],
    ['/login.php?next=%2F', '/login.php?next=%2F', '/login.php'],
    ['/%6Cogin.php', '/login.php', '/login.php'],
    ['/%6c%6F%67in%2ephp', '/login.php', '/login.php'],
    ['//login.php', '/login.php', '/login.php'],
    ['/a///b//', '/a/b/', '/a/b/'],
    ['/login.php;x', '/login.php', '/login.php'],
    ['/login.php;jsessionid=1?a=b', '/login.php?a=b', '/login.php'],
    ['/a;x/b', '/a/b', '/a/b'],
    ['/login.php/', '/login.php/', '/login.php'],
    ['/login.php/anything/else', '/login.php/anything/else', '/login.php'],
    ['/LOGIN.PHP/x', '/LOGIN.PHP/x', '/LOGIN.PHP'],
    ['/view.phtml/x', '/view.phtml/x', '/view.phtml'],
    ['/a.php.txt/x', '/a.php.txt/x', '/a.php.txt/x'],
    ['/caf%c3%a9', '/caf%C3%A9', '/caf%C3%A9'],
    ['/%253Cogin.php', '/%253Cogin.php', '/%253Cogin.php'],
    ['/.well-known/openid-configuration', '/.well-known/openid-configuration', '/.well-known/openid-configuration'],
    ['/', '/', '/'],
  ];
  for (const [url, target, routePath] of cases) {
    const result = canonical(url);
    assert.ok(result.ok, `${url} was refused`);
    assert.equal(result.target, target, url);
    assert.equal(result.routePath, routePath, url);
    // Canonical means a fixed point: the hot path and the handler may both apply it.
    assert.deepEqual(canonical(result.target), result, url);
  }
  const refused = [
    '/a/../login.php',
    '/a/./login.php',
    '/a/..',
    '/%2e%2e/login.php',
    '/a/.%2E/b',
    '/a/..;/login.php',
    '/a/%2e;x/b',
    '/a%2Flogin.php',
    '/a%2flogin.php',
    '/a%5Clogin.php',
    '/a\\login.php',
    '/login.php%00',
    '/login.php%00.png',
    '/%zzlogin.php',
    '/login.php%',
    '/login.php%4',
    '/login.php%4g',
    '/login.php#x',
    'http://evil.example/login.php',
    '*',
    'evil.example:443',
    '',
  ];
  for (const url of refused) assert.equal(canonical(url).ok, false, url);
  // Without script suffixes nothing is path info.
  const plain = compileCanonicalizer([]);
  const result = plain('/login.php/x');
  assert.ok(result.ok);
  assert.equal(result.routePath, '/login.php/x');
});

test('every spelling of /login.php reaches the flipped login route, never the legacy catch-all, and goes upstream canonical', async () => {
  const spellings: Array<[string, string]> = [
    ['/login.php', '/login.php'],
    ['/login.php/', '/login.php/'],
    ['//login.php', '/login.php'],
    ['/%6Cogin.php', '/login.php'],
    ['/%6c%6f%67%69%6e%2e%70%68%70', '/login.php'],
    ['/login.php;x', '/login.php'],
    ['/login.php;x/', '/login.php/'],
    ['/login.php/anything', '/login.php/anything'],
    ['///login.php//anything;y?u=1', '/login.php/anything?u=1'],
  ];
  for (const [spelling, forwarded] of spellings) {
    for (const method of ['GET', 'POST']) {
      const before = next.seen.length;
      const res = await send(spelling, method);
      assert.equal(res.status, 200, `${method} ${spelling}`);
      assert.equal(res.servedBy, 'new', `${method} ${spelling} was served by ${res.servedBy}`);
      assert.equal(next.seen.length, before + 1);
      assert.equal(next.seen.at(-1)?.url, forwarded, `${method} ${spelling}`);
    }
  }
  assert.deepEqual(
    legacy.seen.filter((r) => r.url.toLowerCase().includes('login')),
    [],
    'the legacy login was reached',
  );
  // Prefix routes match the canonical path too, and other paths still reach the catch-all.
  assert.equal((await send('//.well-known//openid-%63onfiguration')).servedBy, 'new');
  assert.equal(next.seen.at(-1)?.url, '/.well-known/openid-configuration');
  assert.equal((await send('/index.php/login.php')).servedBy, 'legacy');
  assert.equal(legacy.seen.at(-1)?.url, '/index.php/login.php');
});

test('a method the login route does not list is refused, never handed to the legacy login by the catch-all', async () => {
  // PHP runs login.php for any method, and a script reading $_REQUEST takes credentials from the
  // query: a method the flipped route leaves out must not fall through to the legacy catch-all.
  const before = legacy.seen.length;
  for (const spelling of ['/login.php', '//%6Cogin.php;x', '/login.php/anything?login=alice&password=guess']) {
    for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND']) {
      const res = await send(spelling, method);
      assert.equal(res.status, 405, `${method} ${spelling}`);
      assert.equal(JSON.parse(res.body).error, 'method_not_allowed', `${method} ${spelling}`);
      assert.equal(res.servedBy, undefined, `${method} ${spelling}`);
      assert.deepEqual(res.allow?.split(', ').sort(), ['GET', 'HEAD', 'POST'], `${method} ${spelling}`);
    }
  }
  assert.equal(legacy.seen.length, before, 'the legacy side got a request for the flipped login');
  // HEAD is GET without a body: it follows GET to the new side.
  assert.equal((await send('/login.php', 'HEAD')).servedBy, 'new');
  // Paths the login route does not name still reach the catch-all with any method.
  assert.equal((await send('/other.php', 'PUT')).servedBy, 'legacy');
});

test('headers that would have the upstream run another path or method never reach it', async () => {
  const overrides = {
    'X-Original-URL': '/login.php',
    'X-Rewrite-URL': '/login.php',
    'X-HTTP-Method-Override': 'PUT',
    'X-HTTP-Method': 'PUT',
    'X-Method-Override': 'PUT',
    X_Original_URL: '/login.php',
  };
  const { hostname, port } = new URL(gateway.url);
  const before = legacy.seen.length;
  await new Promise<void>((resolve, reject) => {
    const req = request({ hostname, port, path: '/index.php', headers: overrides, agent: false }, (res) => res.resume().on('end', resolve));
    req.on('error', reject);
    req.end();
  });
  const seen = legacy.seen.slice(before).find((r) => r.url === '/index.php');
  assert.ok(seen, 'the request went to the catch-all');
  for (const name of Object.keys(overrides)) assert.equal(seen.headers[name.toLowerCase()], undefined, name);
});

test('the ordinary path (shadow mode) forwards the canonical target too', async () => {
  await gateway.flip('login', { mode: 'shadow' });
  try {
    const res = await send('//%6Cogin.php;x?u=1', 'GET');
    assert.equal(res.servedBy, 'legacy');
    assert.equal(legacy.seen.at(-1)?.url, '/login.php?u=1');
  } finally {
    await gateway.flip('login', { mode: 'idp' });
  }
});

test('a target that has no canonical spelling is refused with 400 bad_path and reaches no upstream', async () => {
  const seen = () => legacy.seen.length + next.seen.length;
  const before = seen();
  for (const target of [
    '/a/../login.php',
    '/%2e%2e/login.php',
    '/a/..;/login.php',
    '/x%2Flogin.php',
    '/x%5Clogin.php',
    '/x\\login.php',
    '/login.php%00',
    '/%zz/login.php',
    '/login.php%4',
    'http://evil.example/login.php',
  ]) {
    const res = await send(target);
    assert.equal(res.status, 400, target);
    assert.equal(JSON.parse(res.body).error, 'bad_path', target);
  }
  assert.equal((await send('*', 'OPTIONS')).status, 400);
  assert.equal(seen(), before);
});

test("the gateway's own paths are recognised in any spelling and never proxied", async () => {
  const seen = () => legacy.seen.length + next.seen.length;
  const before = seen();
  for (const spelling of ['/admin/api/routes', '//admin/api/routes', '/%61dmin/api//routes', '/admin;x/api/routes']) {
    const res = await send(spelling);
    assert.equal(res.status, 401, spelling);
    assert.equal(res.servedBy, undefined, spelling);
  }
  // The relying party's callback takes GET only: its 405 says the gateway answered.
  for (const spelling of ['/auth/callback', '//auth/callback', '/auth//%63allback', '/auth/callback;x']) {
    const res = await send(spelling, 'POST');
    assert.equal(res.status, 405, spelling);
    assert.equal(res.servedBy, undefined, spelling);
  }
  assert.equal(seen(), before, 'an upstream got a request for one of the gateway’s own paths');
});
