// The worker that carries outbox events to the legacy-adapter. Every idp replica runs one; the
// row lease (outbox.claim) keeps two from sending the same event at once, and the adapter's
// per-user sequence makes a late duplicate harmless anyway.
import { randomUUID } from 'node:crypto';
import type { Knex } from '../../lib/db.ts';
import type { Logger } from '../../lib/logger.ts';
import type { LegacyAdapterClient } from '../legacy/client.ts';
import type { DualWriteMetrics } from './metrics.ts';
import type { Outbox, OutboxEvent } from './outbox.ts';

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
  const { knex, outbox, legacy, metrics, pollMs, retryBaseMs, retryMaxMs, leaseMs, batchSize = 20 } = options;
  const relayId = `relay-${randomUUID()}`;
  const log = options.logger.child({ component: 'dual-write' });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = true;
  let again = false;

  async function send(event: OutboxEvent): Promise<void> {
    const context = { eventId: event.eventId, sequence: event.sequence, legacyId: event.legacyId, sub: event.userId };
    if (!event.legacyHash) {
      // Cannot happen for a pending event (the hash is erased only when it is relayed); never retried forever.
      await outbox.settle(event, relayId);
      log.error(context, 'outbox event without a hash settled without sending');
      return;
    }
    const result = await legacy.writePassword({ eventId: event.eventId, sequence: event.sequence, legacyId: event.legacyId, hash: event.legacyHash });
    if (result.status === 'failed') {
      const attempts = event.attempts + 1;
      const delayMs = retryDelay(attempts, retryBaseMs, retryMaxMs);
      await outbox.reschedule(event, relayId, result.reason, delayMs);
      metrics.failed(result.reason);
      log.warn({ ...context, attempts, error: result.reason, retryInMs: delayMs }, 'legacy password write failed; will retry');
      return;
    }
    if (result.status === 'applied') {
      // The legacy row now holds this hash: record its fingerprint so the batch migration's
      // delta pass sees a legacy hash the idp already knows about, not a change to copy back.
      await knex('users').where({ id: event.userId }).update({ legacy_fingerprint: result.fingerprint });
    }
    if (await outbox.settle(event, relayId)) {
      metrics.relayed(result.status);
      log.info({ ...context, result: result.status, attempts: event.attempts + 1 }, 'password change relayed to the legacy site');
    }
  }

  async function pass(): Promise<number> {
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
      if (events.length < batchSize || stopped) return handled;
    }
  }

  function schedule(delay: number): void {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(tick, delay);
    timer.unref();
  }

  function tick(): void {
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch((error: unknown) => {
        log.error({ err: error }, 'dual-write relay pass failed');
        return 0;
      })
      .finally(() => {
        running = undefined;
        const now = again;
        again = false;
        schedule(now ? 0 : pollMs);
      });
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule(0);
    },
    wake() {
      if (!stopped) schedule(0);
    },
    runOnce: () => pass(),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
