import type { Registry } from 'prom-client';
import { counter } from '../../lib/metrics.ts';

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

export function createResetMetrics(registry?: Registry): ResetMetrics {
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
