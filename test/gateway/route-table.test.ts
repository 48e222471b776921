import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { bucketOf, goesToNewSide } from '../../gateway/canary.ts';
import { flagStateSchema, parseStoredFlag } from '../../gateway/flags/state.ts';
import { loadRouteTable, parseRouteTable } from '../../gateway/routes/file.ts';
import { gatewayEnv } from '../../gateway/config.ts';
import { loadResourcesFile } from '../../idp/oidc/resources.ts';
import { compileCanonicalizer } from '../../gateway/routes/canonical.ts';
import { compileMatcher } from '../../gateway/routes/matcher.ts';
import { ConfigError } from '../../lib/config.ts';
import { spawnScript, repoRoot } from '../../scripts/support/processes.ts';

const builtIns = { legacy: 'http://127.0.0.1:8080', idp: 'http://127.0.0.1:3001' };

/** The route a request reaches, as the dispatcher finds it: canonical path first, then the matcher. */
function router<R extends { name: string; paths: string[]; methods?: string[] }>(routes: R[], scriptSuffixes: string[] = ['.php']) {
  const canonical = compileCanonicalizer(scriptSuffixes);
  const match = compileMatcher(routes, (r) => r);
  return (method: string, url: string): R | 'bad_path' | 'no_route' | 'method_not_allowed' => {
    const target = canonical(url);
    if (!target.ok) return 'bad_path';
    const found = match(method, target.routePath);
    return found.ok ? found.route : found.reason;
  };
}

