// The worker that carries outbox events to the legacy-adapter. Every idp replica runs one; the
// row lease (outbox.claim) keeps two from sending the same event at once, and the adapter's
// per-user sequence makes a late duplicate harmless anyway.
import { randomUUID } from 'node:crypto';
import type { Knex } from '../../lib/db.ts';
import type { Logger } from '../../lib/logger.ts';
import { createPollingLoop } from '../../lib/polling-loop.ts';
import { LEGACY_ADAPTER_ERRORS } from '../../contracts/legacy-adapter-api.ts';
import type { LegacyAdapterClient } from '../adapter-client/client.ts';
import type { DualWriteMetrics } from './metrics.ts';
import type { DeadReason, Outbox, OutboxEvent } from './outbox.ts';

export interface RelayOptions {
  knex: Knex;
  outbox: Outbox;
  legacy: Pick<LegacyAdapterClient, 'writePassword'>;
  metrics: DualWriteMetrics;
  logger: Logger;
  /** How often an idle relay looks for due events. */
  pollMs: number;
  /** The first retry delay; it doubles with each failed attempt, up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long a claimed event is this relay's alone: longer than one request to the adapter can take. */
  leaseMs: number;
  batchSize?: number;
  /**
   * Failed attempts after which an event is given up (dead). Configuration errors the adapter
   * reports for every event alike (RETRY_FOREVER) never count: ops fix them and the events drain.
   */
  maxAttempts?: number;
  /** Relayed and dead rows older than this are deleted; undefined: kept forever. */
  retentionMs?: number;
  /** Pruning runs at most this often per replica, from the relay loop. */
  pruneEveryMs?: number;
  /** Rows per delete statement, and statements per pruning run: short transactions, bounded work. */
  pruneBatchSize?: number;
  pruneMaxBatches?: number;
}

/**
 * Failures that are the deployment's, not the event's: the mapping has no write section, the
 * adapter refuses our secret. They hit every event alike and are fixed by ops, after which the
 * backlog drains; giving events up over them would drop every change made meanwhile.
 */
const DEPLOYMENT_ERRORS = new Set([`http_409:${LEGACY_ADAPTER_ERRORS.mappingCannotWrite}`, `http_401:${LEGACY_ADAPTER_ERRORS.unauthorized}`]);
/**
 * Outages: the adapter or the legacy database down, slow or behind a failing proxy. The design
 * promises nothing is lost while the legacy side is down, however long, so these never count
 * towards giving up; only failures particular to the event (a 400, a 500, an answer we cannot
 * read) do, so that one poison event cannot retry forever.
 */
const OUTAGE = /^(?:timeout|unreachable|http_50[234](?::[a-z_]+)?)$/;

function retriesForever(reason: string): boolean {
  return DEPLOYMENT_ERRORS.has(reason) || OUTAGE.test(reason);
}

export interface Relay {
  start(): void;
  /** Looks for due events now (a password change on this replica just wrote one). */
  wake(): void;
  /** One pass: claims and sends what is due; resolves to the number of events handled. */
  runOnce(): Promise<number>;
  /** Stops polling and waits for the pass in flight. */
  stop(): Promise<void>;
}

/** attempts already failed (1, 2, ...) to delay: base, 2 base, 4 base, ... capped, with up to 20 % jitter so replicas spread out. */
export function retryDelay(failedAttempts: number, baseMs: number, maxMs: number): number {
  const exponential = baseMs * 2 ** Math.min(Math.max(failedAttempts - 1, 0), 30);
  const capped = Math.min(exponential, maxMs);
  return Math.round(capped * (0.8 + Math.random() * 0.2));
}

