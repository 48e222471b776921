// Runs the revocations a password change could not finish (pending-revocations.ts): at start,
// whenever Redis is back (the caller wakes it) and every `intervalMs`. Every replica runs one;
// two doing the same row at once only revoke the same grants twice.
import type { Logger } from '../../lib/logger.ts';
import type { RevokeUserGrants } from '../oidc/index.ts';
import type { PasswordChangeMetrics } from './metrics.ts';
import type { PendingRevocations } from './pending-revocations.ts';
import { safeError } from '../../lib/safe-error.ts';

const BATCH = 100;

/** Besides at start and when Redis is back: a Redis that failed without dropping the connection (timeouts) sends no signal. */
export const REVOCATION_RETRY_INTERVAL_MS = 30_000;

/** Only the name and code: a store's message could quote a key, which holds a session or grant id. */

export interface RevocationRetrier {
  start(): void;
  /** Runs now (or again right after the run in progress). */
  wake(): void;
  stop(): Promise<void>;
}

export interface RevocationRetrierOptions {
  pending: PendingRevocations;
  revokeUserGrants: RevokeUserGrants;
  metrics: PasswordChangeMetrics;
  logger: Logger;
  intervalMs?: number;
}

export function createRevocationRetrier(options: RevocationRetrierOptions): RevocationRetrier {
  const { pending, revokeUserGrants, metrics, intervalMs = REVOCATION_RETRY_INTERVAL_MS } = options;
  const log = options.logger.child({ component: 'revocation-retrier' });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  /** Oldest first; the first failure ends the run, since the next row would meet the same Redis. */
  async function runOnce(): Promise<void> {
    for (const row of await pending.due(BATCH)) {
      if (stopped) return;
      try {
        const revoked = await revokeUserGrants(row.accountId, row.keepGrantId ?? undefined, row.keepSessionId ?? undefined);
        await pending.settle(row.id);
        metrics.deferredRevocation('done');
        metrics.revoked(revoked.grants, revoked.sessions);
        log.info({ sub: row.accountId, grantsRevoked: revoked.grants, sessionsEnded: revoked.sessions }, 'deferred revocation done');
      } catch (error) {
        metrics.deferredRevocation('failed');
        log.warn({ err: safeError(error), sub: row.accountId, attempts: row.attempts + 1 }, 'deferred revocation failed; retrying later');
        await pending.failed(row.id).catch(() => undefined);
        return;
      }
    }
  }

  function wake(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await runOnce().catch((error: unknown) => log.warn({ err: safeError(error) }, 'pending revocations could not be read; retrying later'));
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
  }

  return {
    start() {
      stopped = false;
      timer = setInterval(wake, intervalMs);
      timer.unref();
      wake();
    },
    wake,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
