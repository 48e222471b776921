// Dual-write limits, on real databases: an event is given up (dead) after the maximum of failed
// attempts or at once when its legacy row is gone, with its hash erased and counted; a dead event
// no longer holds back the user's later one; configuration errors never make events dead; settled
// rows are pruned after the retention, and only those.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { Registry } from 'prom-client';
import { migrate, type Knex } from '../../lib/db.ts';
import { createLogger } from '../../lib/logger.ts';
import { hashPhpBcrypt } from '../../lib/passwords/index.ts';
import { createDualWriteMetrics, createOutbox, createRelay, insertPasswordEvent, type RelayOptions } from '../../idp/dual-write/index.ts';
import { createLegacyAdapterClient } from '../../idp/adapter-client/client.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { closeSharedResources } from '../support/idp.ts';
import { insertLegacyRows, legacyIdOf } from '../jit-login/support.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { legacyRow } from '../../scripts/support/legacy-users.ts';
import { ADAPTER_SECRET, FORUM_MAPPING, startAdapter } from '../../scripts/support/legacy-adapter.ts';
import { createSqliteDatabase, forEachDatabase } from '../../scripts/support/databases.ts';
import { freePort } from '../../scripts/support/processes.ts';
import { sample } from '../support/prometheus-text.ts';

after(closeSharedResources);

interface OutboxRow {
  id: number;
  event_id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  dead_reason: string | null;
  legacy_hash: string | null;
}

function rig(knex: Knex, adapterUrl: string, options: Partial<RelayOptions> = {}) {
  const registry = new Registry();
  const outbox = createOutbox(knex);
  const relay = createRelay({
    knex,
    outbox,
    legacy: createLegacyAdapterClient({ baseUrl: adapterUrl, secret: ADAPTER_SECRET, timeoutMs: 5000 }),
    metrics: createDualWriteMetrics(registry, { stats: () => outbox.stats() }),
    logger: createLogger('idp-test', 'silent'),
    pollMs: 60_000,
    retryBaseMs: 0,
    retryMaxMs: 0,
    leaseMs: 60_000,
    ...options,
  });
  return { relay, outbox, metrics: () => registry.metrics() };
}

const rowOf = async (knex: Knex, eventId: string) => (await knex('legacy_outbox').where({ event_id: eventId }).first()) as OutboxRow;
const event = (knex: Knex, userId: string, legacyId: string, hash: string) =>
  knex.transaction((trx) => insertPasswordEvent(trx, { userId, legacyId, legacyHash: hash }));
/** An address where nothing listens: every attempt fails as unreachable. */
const nowhere = async () => `http://127.0.0.1:${await freePort()}`;

/** An adapter that refuses every write as malformed: a failure particular to the event, not an outage. */
async function refusing(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_request' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('an event is given up after the maximum of failed attempts of its own; an outage or mapping_cannot_write never gives up', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const hash = await hashPhpBcrypt('the new password', 4);

    // The adapter unreachable (down for maintenance, however long): nothing is lost.
    const down = rig(db.knex, await nowhere(), { maxAttempts: 2 });
    const patient = await event(db.knex, 'u0', '0', hash);
    for (let i = 0; i < 4; i++) assert.equal(await down.relay.runOnce(), 1);
    const waiting0 = await rowOf(db.knex, patient);
    assert.equal(waiting0.status, 'pending', 'four unreachable attempts of a maximum of two: still pending');
    assert.equal(waiting0.last_error, 'unreachable');
    assert.equal(waiting0.legacy_hash, hash);
    assert.equal(sample(await down.metrics(), 'idp_dual_write_events_dead_total', { reason: 'max_attempts' }), 0);
    await db.knex('legacy_outbox').where({ event_id: patient }).delete();

    const poison = await refusing();
    const { relay, metrics } = rig(db.knex, poison.url, { maxAttempts: 3 });
    const eventId = await event(db.knex, 'u1', '1', hash);
    assert.equal(await relay.runOnce(), 1);
    assert.equal(await relay.runOnce(), 1);
    let row = await rowOf(db.knex, eventId);
    assert.equal(row.status, 'pending', 'two failed attempts of three: still retried');
    assert.equal(row.legacy_hash, hash);
    assert.equal(await relay.runOnce(), 1);
    await poison.close();
    row = await rowOf(db.knex, eventId);
    assert.equal(row.status, 'dead');
    assert.equal(row.dead_reason, 'max_attempts');
    assert.equal(Number(row.attempts), 3);
    assert.equal(row.last_error, 'http_400:invalid_request');
    assert.equal(row.legacy_hash, null, 'no bcrypt hash lingers in a dead row');
    assert.equal(await relay.runOnce(), 0, 'never tried again');
    const text = await metrics();
    assert.equal(sample(text, 'idp_dual_write_events_dead_total', { reason: 'max_attempts' }), 1);
    assert.equal(sample(text, 'idp_dual_write_events_dead_total', { reason: 'legacy_user_not_found' }), 0);
    assert.equal(sample(text, 'idp_dual_write_attempts_failed_total', { reason: 'http_400:invalid_request' }), 3);
    assert.match(text, /^idp_dual_write_backlog 0$/m, 'a dead event is not backlog');

    // A mapping without a write section: ops can fix it, so the event waits however often it fails.
    const adapter = await startAdapter(db.url, FORUM_MAPPING);
    try {
      const forum = rig(db.knex, adapter.url, { maxAttempts: 2 });
      const waiting = await event(db.knex, 'u2', 'm-2', hash);
      for (let i = 0; i < 4; i++) assert.equal(await forum.relay.runOnce(), 1);
      const kept = await rowOf(db.knex, waiting);
      assert.equal(kept.status, 'pending');
      assert.equal(Number(kept.attempts), 4);
      assert.equal(kept.last_error, 'http_409:mapping_cannot_write');
      assert.equal(sample(await forum.metrics(), 'idp_dual_write_events_dead_total', { reason: 'max_attempts' }), 0);
    } finally {
      await adapter.stop();
    }
  });
});