export function createRelay(options: RelayOptions): Relay {
  const { knex, outbox, legacy, metrics, pollMs, retryBaseMs, retryMaxMs, leaseMs, batchSize = 20, maxAttempts = 20 } = options;
  const { retentionMs, pruneEveryMs = 3_600_000, pruneBatchSize = 500, pruneMaxBatches = 20 } = options;
  let lastPruneAt = 0;
  const relayId = `relay-${randomUUID()}`;
  const log = options.logger.child({ component: 'dual-write' });

  async function send(event: OutboxEvent): Promise<void> {
    const context = { eventId: event.eventId, sequence: event.sequence, legacyId: event.legacyId, sub: event.userId };
    if (!event.legacyHash) {
      // Cannot happen for a pending event (the hash is erased only when it is relayed); never retried forever.
      await outbox.settle(event, relayId);
      log.error(context, 'outbox event without a hash settled without sending');
      return;
    }
    const result = await legacy.writePassword({ eventId: event.eventId, sequence: event.sequence, legacyId: event.legacyId, hash: event.legacyHash });
    if (!result.ok && result.reason === LEGACY_ADAPTER_ERRORS.legacyUserNotFound) {
      // The legacy row is gone: no retry can write it. Later events of the user fail the same way.
      await giveUp(event, context, result.reason, `http_404:${result.reason}`);
      return;
    }
    if (!result.ok) {
      const attempts = event.attempts + 1;
      if (attempts >= maxAttempts && !retriesForever(result.detail)) {
        metrics.failed(result.detail);
        await giveUp(event, context, 'max_attempts', result.detail);
        return;
      }
      const delayMs = retryDelay(attempts, retryBaseMs, retryMaxMs);
      await outbox.reschedule(event, relayId, result.detail, delayMs);
      metrics.failed(result.detail);
      log.warn({ ...context, attempts, error: result.detail, retryInMs: delayMs }, 'legacy password write failed; will retry');
      return;
    }
    if (result.outcome === 'applied') {
      // The legacy row now holds this hash: record its fingerprint so the batch migration's
      // delta pass sees a legacy hash the idp already knows about, not a change to copy back.
      // The outbox keeps it too: a batch migration that read the row before this write landed
      // then recognises the hash as one the idp wrote, not a change made on the legacy side.
      await knex.transaction(async (trx) => {
        await trx('users').where({ id: event.userId }).update({ legacy_fingerprint: result.fingerprint });
        await trx('legacy_outbox').where({ event_id: event.eventId }).update({ legacy_fingerprint: result.fingerprint });
      });
    }
    if (await outbox.settle(event, relayId)) {
      metrics.relayed(result.outcome);
      log.info({ ...context, result: result.outcome, attempts: event.attempts + 1 }, 'password change relayed to the legacy site');
    }
  }

  async function giveUp(event: OutboxEvent, context: Record<string, unknown>, reason: DeadReason, error: string): Promise<void> {
    // Only the lease holder marks it, so the error is logged once per event, not per replica.
    if (!(await outbox.markDead(event, relayId, reason, error))) return;
    metrics.dead(reason);
    log.error(
      { ...context, attempts: event.attempts + 1, reason, error },
      'password change given up: it will not reach the legacy site (the later events of this user still go)',
    );
  }

  /** Deletes settled rows past the retention, a few bounded batches at a time, at most every pruneEveryMs. */
  async function pruneIfDue(): Promise<void> {
    if (retentionMs === undefined || Date.now() - lastPruneAt < pruneEveryMs) return;
    lastPruneAt = Date.now();
    const before = lastPruneAt - retentionMs;
    let deleted = 0;
    for (let batch = 0; batch < pruneMaxBatches; batch++) {
      const n = await outbox.prune(before, pruneBatchSize);
      deleted += n;
      if (n < pruneBatchSize) break;
    }
    if (deleted > 0) {
      metrics.pruned(deleted);
      log.info({ rows: deleted }, 'settled outbox rows pruned');
    }
  }

  async function pass(): Promise<number> {
    try {
      await pruneIfDue();
    } catch (error) {
      // Pruning is housekeeping: it never holds up relaying; the next run tries again.
      log.warn({ err: error }, 'pruning the dual-write outbox failed');
    }
    let handled = 0;
    for (;;) {
      const events = await outbox.claim(relayId, batchSize, leaseMs);
      for (const event of events) {
        try {
          await send(event);
        } catch (error) {
          // Our own database failed mid-way: the lease runs out and the event is tried again.
          log.error({ err: error, eventId: event.eventId }, 'relaying an outbox event failed');
        }
      }
      handled += events.length;
      if (events.length < batchSize || loop.stopped()) return handled;
    }
  }

  const loop = createPollingLoop(pass, { pollMs, onError: (error) => log.error({ err: error }, 'dual-write relay pass failed') });

  return {
    start: () => loop.start(),
    wake: () => loop.wake(),
    runOnce: () => pass(),
    stop: () => loop.stop(),
  };
}