function problems(yamlText: string): string[] {
  try {
    parseRouteTable(parse(yamlText), builtIns, 'routes.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('the route table was accepted');
}

test('the shipped route file is valid and sends the OIDC endpoints to the idp and the rest to legacy', () => {
  const table = loadRouteTable(join(repoRoot, 'gateway/routes.yaml'), builtIns);
  const route = router(table.routes, table.scriptSuffixes);
  const routeOf = (method: string, url: string) => {
    const m = route(method, url);
    return typeof m === 'string' ? m : `${m.name}:${m.default.mode}`;
  };
  assert.equal(routeOf('POST', '/login.php'), 'login:legacy');
  assert.equal(routeOf('GET', '/account.php'), 'account:legacy');
  assert.equal(routeOf('GET', '/api/me.php'), 'api:legacy');
  assert.equal(routeOf('GET', '/'), 'site:legacy');
  assert.equal(routeOf('GET', '/index.php?x=1'), 'site:legacy');
  for (const path of ['/.well-known/openid-configuration', '/auth?client_id=x', '/token', '/jwks', '/me', '/interaction/abc', '/session/end', '/reg']) {
    assert.equal(routeOf(path === '/token' ? 'POST' : 'GET', path), 'oidc:idp', path);
  }
  assert.equal(table.routes.find((r) => r.name === 'login')?.shadow, 'login-decision');
  // Apache runs login.php for these too: so does the route table.
  for (const path of ['/login.php/', '//login.php', '/%6Cogin.php', '/login.php;x', '/login.php/anything'])
    assert.equal(routeOf('POST', path), 'login:legacy', path);
});

test('a bad route file names the route and each problem', () => {
  const found = problems(`
upstreams:
  legacy: http://elsewhere
  reports: ftp://nope
routes:
  - name: login
    paths: [login.php]
    default: { mode: canary, percent: 140 }
  - name: Bad Name
    paths: ['/a*b']
  - name: api
    paths: [/api/*]
    default: sideways
    extra: 1
`);
  const text = found.join('\n');
  assert.match(text, /upstreams\.reports: must be an http:\/\/ or https:\/\/ URL/);
  assert.match(text, /route "login" \(routes\[0\]\): paths\.0: must start with "\/"/);
  assert.match(text, /route "login" \(routes\[0\]\): default\.percent: must be at most 100/);
  assert.match(text, /route "Bad Name" \(routes\[1\]\): name: must be 1-63 characters/);
  assert.match(text, /route "Bad Name" \(routes\[1\]\): paths\.0: may only use "\*" as its last segment/);
  assert.match(text, /route "api" \(routes\[2\]\): default\.mode: mode must be one of legacy, idp, canary, shadow/);
  assert.match(text, /route "api" \(routes\[2\]\).*extra/);
  for (const line of found) assert.match(line, /^routes\.yaml: /);

  const second = problems(`
upstreams: { legacy: 'http://x' }
routes:
  - { name: a, paths: [/a], new: nowhere }
  - { name: a, paths: [/b] }
  - { name: c, paths: [/c], methods: [GET], shadow: login-decision }
`).join('\n');
  assert.match(second, /upstreams\.legacy: is built in/);
  assert.match(second, /route "a" \(routes\[0\]\): new: no upstream named "nowhere"/);
  assert.match(second, /route "a" \(routes\[1\]\): name: is used by an earlier route/);
  assert.match(second, /route "c" \(routes\[2\]\): shadow: login-decision compares form POSTs/);
  assert.deepEqual(problems('routes: []'), ['routes.yaml: routes: the route table needs at least one route']);

  // Requests are matched on canonical paths: a pattern spelled otherwise could never match.
  const spelling = problems(`
scriptSuffixes: [php, .phtml, ./x]
routes:
  - { name: a, paths: ['//a', '/%6Cogin.php', '/a;x', '/b/../c/*', '/ok/*'] }
`).join('\n');
  assert.match(spelling, /scriptSuffixes\.0: must be a file-name ending such as "\.php"/);
  assert.match(spelling, /scriptSuffixes\.2: must be a file-name ending/);
  assert.doesNotMatch(spelling, /scriptSuffixes\.1/);
  for (const index of [0, 1, 2, 3]) assert.match(spelling, new RegExp(`route "a" \\(routes\\[0\\]\\): paths\\.${index}: must be a canonical path`));
  assert.doesNotMatch(spelling, /paths\.4/);
  assert.deepEqual(parseRouteTable(parse('routes: [{ name: a, paths: ["/*"] }]'), builtIns).scriptSuffixes, ['.php']);
  assert.deepEqual(parseRouteTable(parse('scriptSuffixes: []\nroutes: [{ name: a, paths: ["/*"] }]'), builtIns).scriptSuffixes, []);
});

test('the gateway process refuses to start on a bad route file: exit 78 and the message names the route', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-badroutes-'));
  try {
    const file = join(dir, 'routes.yaml');
    writeFileSync(file, 'routes:\n  - name: login\n    paths: [/login.php]\n    default: { mode: canary }\n');
    const proc = spawnScript('gateway/main.ts', {
      GATEWAY_ROUTES_FILE: file,
      GATEWAY_PORT: '0',
      GATEWAY_OPS_PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'g.sqlite')}`,
    });
    assert.equal(await proc.exited, 78);
    assert.match(proc.output(), /route "login" \(routes\[0\]\): default\.percent: must be a whole number from 0 to 100/);

    writeFileSync(file, 'routes: [ {name: x');
    const broken = spawnScript('gateway/main.ts', {
      GATEWAY_ROUTES_FILE: file,
      GATEWAY_PORT: '0',
      GATEWAY_OPS_PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'g.sqlite')}`,
    });
    assert.equal(await broken.exited, 78);
    assert.match(broken.output(), /not valid YAML/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the matcher: exact paths, prefixes that own their root, methods, first match wins, dot segments refused', () => {
  const routes = [
    { name: 'post-only', paths: ['/form'], methods: ['POST'] },
    { name: 'api', paths: ['/api/*'] },
    { name: 'exact', paths: ['/form', '/x.php'] },
    { name: 'all', paths: ['/*'] },
  ];
  const route = router(routes, []);
  const name = (method: string, url: string) => {
    const m = route(method, url);
    return typeof m === 'string' ? m : m.name;
  };
  assert.equal(name('POST', '/form'), 'post-only');
  assert.equal(name('GET', '/form'), 'exact');
  assert.equal(name('GET', '/api'), 'api');
  assert.equal(name('GET', '/api/'), 'api');
  assert.equal(name('GET', '/api/v1/x?y=/z'), 'api');
  assert.equal(name('GET', '/apix'), 'all');
  assert.equal(name('GET', '/x.php?a=b'), 'exact');
  // No script suffixes configured: "/x.php/" is a directory, not x.php with path info.
  assert.equal(name('GET', '/x.php/'), 'all');
  for (const bad of ['/api/../admin', '/api/%2e%2e/secret', '/./x', '/a/..', 'http://evil/x', '*']) assert.equal(name('GET', bad), 'bad_path', bad);
  assert.equal(router([{ name: 'only', paths: ['/only'] }])('GET', '/other'), 'no_route');
});

test('the matcher: a route that names the path but not the method lets only an as specific route take it', () => {
  const route = router([
    { name: 'login', paths: ['/login.php'], methods: ['GET', 'POST'] },
    { name: 'login-writes', paths: ['/login.php'], methods: ['DELETE'] },
    { name: 'api-read', paths: ['/api/*'], methods: ['GET'] },
    { name: 'api-v1-write', paths: ['/api/v1/*'], methods: ['POST'] },
    { name: 'api-write', paths: ['/api/*'], methods: ['PUT'] },
    { name: 'all', paths: ['/*'] },
  ]);
  const name = (method: string, url: string) => {
    const m = route(method, url);
    return typeof m === 'string' ? m : m.name;
  };
  assert.equal(name('POST', '/login.php'), 'login');
  assert.equal(name('HEAD', '/login.php/x'), 'login', 'HEAD goes where GET goes');
  assert.equal(name('DELETE', '/login.php'), 'login-writes', 'the same exact path may split methods between routes');
  for (const method of ['PUT', 'PATCH', 'OPTIONS', 'PROPFIND']) assert.equal(name(method, '/login.php;x'), 'method_not_allowed', method);
  assert.equal(name('PUT', '/api/x'), 'api-write', 'the same prefix may split methods');
  assert.equal(name('POST', '/api/v1/x'), 'api-v1-write', 'a longer prefix is closer');
  assert.equal(name('DELETE', '/api/x'), 'method_not_allowed', 'never down to the catch-all');
  assert.equal(name('PUT', '/api/v1/x'), 'method_not_allowed', 'a shorter prefix is not as close as a refusing longer one');
  assert.equal(name('PUT', '/other'), 'all');
  // Nothing after the refusing route at all: still 405, not 404.
  assert.equal(router([{ name: 'only', paths: ['/only'], methods: ['GET'] }])('POST', '/only'), 'method_not_allowed');
  const m = compileMatcher(
    [
      { name: 'a', paths: ['/a'], methods: ['GET'] },
      { name: 'b', paths: ['/a'], methods: ['POST'] },
      { name: 'c', paths: ['/*'] },
    ],
    (r) => r,
  );
  assert.deepEqual(m('PUT', '/a'), { ok: false, reason: 'method_not_allowed', allow: 'GET, HEAD, POST' });
});

test('flag values: the schema refuses nonsense with a clear message', () => {
  assert.deepEqual(parseStoredFlag('{"mode":"canary","percent":25}'), { ok: true, state: { mode: 'canary', percent: 25 } });
  assert.deepEqual(parseStoredFlag('{"mode":"shadow"}'), { ok: true, state: { mode: 'shadow' } });
  const refused: Array<[string, RegExp]> = [
    ['nope', /not JSON/],
    ['{"mode":"sideways"}', /mode must be one of legacy, idp, canary, shadow/],
    ['{"mode":"canary","percent":101}', /percent: must be at most 100/],
    ['{"mode":"canary","percent":-1}', /percent: must be at least 0/],
    ['{"mode":"canary","percent":2.5}', /percent: must be a whole number/],
    ['{"mode":"canary","percent":"10"}', /percent: must be a whole number/],
    ['{"mode":"canary"}', /percent/],
    ['{"mode":"idp","percent":10}', /percent/],
  ];
  for (const [raw, message] of refused) {
    const parsed = parseStoredFlag(raw);
    assert.equal(parsed.ok, false, raw);
    if (!parsed.ok) assert.match(parsed.problem, message, raw);
  }
  assert.equal(flagStateSchema.safeParse({ mode: 'legacy' }).success, true);
});

test('canary buckets are stable and monotone: raising the percentage only moves users to the new side', () => {
  const keys = Array.from({ length: 2000 }, (_, i) => `visitor-${i}`);
  for (const key of keys.slice(0, 50)) assert.equal(bucketOf(key), bucketOf(key));
  for (const key of keys) {
    const b = bucketOf(key);
    assert.ok(b >= 0 && b < 10_000);
    let wasNew = false;
    for (let p = 0; p <= 100; p++) {
      const isNew = goesToNewSide(b, p);
      assert.ok(!(wasNew && !isNew), `bucket ${b} went back to legacy at ${p}%`);
      wasNew = isNew;
    }
    assert.equal(goesToNewSide(b, 0), false);
    assert.equal(goesToNewSide(b, 100), true);
  }
});

test("shadow: login-decision needs the monolith's own signals and field names in the route file", () => {
  const text = problems(`
routes:
  - { name: a, paths: [/a], shadow: login-decision }
  - { name: b, paths: [/b], loginDecision: { fields: { login: u, password: p }, accepted: { status: [302] }, refused: { status: [200] } } }
  - { name: c, paths: [/c], shadow: login-decision, loginDecision: { fields: { login: u, password: p }, accepted: { status: [200, 302] }, refused: { status: [200] } } }
`).join('\n');
  assert.match(text, /route "a" \(routes\[0\]\): loginDecision: shadow: login-decision needs the form's fields/);
  assert.match(text, /route "b" \(routes\[1\]\): loginDecision: only read with shadow: login-decision/);
  assert.match(text, /route "c" \(routes\[2\]\): loginDecision: accepted and refused share a status and a location/);
  const shape = problems(`
routes:
  - { name: d, paths: [/d], shadow: login-decision, loginDecision: { fields: { login: u }, accepted: { status: [] }, refused: { status: [200] } } }
`).join('\n');
  assert.match(shape, /route "d" \(routes\[0\]\): loginDecision\.fields\.password/);
  assert.match(shape, /route "d" \(routes\[0\]\): loginDecision\.accepted\.status/);
  // The same status told apart by where it points is fine: a redirect to the account page or back to the form.
  const table = parseRouteTable(
    parse(`
routes:
  - { name: login, paths: [/signin], shadow: login-decision, loginDecision: { fields: { login: email, password: pw }, accepted: { status: [302], location: /home }, refused: { status: [302], location: /signin } } }
`),
    builtIns,
  );
  assert.deepEqual(table.routes[0]?.loginDecision?.fields, { login: 'email', password: 'pw' });
});

test('auth: every method the route serves needs its scopes, and identity headers must be ones the door strips', () => {
  const found = problems(`
routes:
  - name: open
    paths: [/open/*]
    auth: { bearer: required, audience: 'https://api.example.test', scopes: { GET: [a:read] } }
  - name: listed
    paths: [/listed/*]
    methods: [GET, POST]
    auth: { bearer: optional, audience: 'https://api.example.test', scopes: { get: [a:read], DELETE: [a:write] } }
  - name: headers
    paths: [/h/*]
    auth: { bearer: required, audience: 'https://api.example.test', scopes: { default: [] }, headers: { X-Legacy-User: legacy_username, 'X Bad': sub, X-Remote-User: sub, x-remote-user: sub } }
`).join('\n');
  assert.match(found, /route "open" \(routes\[0\]\): auth\.scopes: the route matches every method, so it needs a "default"/);
  assert.match(found, /route "listed" \(routes\[1\]\): auth\.scopes: no scopes for POST, which the route matches/);
  assert.doesNotMatch(found, /no scopes for GET/, 'method names are case-insensitive');
  assert.match(found, /route "listed" \(routes\[1\]\): auth\.scopes\.DELETE: the route does not match DELETE/);
  assert.match(found, /route "headers" \(routes\[2\]\): auth\.headers\.X-Legacy-User: must be a header the gateway strips/);
  assert.match(found, /route "headers" \(routes\[2\]\): auth\.headers\.X Bad: must be a header name/);
  assert.match(found, /route "headers" \(routes\[2\]\): auth\.headers: a header is named twice/);

  const shape = problems(`
routes:
  - name: a
    paths: [/a]
    auth: { bearer: sometimes, audience: 'ftp://x', scopes: { default: ['bad scope'] }, headers: { X-User-Id: password } }
`).join('\n');
  assert.match(shape, /route "a" \(routes\[0\]\): auth\.bearer: /);
  assert.match(shape, /route "a" \(routes\[0\]\): auth\.audience: must be an http/);
  assert.match(shape, /route "a" \(routes\[0\]\): auth\.scopes\.default\.0: a scope is printable ASCII/);
  assert.match(shape, /route "a" \(routes\[0\]\): auth\.headers\.X-User-Id: /);

  const table = parseRouteTable(
    parse(`
routes:
  - { name: a, paths: [/a], methods: [GET, HEAD], auth: { bearer: required, audience: 'https://api.example.test', scopes: { GET: [a:read] } } }
`),
    builtIns,
  );
  assert.deepEqual(table.routes[0]?.auth?.scopes, { GET: ['a:read'] }, 'HEAD is checked as GET');
});

for (const [routes, resources] of [
  ['gateway/routes.yaml', 'idp/resources.yaml'],
  ['gateway/routes-legacy-php-2.yaml', 'idp/resources-legacy-php-2.yaml'],
] as const) {
  test(`the shipped api route of ${routes} asks for tokens ${resources} issues: its audience, scopes and legacy claims, introspectable by the gateway`, () => {
    const auth = loadRouteTable(join(repoRoot, routes), builtIns).routes.find((r) => r.name === 'api')?.auth;
    assert.ok(auth, 'the api route checks bearer tokens');
    assert.equal(auth.bearer, 'optional', 'page scripts keep their PHP session');
    const resource = loadResourcesFile(join(repoRoot, resources)).byAudience(auth.audience);
    assert.ok(resource, `${resources} declares ${auth.audience}`);
    for (const scope of Object.values(auth.scopes).flat()) assert.ok(resource.scopes.has(scope), `${scope} is the resource's`);
    for (const claim of Object.values(auth.headers))
      if (claim.startsWith('legacy_')) assert.ok((resource.accessTokenClaims as string[]).includes(claim), `the resource puts ${claim} in its tokens`);
    assert.ok(resource.introspectionClients.has(gatewayEnv.GATEWAY_OIDC_CLIENT_ID.parse(undefined)), 'the gateway may introspect its opaque tokens');
  });
}
