// OpenID Connect Back-Channel Logout 1.0, sent off the request path. oidc-provider sends logout
// tokens from its end-session endpoint and awaits them, so a slow or dead client would hold the
// user's sign-out; and it knows nothing of sessions we end ourselves (password change, reset,
// admin). Here every logout goes into one queue: sent in the background, retried with backoff,
// counted; RP-initiated logout and our own session endings use it alike.
import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
import { counter } from '../../lib/metrics.ts';

/** What an ended session says about the clients signed in through it (oidc-provider's Session payload). */
export interface EndedSession {
  [key: string]: unknown;
  accountId?: unknown;
  authorizations?: unknown;
}

export interface BackchannelLogouts {
  /** Queues a logout token for every client of `session` that registered a back-channel logout URI. */
  sessionEnded(session: EndedSession): void;
  /** Stops the retries still waiting (at shutdown). */
  close(): void;
}

export interface BackchannelOptions {
  logger: Logger;
  registry?: Registry;
  /** Waits before each retry, in ms; one attempt more than there are waits. */
  retryDelaysMs?: readonly number[];
}

type Send = (this: Client, sub: string, sid: string | undefined) => Promise<void>;

const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000];

function metricsOf(registry: Registry | undefined) {
  if (!registry) return { count: (_result: string) => undefined };
  const logouts = counter(
    registry,
    'idp_backchannel_logouts_total',
    'Back-channel logout tokens sent to clients, by result (sent: the client answered 200/204; retried: an attempt failed and will be retried; failed: every attempt failed, the client was not told)',
    ['result'] as const,
  );
  for (const result of ['sent', 'retried', 'failed']) logouts.inc({ result }, 0);
  return { count: (result: string) => logouts.inc({ result }) };
}

/**
 * Replaces oidc-provider's own sending (Client#backchannelLogout) with the queue, so its
 * end-session endpoint answers at once, and returns the queue for the sessions we end ourselves.
 */
export function installBackchannelLogouts(provider: Provider, options: BackchannelOptions): BackchannelLogouts {
  const prototype = provider.Client.prototype as unknown as { backchannelLogout: Send };
  const send = prototype.backchannelLogout;
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const metrics = metricsOf(options.registry);
  const log = options.logger.child({ component: 'backchannel-logout' });
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  async function attempt(clientId: string, sub: string, sid: string | undefined, tries: number): Promise<void> {
    try {
      const client = await provider.Client.find(clientId);
      // A client deleted or changed since the sign-in: nobody left to tell.
      if (!client?.backchannelLogoutUri) return;
      await send.call(client, sub, sid);
      metrics.count('sent');
    } catch (error) {
      const delay = delays[tries];
      // The error names the client's URI and its status, never the token.
      const err = { name: (error as Error).name, message: (error as Error).message };
      if (delay === undefined || closed) {
        metrics.count('failed');
        log.error({ err, clientId, sub, attempts: tries + 1 }, 'back-channel logout failed; the client was not told');
        return;
      }
      metrics.count('retried');
      log.warn({ err, clientId, sub, attempt: tries + 1, retryInMs: delay }, 'back-channel logout attempt failed; retrying');
      const timer = setTimeout(() => {
        timers.delete(timer);
        void attempt(clientId, sub, sid, tries + 1);
      }, delay);
      timer.unref();
      timers.add(timer);
    }
  }

  const enqueue = (clientId: string, sub: string, sid: string | undefined) => void attempt(clientId, sub, sid, 0);

  // oidc-provider awaits this for each client at the end-session endpoint: queued, it resolves at once.
  prototype.backchannelLogout = function queued(this: Client, sub: string, sid: string | undefined) {
    enqueue(this.clientId, sub, sid);
    return Promise.resolve();
  };

  return {
    sessionEnded(session) {
      if (typeof session.accountId !== 'string' || !session.accountId) return;
      const authorizations = (session.authorizations ?? {}) as Record<string, { sid?: unknown }>;
      for (const [clientId, authorization] of Object.entries(authorizations)) {
        enqueue(clientId, session.accountId, typeof authorization?.sid === 'string' ? authorization.sid : undefined);
      }
    },
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
