import type { ForwardOutcome } from '../proxy/forward-outcome.ts';
import type { DecisionSignal, LoginDecisionConfig } from '../routes/file.ts';

// Only the path matters when comparing a Location with the configured one; the host is a stand-in.
const BASE = 'http://legacy.invalid';

function pathOf(location: string, requestPath: string): string | undefined {
  const url = URL.parse(location, new URL(requestPath, BASE));
  return url ? `${url.origin}${url.pathname}` : undefined;
}

function says(signal: DecisionSignal, outcome: ForwardOutcome, requestPath: string): boolean {
  if (!signal.status.includes(outcome.status)) return false;
  if (signal.location === undefined) return true;
  return outcome.location !== undefined && pathOf(outcome.location, requestPath) === pathOf(signal.location, requestPath);
}

/**
 * The legacy site's login decision, read from its answer by the route's configured signals: true
 * (accepted), false (refused), or undefined when the answer says neither (or both), so the
 * credentials were never judged and there is nothing to compare.
 */
export function legacyLoginDecision(outcome: ForwardOutcome, config: LoginDecisionConfig, requestPath: string): boolean | undefined {
  if (outcome.failure) return undefined;
  const accepted = says(config.accepted, outcome, requestPath);
  const refused = says(config.refused, outcome, requestPath);
  return accepted === refused ? undefined : accepted;
}

/** The credentials as the form posted them (the login trimmed, the password as typed), or undefined if either is empty. */
export function postedCredentials(body: Buffer, fields: LoginDecisionConfig['fields']): { login: string; password: string } | undefined {
  const form = new URLSearchParams(body.toString('utf8'));
  const login = (form.get(fields.login) ?? '').trim();
  const password = form.get(fields.password) ?? '';
  return login === '' || password === '' ? undefined : { login, password };
}
