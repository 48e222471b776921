import type { IncomingMessage } from 'node:http';
import type { Registry } from 'prom-client';
import type { LegacySessionLogin, LegacySessionResult } from '../login/legacy-session.ts';
import { counter } from '../../lib/metrics.ts';
import type { InteractionDetails } from './provider-types.ts';

/** What the login step carries back to the provider for a legacy-session sign-in. */
export const LEGACY_SESSION_AMR = 'legacy_session';

export interface LegacySessionStep {
  login: LegacySessionLogin;
  /** The monolith's session cookie's name, as the legacy-adapter announces it (legacy/session-cookie-name.ts). */
  cookieName: () => Promise<string>;
  /** IDP_TTL_LEGACY_SESSION: nothing such a sign-in yields may outlive it, its grant included. */
  lifetimeSeconds: number;
}

/** Whether the interaction's browser session was signed in by a PHP session only. */
export function signedInByLegacySession(d: InteractionDetails): boolean {
  return d.session?.amr?.includes(LEGACY_SESSION_AMR) === true;
}

/**
 * Only a first sign-in with nothing more asked of it: no idp session at all (the PHP session is
 * never re-checked once there is one), and no forced re-authentication (prompt=login, max_age), no
 * id_token_hint, no requested sub or acr, which all mean "prove it now" or "this account".
 */
export function legacySessionApplies(d: InteractionDetails): boolean {
  if (d.prompt.name !== 'login' || d.session?.accountId) return false;
  if (d.prompt.reasons.length !== 1 || d.prompt.reasons[0] !== 'no_session') return false;
  const prompt = typeof d.params.prompt === 'string' ? d.params.prompt.split(' ') : [];
  return !prompt.includes('login') && d.params.max_age === undefined && d.params.id_token_hint === undefined && d.params.claims === undefined;
}

/**
 * The cookie's value, if the request carries exactly one (several with one name are ambiguous:
 * refused, not guessed); `null` for an ambiguous or oversized one, undefined for none.
 */
export function legacySessionCookie(req: IncomingMessage, name: string): string | null | undefined {
  const values = new Set<string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    values.add(part.slice(eq + 1).trim());
  }
  if (values.size === 0) return undefined;
  const [value] = values;
  return values.size === 1 && value && value.length <= 256 ? value : null;
}

export function legacySessionMetrics(registry?: Registry): (result: LegacySessionResult) => void {
  if (!registry) return () => undefined;
  const logins = counter(
    registry,
    'idp_legacy_session_logins_total',
    'Sign-ins offered a PHP session of the monolith, by result (accepted; invalid: no live logged-in session or an inactive user; hint_mismatch: another account was asked for; unavailable: the legacy-adapter did not answer)',
    ['result'] as const,
  );
  return (result) => logins.inc({ result });
}
