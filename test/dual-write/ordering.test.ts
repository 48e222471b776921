// Dual-write guarantees, piece by piece on real databases: the legacy-adapter applies each event
// once and never an older one over a newer one; the outbox hands one user's events out in order
// and one event to one relay at a time; a mapping without a write section leaves the event
// pending with its error, counted.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Registry } from 'prom-client';
import { migrate } from '../../lib/db.ts';
import { createLogger } from '../../lib/logger.ts';
import { hashPhpBcrypt, verifyPassword } from '../../lib/passwords/index.ts';
import { createDualWriteMetrics, createOutbox, createRelay, insertPasswordEvent } from '../../idp/dual-write/index.ts';
import { createLegacyAdapterClient } from '../../idp/adapter-client/client.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { closeSharedResources } from '../support/idp.ts';
import { insertLegacyRows, legacyIdOf } from '../jit-login/support.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { legacyRow } from '../../scripts/support/legacy-users.ts';
import { ADAPTER_SECRET, FORUM_MAPPING, startAdapter } from '../../scripts/support/legacy-adapter.ts';
import { forEachDatabase } from '../../scripts/support/databases.ts';
import { sample } from '../support/prometheus-text.ts';

after(closeSharedResources);

const write = (url: string, body: unknown) =>
  fetch(`${url}/internal/v1/users/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADAPTER_SECRET}` },
    body: JSON.stringify(body),
  });

