// The shipped route file reaches every page and endpoint the idp serves: a real idp (its own
// pages, every optional feature the shipped configuration can turn on) is walked (its express
// routes, its static assets, oidc-provider's named routes and what its discovery document
// advertises) and each path is matched as the gateway matches it.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Express } from 'express';
import { loadRouteTable, type RouteDefinition } from '../../gateway/routes/file.ts';
import { compileCanonicalizer } from '../../gateway/routes/canonical.ts';
import { compileMatcher } from '../../gateway/routes/matcher.ts';
import { repoRoot } from '../../scripts/support/processes.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';

/** oidc-provider's route names (lib/helpers/initialize_app.js); those of features the idp leaves off have no path. */
const PROVIDER_ROUTES = [
  'authorization',
  'resume',
  'userinfo',
  'token',
  'jwks',
  'discovery',
  'registration',
  'client',
  'revocation',
  'introspection',
  'end_session',
  'end_session_confirm',
  'end_session_success',
  'device_authorization',
  'code_verification',
  'device_resume',
  'pushed_authorization_request',
  'backchannel_authentication',
  'credential',
  'challenge',
  'openid_credential_issuer',
];
/** The idp's own paths that must never be reached from outside: its internal API, and its bare service banner. */
const NOT_PUBLIC = (path: string) => path === '/' || path === '/internal' || path.startsWith('/internal/');

/** oidc-provider's Provider#pathFor, which its typings here leave out. */
interface NamedRoutes {
  pathFor(name: string, params: Record<string, string>): string;
}

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  rawPath?: string | string[];
}

/** Every path the express app routes itself (a sample value for each parameter), with a method it takes. */
function expressPaths(app: Express): Array<{ method: string; path: string }> {
  const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
  const sample = (path: string) => path.replace(/:[A-Za-z_]+/g, 'x1');
  const found: Array<{ method: string; path: string }> = [];
  for (const layer of stack) {
    if (layer.route) {
      for (const path of [layer.route.path].flat())
        for (const method of Object.keys(layer.route.methods)) found.push({ method: method.toUpperCase(), path: sample(path) });
    } else {
      for (const path of [layer.rawPath ?? '/'].flat()) if (path !== '/') found.push({ method: 'GET', path: sample(path) });
    }
  }
  return found;
}

let idp: TestIdp;
let app: Express | undefined;
before(async () => {
  // Every feature with a route of its own on: dynamic registration needs an initial access token (the harness sets one).
  idp = await startTestIdp({ storage: { db: 'sqlite', redis: false }, realPages: true, onApp: (a) => (app = a) });
});
after(async () => {
  await idp?.stop();
});

test('the shipped route file sends every page and endpoint of the idp to the idp, and its internal API nowhere near it', async () => {
  assert.ok(app, 'the idp exposed its express app');
  const table = loadRouteTable(join(repoRoot, 'gateway/routes.yaml'), { legacy: 'http://127.0.0.1:8080', idp: idp.url });
  const canonical = compileCanonicalizer(table.scriptSuffixes);
  const match = compileMatcher(table.routes, (r) => r);
  const routeOf = (method: string, path: string): RouteDefinition | undefined => {
    const target = canonical(path);
    assert.ok(target.ok, `${path} is a canonical path`);
    const found = match(method, target.routePath);
    return found.ok ? found.route : undefined;
  };

  const paths = expressPaths(app);
  for (const file of readdirSync(join(repoRoot, 'idp/interactions/static'))) paths.push({ method: 'GET', path: `/interaction/static/${file}` });
  for (const name of PROVIDER_ROUTES) {
    let path: string;
    try {
      path = (idp.provider as unknown as NamedRoutes).pathFor(name, { uid: 'x1', clientId: 'x1' });
    } catch {
      continue; // a feature the idp does not turn on
    }
    for (const method of ['GET', 'POST']) paths.push({ method, path });
  }
  // Both discovery documents share one route name (pathFor gives the OAuth one): the OpenID one is read here.
  const discoveryPath = '/.well-known/openid-configuration';
  paths.push({ method: 'GET', path: discoveryPath });
  const discovery = (await (await fetch(`${idp.url}${discoveryPath}`)).json()) as Record<string, unknown>;
  for (const value of Object.values(discovery)) {
    if (typeof value === 'string' && value.startsWith(idp.issuer))
      paths.push({ method: 'GET', path: new URL(value).pathname }, { method: 'POST', path: new URL(value).pathname });
  }

  const wanted = paths.filter((p) => !NOT_PUBLIC(p.path));
  // The walk found the pages this test exists for, so an empty walk cannot pass.
  for (const path of [
    '/account/password',
    '/interaction/x1',
    '/interaction/x1/login',
    '/interaction/static/idp.css',
    '/session/end',
    '/session/end/confirm',
    '/token',
    '/token/introspection',
    '/token/revocation',
    '/jwks',
    '/me',
    '/reg',
    '/.well-known/openid-configuration',
    '/auth/x1',
  ]) {
    assert.ok(
      wanted.some((p) => p.path === path),
      `the walk found ${path}`,
    );
  }
  for (const { method, path } of wanted) {
    const route = routeOf(method, path);
    assert.ok(route, `${method} ${path} matches a route`);
    assert.equal(route.default.mode, 'idp', `${method} ${path} goes to the idp side (route "${route.name}")`);
    assert.equal(route.new, 'idp', `${method} ${path}: route "${route.name}" has the idp as its new side`);
  }
  for (const { method, path } of paths.filter((p) => NOT_PUBLIC(p.path))) {
    assert.notEqual(routeOf(method, path)?.default.mode, 'idp', `${method} ${path} is not routed to the idp`);
  }
});
