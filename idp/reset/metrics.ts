import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
import { counter } from '../../lib/metrics.ts';
import type { ResetLinkStats } from './tokens.ts';

/** What became of a "Forgot password?" form submission (the page the user sees is the same for all). */
export type ResetRequestResult = 'issued' | 'no_account' | 'throttled' | 'unavailable' | 'failed';
/** What became of a new-password form submission (or of opening a link that no longer works). */
export type ResetCompletionResult = 'success' | 'expired' | 'invalid' | 'invalid_form' | 'revoke_deferred';

export interface ResetMetrics {
  requested(result: ResetRequestResult): void;
  imported(): void;
  completed(result: ResetCompletionResult): void;
  revoked(grants: number, sessions: number): void;
}

export interface ResetLinkGaugeOptions {
  /** The links table's counts, read at scrape time. */
  links(): Promise<ResetLinkStats>;
  logger?: Logger;
}

export function createResetMetrics(registry?: Registry, options?: ResetLinkGaugeOptions): ResetMetrics {
  if (!registry) return { requested: () => undefined, imported: () => undefined, completed: () => undefined, revoked: () => undefined };
  const requests = counter(
    registry,
    'idp_password_reset_requests_total',
    'Password reset requests, by result (issued: a link was mailed; no_account: unknown, inactive or without e-mail; throttled; unavailable: the legacy-adapter did not answer; failed)',
    ['result'] as const,
  );
  const imports = counter(
    registry,
    'idp_password_reset_legacy_imports_total',
    "Legacy users who never signed in, imported by a reset request (the batch migration's record)",
    [] as const,
  );
  const completions = counter(
    registry,
    'idp_password_reset_completions_total',
    'Reset links used, by result (success; expired: past IDP_PASSWORD_RESET_TTL; invalid: unknown or already used; invalid_form; revoke_deferred: reset, its other sessions ended later by the retrier)',
    ['result'] as const,
  );
  const revoked = counter(registry, 'idp_password_reset_revocations_total', 'What password resets revoked: the grants and browser sessions of the account', [
    'kind',
  ] as const);
  for (const result of ['issued', 'no_account', 'throttled', 'unavailable', 'failed'] satisfies ResetRequestResult[]) requests.inc({ result }, 0);
  for (const result of ['success', 'expired', 'invalid', 'invalid_form', 'revoke_deferred'] satisfies ResetCompletionResult[]) completions.inc({ result }, 0);
  imports.inc(0);
  if (options && !registry.getSingleMetric('idp_password_reset_links')) {
    const { links, logger } = options;
    new Gauge({
      name: 'idp_password_reset_links',
      help: 'Reset links not used, by state (open: still valid; expired_unused: expired without being used, within the last day). The table is shared by every replica.',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        try {
          const stats = await links();
          this.set({ state: 'open' }, stats.open);
          this.set({ state: 'expired_unused' }, stats.expiredUnused);
        } catch (error) {
          // A scrape must not fail because the database hiccupped: the gauge keeps its last value.
          logger?.warn({ err: error }, 'cannot read the reset links for metrics');
        }
      },
    });
  }
  return {
    requested: (result) => requests.inc({ result }),
    imported: () => imports.inc(),
    completed: (result) => completions.inc({ result }),
    revoked(grants, sessions) {
      revoked.inc({ kind: 'grant' }, grants);
      revoked.inc({ kind: 'session' }, sessions);
    },
  };
}