test('the legacy-adapter applies an event once, and an older event never overwrites a newer one', async (t) => {
  await forEachDatabase(t, async (_t, legacy) => {
    await createLegacyPhpSchema(legacy);
    await insertLegacyRows(legacy.knex, [legacyRow('ada', '5f4dcc3b5aa765d61d8327deb882cf99', { user_salt: 'pepper' })]);
    const legacyId = await legacyIdOf(legacy.knex, 'ada');
    const adapter = await startAdapter(legacy.url);
    try {
      const older = await hashPhpBcrypt('the older password', 4);
      const newer = await hashPhpBcrypt('the newer password', 4);
      const stored = async () =>
        (await legacy.knex('users').where({ user_id: legacyId }).first('user_pass', 'user_salt')) as { user_pass: string; user_salt: string | null };

      const applied = await write(adapter.url, { eventId: crypto.randomUUID(), sequence: 7, legacyId, hash: newer });
      assert.equal(applied.status, 200);
      const body = (await applied.json()) as { ok: boolean; result: string; fingerprint?: string };
      assert.equal(body.result, 'applied');
      assert.match(body.fingerprint ?? '', /^v1\./);
      assert.deepEqual(await stored(), { user_pass: newer, user_salt: null }, 'the hash written, the salt cleared');

      // A replay of the same event id: a no-op.
      const replayId = crypto.randomUUID();
      assert.equal(
        ((await (await write(adapter.url, { eventId: replayId, sequence: 8, legacyId, hash: newer })).json()) as { result: string }).result,
        'applied',
      );
      await legacy.knex('users').where({ user_id: legacyId }).update({ user_pass: 'changed on the legacy side meanwhile' });
      assert.equal(
        ((await (await write(adapter.url, { eventId: replayId, sequence: 8, legacyId, hash: newer })).json()) as { result: string }).result,
        'duplicate',
      );
      assert.equal((await stored()).user_pass, 'changed on the legacy side meanwhile', 'a replay writes nothing');
      await legacy.knex('users').where({ user_id: legacyId }).update({ user_pass: newer });

      // An older event retried late: refused, the newer hash stays.
      const stale = await write(adapter.url, { eventId: crypto.randomUUID(), sequence: 3, legacyId, hash: older });
      assert.equal(((await stale.json()) as { result: string }).result, 'stale');
      assert.equal((await stored()).user_pass, newer);
      assert.equal((await verifyPassword('the newer password', { hash: (await stored()).user_pass })).ok, true);

      // Refusals: an unknown legacy id, something that is not $2y$, no bearer secret.
      assert.equal((await write(adapter.url, { eventId: crypto.randomUUID(), sequence: 9, legacyId: '999999', hash: newer })).status, 404);
      const notBcrypt = await write(adapter.url, { eventId: crypto.randomUUID(), sequence: 9, legacyId, hash: '5f4dcc3b5aa765d61d8327deb882cf99' });
      assert.equal(notBcrypt.status, 400);
      assert.doesNotMatch(await notBcrypt.text(), /5f4dcc3b/, 'the refusal does not echo the value');
      const anonymous = await fetch(`${adapter.url}/internal/v1/users/password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(anonymous.status, 401);

      const metrics = await (await fetch(`${adapter.opsUrl}/metrics`)).text();
      assert.equal(sample(metrics, 'legacy_adapter_password_writes_total', { result: 'applied' }), 2);
      assert.equal(sample(metrics, 'legacy_adapter_password_writes_total', { result: 'duplicate' }), 1);
      assert.equal(sample(metrics, 'legacy_adapter_password_writes_total', { result: 'stale' }), 1);
      assert.equal(sample(metrics, 'legacy_adapter_password_writes_total', { result: 'not_found' }), 1);
    } finally {
      await adapter.stop();
    }
  });
});

test("the outbox hands out one user's events in order, each to one relay at a time", async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const outbox = createOutbox(db.knex);
    const hash = await hashPhpBcrypt('irrelevant here', 4);
    const first = await db.knex.transaction((trx) => insertPasswordEvent(trx, { userId: 'u1', legacyId: '1', legacyHash: hash }));
    const second = await db.knex.transaction((trx) => insertPasswordEvent(trx, { userId: 'u1', legacyId: '1', legacyHash: hash }));
    const other = await db.knex.transaction((trx) => insertPasswordEvent(trx, { userId: 'u2', legacyId: '2', legacyHash: hash }));

    const a = await outbox.claim('relay-a', 10, 60_000);
    assert.deepEqual(
      a.map((e) => e.eventId),
      [first, other],
      "u1's newer event waits for the older one",
    );
    assert.ok(a[0]!.sequence < a[1]!.sequence);
    assert.deepEqual(await outbox.claim('relay-b', 10, 60_000), [], 'leased events are not handed to another relay');
    assert.equal(await outbox.settle(a[0]!, 'relay-b'), false, 'only the lease holder settles');

    // The older event fails: rescheduled, still ahead of the newer one.
    assert.equal(await outbox.reschedule(a[0]!, 'relay-a', 'timeout', 0), true);
    const retried = await outbox.claim('relay-b', 10, 60_000);
    assert.deepEqual(
      retried.map((e) => e.eventId),
      [first],
    );
    assert.equal(retried[0]!.attempts, 1);
    assert.equal(await outbox.settle(retried[0]!, 'relay-b'), true);
    assert.deepEqual(
      (await outbox.claim('relay-a', 10, 60_000)).map((e) => e.eventId),
      [second],
      'now the newer one',
    );
    assert.deepEqual(await outbox.stats().then((s) => s.backlog), 2);
  });
});

test('a mapping that cannot write: the event stays pending with the error, counted and retried', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    // The forum mapping has no write section; its table need not even exist for this answer.
    const adapter = await startAdapter(db.url, FORUM_MAPPING);
    try {
      const registry = new Registry();
      const outbox = createOutbox(db.knex);
      const metrics = createDualWriteMetrics(registry, { stats: () => outbox.stats() });
      const relay = createRelay({
        knex: db.knex,
        outbox,
        legacy: createLegacyAdapterClient({ baseUrl: adapter.url, secret: ADAPTER_SECRET, timeoutMs: 5000 }),
        metrics,
        logger: createLogger('idp-test', 'silent'),
        pollMs: 60_000,
        retryBaseMs: 0,
        retryMaxMs: 0,
        leaseMs: 60_000,
      });
      const eventId = await db.knex.transaction(async (trx) =>
        insertPasswordEvent(trx, { userId: 'u1', legacyId: 'm-1', legacyHash: await hashPhpBcrypt('whatever it is', 4) }),
      );
      assert.equal(await relay.runOnce(), 1);
      assert.equal(await relay.runOnce(), 1, 'retried (no backoff configured here)');
      const row = (await db.knex('legacy_outbox').where({ event_id: eventId }).first()) as { status: string; attempts: number; last_error: string };
      assert.equal(row.status, 'pending');
      assert.equal(Number(row.attempts), 2);
      assert.equal(row.last_error, 'http_409:mapping_cannot_write');
      const text = await registry.metrics();
      assert.equal(sample(text, 'idp_dual_write_attempts_failed_total', { reason: 'http_409:mapping_cannot_write' }), 2);
      assert.match(text, /^idp_dual_write_backlog 1$/m);
      await relay.stop();
    } finally {
      await adapter.stop();
    }
  });
});
