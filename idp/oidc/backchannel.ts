// OpenID Connect Back-Channel Logout 1.0, sent off the request path. oidc-provider sends logout
// tokens from its end-session endpoint and awaits them, so a slow or dead client would hold the
// user's sign-out; and it knows nothing of sessions we end ourselves (password change, reset,
// admin). Here every logout owed to a client is written to the backchannel_outbox first (before
// the session it ends is destroyed) and sent by a worker on every replica, retried with backoff
// and counted: a restart or a client away for a while loses none. RP-initiated logout and our own
// session endings use it alike.
import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';
import type { Registry } from 'prom-client';
import type { Knex } from '../../lib/db.ts';
import type { Logger } from '../../lib/logger.ts';
import { counter } from '../../lib/metrics.ts';
import { createPollingLoop } from '../../lib/polling-loop.ts';
import { registerBacklogGauges } from '../outbox/metrics.ts';
import { createBackchannelOutbox, type BackchannelOutbox, type OwedLogout, type QueuedLogout } from './backchannel-outbox.ts';

/** What an ended session says about the clients signed in through it (oidc-provider's Session payload). */
export interface EndedSession {
  [key: string]: unknown;
  accountId?: unknown;
  authorizations?: unknown;
}

export interface BackchannelLogouts {
  /** Stores a logout for every client of `session` (those without a back-channel URI are skipped when sent); resolves once stored. */
  sessionEnded(session: EndedSession): Promise<void>;
  start(): void;
  /** Stops the worker and waits for the pass in flight (at shutdown); what is left is sent after the restart. */
  close(): Promise<void>;
}

export interface BackchannelOptions {
  knex: Knex;
  logger: Logger;
  registry?: Registry;
  /** Waits before each retry, in ms; one attempt more than there are waits, then the logout is given up. */
  retryDelaysMs?: readonly number[];
  /** How often the worker looks for due logouts (a new one is sent at once). */
  pollMs?: number;
}

type Send = (this: Client, sub: string, sid: string | undefined) => Promise<void>;

const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000];
/** Longer than oidc-provider's request timeout: a lease never runs out under a live attempt. */
const LEASE_MS = 30_000;
const BATCH = 50;
/** Settled rows are kept a day (what was sent when), then deleted, at most hourly. */
const KEEP_SETTLED_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

function metricsOf(registry: Registry | undefined, outbox: BackchannelOutbox, logger: Logger) {
  if (!registry) return { count: (_result: string) => undefined };
  registerBacklogGauges(registry, {
    what: 'the back-channel outbox',
    backlog: { name: 'idp_backchannel_backlog', help: 'Back-channel logouts owed to clients and not yet delivered (retried with backoff)' },
    oldest: { name: 'idp_backchannel_oldest_pending_seconds', help: 'Age of the oldest back-channel logout not yet delivered (0 when none is pending)' },
    stats: () => outbox.stats(),
    logger,
  });
  const logouts = counter(
    registry,
    'idp_backchannel_logouts_total',
    'Back-channel logout tokens sent to clients, by result (sent: the client answered 200/204; retried: an attempt failed and will be retried; failed: every attempt failed, the client was not told)',
    ['result'] as const,
  );
  for (const result of ['sent', 'retried', 'failed']) logouts.inc({ result }, 0);
  return { count: (result: string) => logouts.inc({ result }) };
}

/** The logouts an ended session owes: one per client signed in through it. */
export function owedBy(session: EndedSession): OwedLogout[] {
  if (typeof session.accountId !== 'string' || !session.accountId) return [];
  const sub = session.accountId;
  const authorizations = (session.authorizations ?? {}) as Record<string, { sid?: unknown }>;
  return Object.entries(authorizations).map(([clientId, authorization]) => ({
    clientId,
    sub,
    sid: typeof authorization?.sid === 'string' ? authorization.sid : undefined,
  }));
}

/**
 * Replaces oidc-provider's own sending (Client#backchannelLogout) with the outbox, so its
 * end-session endpoint answers once the logouts are stored, and returns the outbox's writer for
 * the sessions we end ourselves.
 */
export function installBackchannelLogouts(provider: Provider, options: BackchannelOptions): BackchannelLogouts {
  const prototype = provider.Client.prototype as unknown as { backchannelLogout: Send };
  const send = prototype.backchannelLogout;
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const log = options.logger.child({ component: 'backchannel-logout' });
  const outbox = createBackchannelOutbox(options.knex);
  const metrics = metricsOf(options.registry, outbox, log);
  const holder = `backchannel-${randomUUID()}`;

  async function attempt(logout: QueuedLogout): Promise<void> {
    const { clientId, sub } = logout;
    try {
      const client = await provider.Client.find(clientId);
      // A client deleted or changed since the sign-in, or one without a back-channel URI: nobody to tell.
      if (client?.backchannelLogoutUri) {
        await send.call(client, sub, logout.sid);
        metrics.count('sent');
      }
      await outbox.settle(logout, holder, 'sent');
    } catch (error) {
      const delay = delays[logout.attempts];
      // The error names the client's URI and its status, never the token.
      const err = { name: (error as Error).name, message: (error as Error).message };
      const reason = `${err.name}: ${err.message}`;
      if (delay === undefined) {
        await outbox.settle(logout, holder, 'failed', reason);
        metrics.count('failed');
        log.error({ err, clientId, sub, attempts: logout.attempts + 1 }, 'back-channel logout failed; the client was not told');
        return;
      }
      await outbox.reschedule(logout, holder, reason, delay);
      metrics.count('retried');
      log.warn({ err, clientId, sub, attempt: logout.attempts + 1, retryInMs: delay }, 'back-channel logout attempt failed; retrying');
    }
  }

  let lastPruneAt = 0;
  async function pass(): Promise<void> {
    if (Date.now() - lastPruneAt >= PRUNE_EVERY_MS) {
      lastPruneAt = Date.now();
      await outbox.prune(lastPruneAt - KEEP_SETTLED_MS, 500).catch((error: unknown) => log.warn({ err: error }, 'pruning the back-channel outbox failed'));
    }
    for (;;) {
      const batch = await outbox.claim(holder, BATCH, LEASE_MS);
      // Clients are told at once, each attempt on its own: one slow client holds up no other.
      await Promise.all(
        batch.map((logout) =>
          attempt(logout).catch((error: unknown) => log.error({ err: error, clientId: logout.clientId }, 'a back-channel logout could not be settled')),
        ),
      );
      if (batch.length < BATCH || loop.stopped()) return;
    }
  }

  const loop = createPollingLoop(pass, { pollMs: options.pollMs ?? 1_000, onError: (error) => log.error({ err: error }, 'back-channel logout pass failed') });

  // oidc-provider awaits this for each client at the end-session endpoint: stored, it resolves.
  prototype.backchannelLogout = async function queued(this: Client, sub: string, sid: string | undefined) {
    await outbox.add([{ clientId: this.clientId, sub, sid }]);
    loop.wake();
  };

  return {
    async sessionEnded(session) {
      const owed: OwedLogout[] = [];
      for (const logout of owedBy(session)) {
        // Only clients with a back-channel URI are owed one; a client that cannot be looked up now is kept, and decided when sent.
        const client = await provider.Client.find(logout.clientId).catch(() => 'unknown' as const);
        if (client === 'unknown' || client?.backchannelLogoutUri) owed.push(logout);
      }
      await outbox.add(owed);
      if (owed.length) loop.wake();
    },
    start: () => loop.start(),
    close: () => loop.stop(),
  };
}
