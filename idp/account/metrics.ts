import type { Registry } from 'prom-client';
import { counter } from '../../lib/metrics.ts';

export type PasswordChangeResult = 'success' | 'invalid_form' | 'incorrect_current' | 'throttled' | 'forged' | 'changed_meanwhile' | 'revoke_deferred' | 'busy';

export interface PasswordChangeMetrics {
  change(result: PasswordChangeResult): void;
  revoked(grants: number, sessions: number): void;
  /** A revocation a password change left pending, tried again (revocation-retrier.ts). */
  deferredRevocation(result: 'done' | 'failed'): void;
}

export function createPasswordChangeMetrics(registry?: Registry): PasswordChangeMetrics {
  if (!registry) return { change: () => undefined, revoked: () => undefined, deferredRevocation: () => undefined };
  const changes = counter(
    registry,
    'idp_password_changes_total',
    'Self-service password change submissions, by result (success; invalid_form, incorrect_current, throttled, forged: CSRF refused, changed_meanwhile, revoke_deferred: changed, other sessions to be ended once Redis answers, busy: the password workers were busy, nothing changed)',
    ['result'] as const,
  );
  const revoked = counter(
    registry,
    'idp_password_change_revocations_total',
    'What password changes revoked: the other grants and the other browser sessions of the account',
    ['kind'] as const,
  );
  const deferred = counter(
    registry,
    'idp_password_change_deferred_revocations_total',
    'Revocations a password change left pending (Redis failed after the change committed), tried again: done, or failed and kept for the next try',
    ['result'] as const,
  );
  return {
    change: (result) => changes.inc({ result }),
    deferredRevocation: (result) => deferred.inc({ result }),
    revoked(grants, sessions) {
      revoked.inc({ kind: 'grant' }, grants);
      revoked.inc({ kind: 'session' }, sessions);
    },
  };
}