test('a deleted legacy row makes the event dead at once, and a dead event does not hold back a later one', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const legacy = await createSqliteDatabase();
    await createLegacyPhpSchema(legacy);
    await insertLegacyRows(legacy.knex, [legacyRow('ada', '5f4dcc3b5aa765d61d8327deb882cf99'), legacyRow('bob', '5f4dcc3b5aa765d61d8327deb882cf99')]);
    const ada = await legacyIdOf(legacy.knex, 'ada');
    const bob = await legacyIdOf(legacy.knex, 'bob');
    const adapter = await startAdapter(legacy.url);
    try {
      const older = await hashPhpBcrypt('the older password', 4);
      const newer = await hashPhpBcrypt('the newer password', 4);

      // bob's legacy row is deleted before his change goes: no retry can help.
      await legacy.knex('users').where({ user_id: bob }).delete();
      const live = rig(db.knex, adapter.url, { maxAttempts: 20 });
      const bobs = await event(db.knex, 'u-bob', bob, older);
      assert.equal(await live.relay.runOnce(), 1);
      const dead = await rowOf(db.knex, bobs);
      assert.equal(dead.status, 'dead');
      assert.equal(dead.dead_reason, 'legacy_user_not_found');
      assert.equal(Number(dead.attempts), 1, 'at the first answer, not after 20');
      assert.equal(dead.legacy_hash, null);
      assert.equal(sample(await live.metrics(), 'idp_dual_write_events_dead_total', { reason: 'legacy_user_not_found' }), 1);

      // ada changes her password twice; the first change dies (refused as malformed).
      const first = await event(db.knex, 'u-ada', ada, older);
      const second = await event(db.knex, 'u-ada', ada, newer);
      const poison = await refusing();
      const refused = rig(db.knex, poison.url, { maxAttempts: 1 });
      assert.equal(await refused.relay.runOnce(), 1, 'only the older event: the newer waits behind it');
      await poison.close();
      assert.equal((await rowOf(db.knex, first)).status, 'dead');
      assert.equal((await rowOf(db.knex, second)).status, 'pending');
      // The newer event carries the newer password: it goes, the dead one is skipped.
      assert.equal(await live.relay.runOnce(), 1);
      assert.equal((await rowOf(db.knex, second)).status, 'relayed');
      const stored = (await legacy.knex('users').where({ user_id: ada }).first('user_pass')) as { user_pass: string };
      assert.equal(stored.user_pass, newer);
    } finally {
      await adapter.stop();
      await legacy.drop();
    }
  });
});

test('pruning deletes only relayed and dead rows settled before the retention, in batches, at most once per interval', async (t) => {
  await forEachDatabase(t, async (_t, db) => {
    await migrate(db.knex, idpMigrations);
    const hash = await hashPhpBcrypt('irrelevant here', 4);
    const day = 86_400_000;
    const longAgo = Date.now() - 40 * day;
    const ids: Record<string, string> = {};
    for (const name of ['oldRelayed1', 'oldRelayed2', 'oldDead', 'oldRelayedBefore031', 'recentRelayed', 'recentDead', 'oldPending']) {
      ids[name] = await event(db.knex, `u-${name}`, '1', hash);
    }
    const set = (name: string, columns: Record<string, unknown>) => db.knex('legacy_outbox').where({ event_id: ids[name] }).update(columns);
    for (const name of ['oldRelayed1', 'oldRelayed2']) await set(name, { status: 'relayed', legacy_hash: null, relayed_at: longAgo, settled_at: longAgo });
    await set('oldDead', { status: 'dead', dead_reason: 'max_attempts', legacy_hash: null, settled_at: longAgo });
    // Relayed by a replica that predates settled_at.
    await set('oldRelayedBefore031', { status: 'relayed', legacy_hash: null, relayed_at: longAgo, settled_at: null });
    await set('recentRelayed', { status: 'relayed', legacy_hash: null, relayed_at: Date.now() - day, settled_at: Date.now() - day });
    await set('recentDead', { status: 'dead', dead_reason: 'legacy_user_not_found', legacy_hash: null, settled_at: Date.now() - day });
    // Pending, however old: never pruned (it still has to go). Not due, so the relay leaves it alone.
    await set('oldPending', { created_at: longAgo, next_attempt_at: Date.now() + 365 * day });

    const { relay, metrics } = rig(db.knex, await nowhere(), { retentionMs: 30 * day, pruneBatchSize: 2 });
    await relay.runOnce();
    const left = ((await db.knex('legacy_outbox').select('event_id')) as { event_id: string }[]).map((r) => r.event_id).sort();
    assert.deepEqual(left, [ids.recentRelayed, ids.recentDead, ids.oldPending].sort());
    assert.match(await metrics(), /^idp_dual_write_rows_pruned_total 4$/m);

    // Not on every poll: within the interval the next pass prunes nothing.
    await set('recentRelayed', { settled_at: longAgo, relayed_at: longAgo });
    await relay.runOnce();
    assert.equal((await db.knex('legacy_outbox').where({ event_id: ids.recentRelayed })).length, 1);
    assert.match(await metrics(), /^idp_dual_write_rows_pruned_total 4$/m);
  });
});
