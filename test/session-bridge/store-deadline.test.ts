// The session bridge on a legacy store that stops answering: every statement on the monolith's
// sessions table (and its users table) and every phpredis command has the legacy database's
// deadline (LEGACY_DATABASE_TIMEOUT_MS), so the gateway's login, logout and the idp's session
// resolve answer 503 legacy_unavailable instead of waiting on the monolith's lock for good.
// Real MariaDB with a table lock held by another session; real Redis behind a silent proxy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabase } from '../../lib/db.ts';
import type { RunningService } from '../../lib/service.ts';
import { legacyIdOf } from '../jit-login/support.ts';
import { BRIDGE_SECRET, startAdapter } from '../../scripts/support/legacy-adapter.ts';
import { createTestRedis, redisProblem, REDIS_TEST_URL, skipLoudly } from '../../scripts/support/databases.ts';
import { answer, UNAVAILABLE, withLegacyDb } from '../support/legacy-deadline.ts';
import { startTcpProxy } from '../../scripts/support/tcp-proxy.ts';
import { sample } from '../support/prometheus-text.ts';

const bridge = { secret: BRIDGE_SECRET };

/** The three calls that touch the store: the gateway's create and delete, the idp's resolve. */
function sessionCalls(adapter: RunningService, legacyId: string, sessionId: string) {
  return {
    create: () => answer(adapter, '/sessions', { legacyId }, bridge),
    remove: () => answer(adapter, `/sessions/${sessionId}`, undefined, { ...bridge, method: 'DELETE' }),
    resolve: () => answer(adapter, '/legacy-sessions/resolve', { sessionId }),
  };
}

async function bridgedSession(adapter: RunningService, legacyId: string): Promise<string> {
  const [status, body] = await answer(adapter, '/sessions', { legacyId }, bridge);
  assert.equal(status, 201);
  return (body as { sessionId: string }).sessionId;
}

/**
 * After the outage: a new session is written, resolved and removed. (A delete given up on may
 * still land once the store answers again, the statement or command being on its way: for a
 * logout that is what was asked.) ioredis reconnects by itself, so the first calls may still
 * meet the dropped connection.
 */
async function expectWorking(adapter: RunningService, legacyId: string): Promise<void> {
  let created: [number, unknown] = [0, null];
  for (let i = 0; i < 20 && created[0] !== 201; i++) created = await answer(adapter, '/sessions', { legacyId }, bridge);
  assert.equal(created[0], 201, 'a session is written again');
  const calls = sessionCalls(adapter, legacyId, (created[1] as { sessionId: string }).sessionId);
  assert.equal(((await calls.resolve())[1] as { ok?: boolean }).ok, true);
  assert.deepEqual(await calls.remove(), [204, null]);
}

test('the sessions table or the users table locked by another session: 503 unavailable, then working again', async (t) => {
  await withLegacyDb(t, async (db) => {
    const adapter = await startAdapter(db.url, undefined, { LEGACY_SESSION_BRIDGE_SECRET: BRIDGE_SECRET });
    // One connection, so LOCK and UNLOCK happen in the same session.
    const locker = createDatabase(db.url, { pool: { min: 1, max: 1 } });
    try {
      const legacyId = await legacyIdOf(db.knex, 'alice');
      const sessionId = await bridgedSession(adapter, legacyId);
      const calls = sessionCalls(adapter, legacyId, sessionId);
      assert.equal(((await calls.resolve())[1] as { ok?: boolean }).ok, true);

      // The session read works; reading its user is what waits.
      await locker.raw('LOCK TABLES users WRITE');
      try {
        assert.deepEqual(await calls.resolve(), UNAVAILABLE);
        assert.deepEqual(await calls.create(), UNAVAILABLE);
      } finally {
        await locker.raw('UNLOCK TABLES');
      }
      await locker.raw('LOCK TABLES sessions WRITE');
      try {
        assert.deepEqual(await calls.resolve(), UNAVAILABLE);
        assert.deepEqual(await calls.create(), UNAVAILABLE);
        assert.deepEqual(await calls.remove(), UNAVAILABLE);
      } finally {
        await locker.raw('UNLOCK TABLES');
      }

      await expectWorking(adapter, legacyId);
      const metrics = await (await fetch(`${adapter.opsUrl}/metrics`)).text();
      assert.equal(sample(metrics, 'legacy_adapter_session_resolutions_total', { result: 'unavailable' }), 2);
      assert.equal(sample(metrics, 'legacy_adapter_session_resolutions_total', { result: 'invalid' }), 0);
      assert.equal(sample(metrics, 'legacy_adapter_bridge_sessions_total', { action: 'create', result: 'unavailable' }), 2);
      assert.equal(sample(metrics, 'legacy_adapter_bridge_sessions_total', { action: 'delete', result: 'unavailable' }), 1);
    } finally {
      await locker.destroy();
      await adapter.stop();
    }
  });
});

test('phpredis gone silent: 503 unavailable by the command deadline, then working again', async (t) => {
  const problem = await redisProblem();
  if (problem) return skipLoudly(t, `Redis at ${REDIS_TEST_URL}`, problem);
  await withLegacyDb(t, async (db) => {
    const redis = await createTestRedis();
    const target = new URL(REDIS_TEST_URL);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const adapter = await startAdapter(db.url, undefined, {
      LEGACY_SESSION_BRIDGE_SECRET: BRIDGE_SECRET,
      LEGACY_SESSION_STORE: 'redis',
      LEGACY_REDIS_HOST: '127.0.0.1',
      LEGACY_REDIS_PORT: String(proxy.port),
      LEGACY_SESSION_REDIS_PREFIX: `${redis.prefix}PHPREDIS_SESSION:`,
    });
    try {
      const legacyId = await legacyIdOf(db.knex, 'alice');
      const sessionId = await bridgedSession(adapter, legacyId);
      const calls = sessionCalls(adapter, legacyId, sessionId);
      proxy.setMode('blackhole');
      assert.deepEqual(await calls.resolve(), UNAVAILABLE);
      assert.deepEqual(await calls.create(), UNAVAILABLE);
      assert.deepEqual(await calls.remove(), UNAVAILABLE);
      proxy.setMode('open');
      await expectWorking(adapter, legacyId);
    } finally {
      await adapter.stop();
      await proxy.close();
      await redis.cleanup();
    }
  });
});
