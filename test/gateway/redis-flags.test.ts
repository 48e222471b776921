import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { createRedis } from '../../lib/redis.ts';
import { createTestRedis, forEachDatabase, redisProblem, REDIS_TEST_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { freePort, startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { ADMIN_TOKEN, eventually, startUpstream } from '../support/gateway.ts';
import { sample } from '../support/prometheus-text.ts';

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

    for (const [state, side] of [
      [{ mode: 'idp' }, 'new'],
      [{ mode: 'canary', percent: 100 }, 'new'],
      [{ mode: 'legacy' }, 'legacy'],
    ] as const) {
      const flip = await fetch(`${a.url}/admin/api/routes/app/flag`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ ...state, reason: 'two replicas' }),
      });
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
    assert.equal(sample(metrics, 'gateway_route_flag_fallback', { route: 'app' }), 1);
    assert.ok(sample(metrics, 'gateway_flag_fallbacks_total', { route: 'app', reason: 'unreadable' }) >= 1);
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
    const bad = await fetch(`${a.url}/admin/api/routes/app/flag`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'canary', percent: 150, reason: 'nope' }),
    });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(await bad.json()), /percent: must be at most 100/);
    assert.equal(await redis.hget('gateway:flags', 'app'), null);
  } finally {
    const codes = await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([legacy.close(), next.close()]);
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(
      codes,
      gateways.map(() => 0),
      'each gateway exits 0 on SIGTERM',
    );
  }

  async function expectFallback(g: SpawnedService, reason: string) {
    const ok = await eventually(
      async () => {
        const s = await routeState(g, 'app');
        return s.source === 'default' && s.fallbackReason === reason && s.mode === 'legacy';
      },
      2_000,
      20,
    );
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
    const flip = await fetch(`${gateway.url}/admin/api/routes/app/flag`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'idp', reason: 'redis is down' }),
    });
    assert.equal(flip.status, 503);
    assert.equal(((await flip.json()) as { error: string }).error, 'flag_store_unavailable');
    assert.deepEqual(await (await fetch(`${gateway.url}/admin/api/audit`, { headers: auth })).json(), { entries: [] }, 'a refused flip leaves no audit row');
  } finally {
    await gateway.stop();
    await legacy.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A redis-server of this test's own, without persistence, so it can be restarted empty (never the shared one). */
async function privateRedis(port: number) {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const client = createRedis(`redis://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  assert.ok(await eventually(async () => (await client.ping().catch(() => '')) === 'PONG', 10_000, 50), 'the private redis-server answers');
  client.disconnect();
  return {
    async stop() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

async function flipVia(g: SpawnedService, route: string, state: Record<string, unknown>) {
  return fetch(`${g.url}/admin/api/routes/${route}/flag`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ ...state, reason: 'restart test' }),
  });
}

async function auditOf(g: SpawnedService) {
  return (
    (await (await fetch(`${g.url}/admin/api/audit?limit=200`, { headers: auth })).json()) as {
      entries: Array<{ route: string; via: string; actor: string; to: { mode: string; percent?: number } | null }>;
    }
  ).entries;
}

test('a Redis restart without persistence: no replica ever serves the default instead of the audited flags; one restores them and says so (log, metric, audit)', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    const legacy = await startUpstream('legacy');
    const next = await startUpstream('new');
    const dir = mkdtempSync(join(tmpdir(), 'gateway-restart-'));
    const routes = join(dir, 'routes.yaml');
    writeFileSync(
      routes,
      'routes:\n  - { name: app, paths: ["/app/*"], default: legacy }\n  - { name: api, paths: ["/api/*"], default: legacy }\n  - { name: quiet, paths: ["/*"], default: legacy }\n',
    );
    const redisPort = await freePort();
    let redisServer = await privateRedis(redisPort);
    const redis = createRedis(`redis://127.0.0.1:${redisPort}`, { keyPrefix: 'idm:' });
    redis.on('error', () => undefined);
    const env = {
      GATEWAY_ROUTES_FILE: routes,
      GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      LEGACY_UPSTREAM_URL: legacy.url,
      IDP_UPSTREAM_URL: next.url,
      DATABASE_URL: db.url,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      GATEWAY_FLAG_RELOAD_MS: '1000',
      GATEWAY_FLAG_UNAUDITED_GRACE_MS: '500',
    };
    const gateways: SpawnedService[] = [];
    try {
      gateways.push(await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', env));
      gateways.push(await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', env));
      const [a, b] = gateways as [SpawnedService, SpawnedService];
      assert.equal((await flipVia(a, 'app', { mode: 'canary', percent: 5 })).status, 200);
      assert.equal((await flipVia(b, 'api', { mode: 'idp' })).status, 200);
      for (const g of gateways)
        assert.ok(
          await eventually(async () => (await routeState(g, 'api')).mode === 'idp' && (await routeState(g, 'app')).mode === 'canary', 2_000),
          'both replicas have both flips',
        );

      // Redis dies and comes back empty. Meanwhile and after, both replicas keep serving the audited states.
      await redisServer.stop();
      const watching = { stop: false, seen: new Set<string>() };
      const watch = (async () => {
        while (!watching.stop) {
          for (const g of gateways) for (const route of ['app', 'api']) watching.seen.add(`${route}:${(await routeState(g, route)).mode}`);
          await sleep(25);
        }
      })();
      const refused = await flipVia(a, 'quiet', { mode: 'idp' });
      assert.equal(refused.status, 503, 'a flip while the flag store is down is refused, not half-made');
      redisServer = await privateRedis(redisPort);
      const restored = await eventually(
        async () => {
          const [app, api] = await Promise.all([redis.hget('gateway:flags', 'app'), redis.hget('gateway:flags', 'api')]);
          return app === JSON.stringify({ mode: 'canary', percent: 5 }) && api === JSON.stringify({ mode: 'idp' });
        },
        20_000,
        50,
      );
      assert.ok(restored, 'the audited flags are back in Redis');
      // A flip made right after Redis came back is not undone by any restore.
      assert.equal((await flipVia(b, 'quiet', { mode: 'canary', percent: 50 })).status, 200);
      // Two full reloads and the grace later, everything still holds.
      const reloads = async () => sample(await (await fetch(`${a.opsUrl}/metrics`)).text(), 'gateway_flag_reloads_total', { result: 'ok' });
      const before = await reloads();
      assert.ok(await eventually(async () => (await reloads()) >= before + 2, 10_000, 100));
      watching.stop = true;
      await watch;
      assert.deepEqual([...watching.seen].sort(), ['api:idp', 'app:canary'], 'no replica served a route on its default at any moment');
      assert.equal(await redis.hget('gateway:flags', 'quiet'), JSON.stringify({ mode: 'canary', percent: 50 }));

      // Both replicas noticed; exactly one restore of each route was made, audited, counted and logged.
      const entries = await auditOf(a);
      for (const route of ['app', 'api']) {
        const restores = entries.filter((e) => e.route === route && e.via === 'restore');
        assert.equal(restores.length, 1, `${route}: one restore in the audit log`);
        assert.equal(restores[0]!.actor, 'gateway');
        let counted = 0;
        for (const g of gateways)
          counted += sample(await (await fetch(`${g.opsUrl}/metrics`)).text(), 'gateway_flag_restores_total', { route, drift: 'missing' });
        assert.equal(counted, 1, `${route}: one restore counted over both replicas`);
      }
      assert.equal(entries.filter((e) => e.route === 'quiet' && e.via === 'restore').length, 0);
      assert.match(a.output() + b.output(), /route flag restored from the audit log/);

      // Something writes Redis behind the audit log's back: served a moment (it might be a flip
      // whose audit row is being written), then put back to the audited state.
      await redis.hset('gateway:flags', 'app', JSON.stringify({ mode: 'idp' }));
      await redis.publish('idm:gateway:flags:changed', 'app');
      assert.ok(
        await eventually(async () => (await redis.hget('gateway:flags', 'app')) === JSON.stringify({ mode: 'canary', percent: 5 }), 15_000, 50),
        'an unaudited state is replaced by the audited one',
      );
      for (const g of gateways) assert.ok(await eventually(async () => (await routeState(g, 'app')).mode === 'canary', 2_000));
      // The restore writes Redis, then counts: the count may trail the write a moment.
      const unaudited = async () => {
        let sum = 0;
        for (const g of gateways)
          sum += sample(await (await fetch(`${g.opsUrl}/metrics`)).text(), 'gateway_flag_restores_total', { route: 'app', drift: 'unaudited' });
        return sum;
      };
      assert.ok(await eventually(async () => (await unaudited()) >= 1, 5_000, 50), 'the unaudited state was counted');
      assert.equal(await unaudited(), 1);
    } finally {
      const codes = await Promise.all(gateways.map((g) => g.stop()));
      redis.disconnect();
      await redisServer.stop();
      await Promise.all([legacy.close(), next.close()]);
      rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(
        codes,
        gateways.map(() => 0),
        'each gateway exits 0 on SIGTERM',
      );
    }
  });
});

test('embedded (no Redis): a restarted gateway keeps the flips, from the audit log', async () => {
  const legacy = await startUpstream('legacy');
  const next = await startUpstream('new');
  const dir = mkdtempSync(join(tmpdir(), 'gateway-embedded-restart-'));
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, 'routes:\n  - { name: app, paths: ["/*"], default: legacy }\n');
  const env = {
    GATEWAY_ROUTES_FILE: routes,
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    LEGACY_UPSTREAM_URL: legacy.url,
    IDP_UPSTREAM_URL: next.url,
    DATABASE_URL: `sqlite:${join(dir, 'gateway.sqlite')}`,
  };
  try {
    const first = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', env);
    assert.equal((await flipVia(first, 'app', { mode: 'canary', percent: 30 })).status, 200);
    assert.equal(await first.stop(), 0);
    const second = await startServiceProcess('gateway/main.ts', 'GATEWAY_PORT', env);
    try {
      const state = await routeState(second, 'app');
      assert.deepEqual([state.mode, state.percent, state.source], ['canary', 30, 'flag']);
      assert.equal((await auditOf(second)).length, 1, 'starting again is not a flip');
    } finally {
      assert.equal(await second.stop(), 0);
    }
  } finally {
    await Promise.all([legacy.close(), next.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});
