// The idp's real login page driven like a browser without JavaScript, and a legacy monolith's
// users table behind a real legacy-adapter, for the sign-in tests that need the whole chain.
import type { RunningService } from '../../lib/service.ts';
import { authorizeUrl, FormClient, hiddenValue } from '../../scripts/support/form-client.ts';
import { insertLegacyRows } from '../jit-login/support.ts';
import { vector } from '../../scripts/support/legacy-hashes.ts';
import { createLegacyPhpSchema } from '../../scripts/support/legacy-schema.ts';
import { legacyRow } from '../../scripts/support/legacy-users.ts';
import { ADAPTER_SECRET, startAdapter } from '../../scripts/support/legacy-adapter.ts';
import type { TestDatabase } from '../../scripts/support/databases.ts';
import { NATIVE_REDIRECT } from '../support/idp.ts';

let addressCounter = 0;

/** One sign-in attempt on the login page, from its own client address unless one is given; `browser` holds the idp's cookies after it. */
export async function signInOnPage(idpUrl: string, identifier: string, password: string, address = `198.51.100.${(++addressCounter % 250) + 1}`) {
  const browser = new FormClient(idpUrl, { 'x-forwarded-for': address });
  const auth = authorizeUrl('native-app', NATIVE_REDIRECT, 'openid');
  const page = await browser.follow(auth.url);
  const uid = page.url.split('/').pop()!;
  const answer = await browser.follow(`/interaction/${uid}/login`, { form: { csrf: hiddenValue(page.body, 'csrf'), identifier, password } });
  // A finished login leaves the idp for the client's redirect URI (consent of a native client may come first).
  const signedIn = answer.url.startsWith(NATIVE_REDIRECT) || /Allow/.test(answer.body);
  return { status: answer.res.status, retryAfter: answer.res.headers.get('retry-after'), body: answer.body, signedIn, browser };
}

export interface LegacySite {
  adapter: RunningService;
  /** The idp's variables that point it at this adapter. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** The sample monolith's users table on `db` with `logins` (password: PASSWORD, bcrypt as PHP wrote it), and an adapter on it. */
export async function startLegacySite(db: TestDatabase, logins: string[]): Promise<LegacySite> {
  await createLegacyPhpSchema(db);
  const { hash } = vector('bcrypt-2y');
  await insertLegacyRows(
    db.knex,
    logins.map((login) => legacyRow(login, hash)),
  );
  const adapter = await startAdapter(db.url);
  return {
    adapter,
    env: { LEGACY_ADAPTER_URL: adapter.url, LEGACY_ADAPTER_SECRET: ADAPTER_SECRET, LEGACY_ADAPTER_TIMEOUT_MS: '5000' },
    stop: () => adapter.stop().then(() => undefined),
  };
}

/** Throttle settings under which no delay can lapse during a test: nothing depends on timing. */
export const STRICT_THROTTLE = {
  IDP_LOGIN_THROTTLE_ACCOUNT_FREE_ATTEMPTS: '2',
  IDP_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS: '1000',
  IDP_LOGIN_THROTTLE_WINDOW_MS: '600000',
  IDP_LOGIN_THROTTLE_BASE_DELAY_MS: '120000',
  IDP_LOGIN_THROTTLE_MAX_DELAY_MS: '600000',
};
