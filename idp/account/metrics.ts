import type { Registry } from 'prom-client';
import { counter } from '../interactions/index.ts';

export type PasswordChangeResult =
  | 'success'
  | 'invalid_form'
  | 'incorrect_current'
  | 'throttled'
  | 'forged'
  | 'changed_meanwhile'
  | 'revoke_failed'
  | 'busy';

export interface PasswordChangeMetrics {
  change(result: PasswordChangeResult): void;
  revoked(grants: number, sessions: number): void;
}

export function createPasswordChangeMetrics(registry?: Registry): PasswordChangeMetrics {
  if (!registry) return { change: () => undefined, revoked: () => undefined };
  const changes = counter(
    registry,
    'idp_password_changes_total',
    'Self-service password change submissions, by result (success; invalid_form, incorrect_current, throttled, forged: CSRF refused, changed_meanwhile, revoke_failed: changed but other sessions not ended, busy: the password workers were busy, nothing changed)',
    ['result'] as const,
  );
  const revoked = counter(registry, 'idp_password_change_revocations_total', 'What password changes revoked: the other grants and the other browser sessions of the account', ['kind'] as const);
  return {
    change: (result) => changes.inc({ result }),
    revoked(grants, sessions) {
      revoked.inc({ kind: 'grant' }, grants);
      revoked.inc({ kind: 'session' }, sessions);
    },
  };
}
