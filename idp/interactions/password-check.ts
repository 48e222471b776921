// One password check as the login page makes it. Throttled first per identifier as typed and
// per client; then, once the login resolved to an account, per that account, whether the
// password was right or wrong: `alice`, `álice` and alice's e-mail address are one account and
// earn no extra attempts between them. Refused there, even a right password is refused.
import type { IdpUser, LoginService } from '../login/types.ts';
import { throttleSubjects, userKey, type LoginThrottle, type ThrottleSubject, type ThrottleSubjects } from '../throttle/index.ts';

export type PasswordCheck =
  | { ok: true; user: IdpUser; subjects: ThrottleSubjects }
  | { ok: false; reason: 'incorrect'; subjects: ThrottleSubjects }
  | { ok: false; reason: 'throttled'; retryAfterMs: number; subject: ThrottleSubject; subjects: ThrottleSubjects }
  /** Nothing was decided (the legacy-adapter did not answer, or the password workers were busy); the attempt was not counted. */
  | { ok: false; reason: 'unavailable'; subjects: ThrottleSubjects };

export async function checkPassword(
  login: LoginService,
  throttle: LoginThrottle,
  identifier: string,
  password: string,
  ip: string | undefined,
): Promise<PasswordCheck> {
  const subjects = throttleSubjects(identifier, ip);
  const typed = await throttle.attempt(subjects);
  if (!typed.allowed) return { ok: false, reason: 'throttled', retryAfterMs: typed.retryAfterMs, subject: typed.subject, subjects };
  let account: string | undefined;
  const outcome = await login.login(identifier, password, { onAccount: (resolvedTo) => (account = resolvedTo) });
  if (!outcome.ok && outcome.unavailable) {
    await throttle.refund(subjects);
    return { ok: false, reason: 'unavailable', subjects };
  }
  const resolved: ThrottleSubjects = account === undefined ? subjects : { ...subjects, user: userKey(account) };
  if (resolved.user !== undefined) {
    const decision = await throttle.attempt({ user: resolved.user });
    if (!decision.allowed) return { ok: false, reason: 'throttled', retryAfterMs: decision.retryAfterMs, subject: decision.subject, subjects: resolved };
  }
  if (!outcome.ok) return { ok: false, reason: 'incorrect', subjects: resolved };
  await throttle.succeeded(resolved);
  return { ok: true, user: outcome.user, subjects: resolved };
}
