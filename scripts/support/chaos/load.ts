// The chaos and zero-downtime tests' steady load, until `running()` turns false: anonymous page
// views of the monolith, sign-ins (users never seen by the idp, imported just in time, and users
// coming back), password changes whose outcome the test later looks for on the PHP side, and an
// app's sessions (sign-in with PKCE, API calls with the access token, refreshes).
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from './agent.ts';
import { apiCall, appSignIn, changePassword, refreshTokens, signIn, StepFailed, viewPage, type AppClient, type Tokens } from './flows.ts';
import type { Ledger } from './ledger.ts';

export interface LoadOptions {
  gateway: string;
  ledger: Ledger;
  deadlineMs: number;
  running(): boolean;
  /** Every seeded user's password at the start. */
  seedPassword: string;
}

/** A password-change user: what the idp should now hold, or (outcome unknown) the ones it may hold. */
export interface PasswordUser {
  login: string;
  /** The last password the idp confirmed, then any whose change got no clear answer. */
  candidates: string[];
  changes: number;
}

let addresses = 0;
/** A documentation-range address per agent (RFC 5737), so that no two share the idp's per-address counters. */
const nextAddress = () => {
  const n = addresses++;
  return `198.51.${100 + (n >> 8)}.${n & 255}`;
};

export async function pageViews(options: LoadOptions): Promise<void> {
  const agent = new Agent(options.gateway, nextAddress(), options.deadlineMs);
  for (let i = 0; options.running(); i++) {
    await options.ledger.run('page view', () => viewPage(agent, i % 2 ? '/login.php' : '/index.php'));
    await sleep(50);
  }
}

/** Signs in users from `fresh` (taken from the list: the first sign-in imports them from the legacy database), every other time one who signed in before. */
export async function signIns(options: LoadOptions, fresh: string[]): Promise<void> {
  const returning: string[] = [];
  for (let i = 0; options.running(); i++) {
    // Once the seed's new users run out (a fast machine), users coming back carry the load.
    const login = (i % 2 && returning.length ? undefined : fresh.shift()) ?? returning[i % Math.max(1, returning.length)];
    if (login === undefined) throw new Error('no user to sign in: the seed has too few users, and none signed in yet');
    const { outcome } = await options.ledger.run('sign-in', () =>
      signIn(new Agent(options.gateway, nextAddress(), options.deadlineMs), login, options.seedPassword),
    );
    if (outcome === 'ok' && !returning.includes(login)) returning.push(login);
    await sleep(100);
  }
}

/**
 * Signs a user in, then changes the password again and again. A change without a clear answer
 * (hung, 5xx, no answer) may or may not have happened: that user is set aside with both candidates
 * and the next one takes over.
 */
export async function passwordChanges(options: LoadOptions, users: PasswordUser[]): Promise<void> {
  let agent: Agent | undefined;
  let signedInAt = 0;
  for (const user of users) {
    while (options.running()) {
      const current = user.candidates[0]!;
      if (!agent) {
        const candidate = new Agent(options.gateway, nextAddress(), options.deadlineMs);
        signedInAt = Date.now();
        if ((await options.ledger.run('sign-in', () => signIn(candidate, user.login, current))).outcome === 'ok') agent = candidate;
        else await sleep(200);
        continue;
      }
      const next = `${user.login} password ${user.changes + 1}`;
      const { outcome, error } = await options.ledger.run('password change', () => changePassword(agent!, current, next), signedInAt);
      if (outcome === 'ok') {
        user.candidates = [next];
        user.changes++;
      } else if (error instanceof StepFailed && (error.step === 'GET /account/password' || error.answer.status < 500)) {
        agent = undefined; // nothing changed; its session may be gone: sign in again
      } else {
        user.candidates.push(next);
        agent = undefined;
        break;
      }
      await sleep(150);
    }
    if (!options.running()) return;
  }
  throw new Error('the password-change users ran out');
}

/**
 * An app's sessions, one user after another from `users` (round and round): sign in, then API
 * calls with the access token and a refresh every third call, five refreshes a session.
 */
export async function appSessions(options: LoadOptions, app: AppClient, users: string[]): Promise<void> {
  for (let i = 0; options.running(); i++) {
    const login = users[i % users.length]!;
    const agent = new Agent(options.gateway, nextAddress(), options.deadlineMs);
    let tokens: Tokens | undefined;
    await options.ledger.run('app sign-in', async () => {
      tokens = await appSignIn(agent, app, login, options.seedPassword);
    });
    for (let call = 1; tokens && call <= 15 && options.running(); call++) {
      const { access } = tokens;
      await options.ledger.run('api call', () => apiCall(agent, access, login));
      await sleep(100);
      if (call % 3 === 0) {
        const { refresh } = tokens;
        tokens = undefined;
        await options.ledger.run('token refresh', async () => {
          tokens = await refreshTokens(agent, app, refresh);
        });
      }
    }
    await sleep(100);
  }
}
