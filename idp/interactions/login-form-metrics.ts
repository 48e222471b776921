import type { Registry } from 'prom-client';
import { counter } from '../../lib/metrics.ts';
import type { ThrottleSubject } from '../throttle/index.ts';

/** How one login form submission ended (idp_login_page_submissions_total); the password check under it is counted by login/metrics.ts. */
export type LoginFormResult = 'success' | 'failure' | 'throttled' | 'unavailable' | 'invalid_form';

export interface LoginFormMetrics {
  login(result: LoginFormResult): void;
  throttled(subject: ThrottleSubject): void;
}

export function createLoginFormMetrics(registry?: Registry): LoginFormMetrics {
  if (!registry) return { login: () => undefined, throttled: () => undefined };
  const logins = counter(
    registry,
    'idp_login_page_submissions_total',
    'Login form submissions, by result (success, failure, throttled: refused by the login throttle, unavailable: the legacy-adapter did not answer or the password workers were busy, invalid_form)',
    ['result'] as const,
  );
  const throttled = counter(
    registry,
    'idp_login_throttled_total',
    'Login attempts refused by the throttle, by the subject that was over its limit (account as typed, user as resolved, address, network)',
    ['subject'] as const,
  );
  return {
    login: (result) => logins.inc({ result }),
    throttled: (subject) => throttled.inc({ subject }),
  };
}
