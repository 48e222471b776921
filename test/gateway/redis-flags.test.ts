import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTestRedis, redisProblem, REDIS_TEST_URL, skipLoudly } from '../support/databases.ts';
import { freePort, startServiceProcess, type SpawnedService } from '../support/processes.ts';
import { ADMIN_TOKEN, eventually, metric, startUpstream } from './helpers.ts';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function routeState(gateway: SpawnedService, route: string) {
  const res = await fetch(`${gateway.url}/admin/api/routes/${route}`, { headers: auth });
  return (await res.json()) as { mode: string; percent: number | null; source: string; fallbackReason: string | null };
}

test('two gateway processes share flags in Redis: a flip on one reaches the other within a second; bad or missing flags fall back to the default', async (t) => {
  const problem = await redisProblem();
  if (problem) return skipLoudly(t, `Redis at ${REDIS_TEST_URL}`, problem);
  const { redis, prefix, cleanup } = await createTestRedis();
  const legacy = await startUpstream('legacy');
  const next = await startUpstream('new');
  const dir = mkdtempSync(join(tmpdir(), 'gateway-redis-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, 'routes:\n  - { name: app, paths: ["/*"], default: legacy }\n');
  const env = {
    GATEWAY_ROUTES_FILE: routes,
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    LEGACY_UPSTREAM_URL: legacy.url,
    IDP_UPSTREAM_URL: next.url,
    DATABASE_URL: `sqlite:${join(dir, 'gateway.sqlite')}`,
    REDIS_URL: REDIS_TEST_URL,
    REDIS_KEY_PREFIX: prefix,
    GATEWAY_FLAG_RELOAD_MS: '1000',
  };
  const gateways: SpawnedService[] = [];
  try {
    gateways.push(await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', env));
    gateways.push(await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', env));
    const [a, b] = gateways as [SpawnedService, SpawnedService];
    const sideVia = async (g: SpawnedService) => (await fetch(`${g.url}/x`)).headers.get('x-served-by');

    assert.deepEqual(await routeState(b, 'app'), { ...(await routeState(b, 'app')), mode: 'legacy', source: 'default', fallbackReason: 'missing' });

    for (const [state, side] of [[{ mode: 'idp' }, 'new'], [{ mode: 'canary', percent: 100 }, 'new'], [{ mode: 'legacy' }, 'legacy']] as const) {
      const flip = await fetch(`${a.url}/admin/api/routes/app/flag`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ ...state, reason: 'two replicas' }) });
      assert.equal(flip.status, 200, await flip.text());
      const reached = await eventually(async () => (await routeState(b, 'app')).mode === state.mode, 1_000, 10);
      assert.ok(reached, `the flip to ${state.mode} on one gateway did not reach the other within 1 s`);
      assert.equal(await sideVia(b), side);
      assert.equal(await sideVia(a), side);
    }
    const stored = await redis.hget('gateway:flags', 'app');
    assert.deepEqual(JSON.parse(stored ?? ''), { mode: 'legacy' });

    // Something else wrote nonsense: both replicas ignore it, run on the default, and say so.
    await redis.hset('gateway:flags', 'app', JSON.stringify({ mode: 'canary', percent: 500 }));
    await redis.publish(`${prefix}gateway:flags:changed`, 'app');
    await expectFallback(b, 'unreadable');
    const metrics = await (await fetch(`${b.opsUrl}/metrics`)).text();
    assert.equal(metric(metrics, 'gateway_route_flag_fallback', { route: 'app' }), 1);
    assert.ok(metric(metrics, 'gateway_flag_fallbacks_total', { route: 'app', reason: 'unreadable' }) >= 1);
    assert.match(b.output(), /route flag unreadable: using the route's default/);
    assert.match(b.output(), /percent: must be at most 100/);
    assert.equal(await sideVia(b), 'legacy');

    // A flag written without a notice (a lost message) is picked up by the periodic reload.
    await redis.hset('gateway:flags', 'app', JSON.stringify({ mode: 'idp' }));
    assert.ok(await eventually(async () => (await routeState(b, 'app')).mode === 'idp', 10_000, 50), 'the periodic reload applied the flag');
    assert.equal((await routeState(b, 'app')).source, 'flag');

    // Missing again: default, reason "missing".
    await redis.hdel('gateway:flags', 'app');
    await redis.publish(`${prefix}gateway:flags:changed`, 'app');
    await expectFallback(a, 'missing');

    // The API refuses nonsense with a clear 400 and changes nothing.
    const bad = await fetch(`${a.url}/admin/api/routes/app/flag`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'canary', percent: 150, reason: 'nope' }) });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(await bad.json()), /percent: must be at most 100/);
    assert.equal(await redis.hget('gateway:flags', 'app'), null);
  } finally {
    const codes = await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([legacy.close(), next.close()]);
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(codes, gateways.map(() => 0), 'each gateway exits 0 on SIGTERM');
  }

  async function expectFallback(g: SpawnedService, reason: string) {
    const ok = await eventually(async () => {
      const s = await routeState(g, 'app');
      return s.source === 'default' && s.fallbackReason === reason && s.mode === 'legacy';
    }, 2_000, 20);
    assert.ok(ok, `the gateway did not fall back to the default (${reason}): ${JSON.stringify(await routeState(g, 'app'))}`);
  }
});

test('with Redis unreachable the gateway still starts and serves each route on its default; flips are refused with 503', async () => {
  const legacy = await startUpstream('legacy');
  const deadRedisPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gateway-noredis-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, 'routes:\n  - { name: app, paths: ["/*"], default: legacy }\n');
  const gateway = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', {
    GATEWAY_ROUTES_FILE: routes,
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    LEGACY_UPSTREAM_URL: legacy.url,
    IDP_UPSTREAM_URL: legacy.url,
    DATABASE_URL: `sqlite:${join(dir, 'gateway.sqlite')}`,
    REDIS_URL: `redis://127.0.0.1:${deadRedisPort}`,
  });
  try {
    const res = await fetch(`${gateway.url}/page`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-served-by'), 'legacy');
    await res.text();
    const state = await routeState(gateway, 'app');
    assert.deepEqual([state.mode, state.source, state.fallbackReason], ['legacy', 'default', 'unavailable']);
    const flip = await fetch(`${gateway.url}/admin/api/routes/app/flag`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'idp', reason: 'redis is down' }) });
    assert.equal(flip.status, 503);
    assert.equal(((await flip.json()) as { error: string }).error, 'flag_store_unavailable');
    assert.deepEqual((await (await fetch(`${gateway.url}/admin/api/audit`, { headers: auth })).json()), { entries: [] }, 'a refused flip leaves no audit row');
  } finally {
    await gateway.stop();
    await legacy.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
