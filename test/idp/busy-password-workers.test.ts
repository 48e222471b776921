// Every password hashing thread busy and the queue full (PASSWORD_WORKER_QUEUE_MAX=0, real
// worker threads taken by endless jobs): the idp decides nothing. Concurrent logins on the login
// page, a shadow login-check and password changes are answered "temporarily unavailable" (503,
// Retry-After), never as a wrong password, not counted by the throttle, and counted as busy.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loadIdpConfig } from '../../idp/config.ts';
import { closePasswordWorkers, configurePasswordWorkers, DEFAULT_WORKER_QUEUE_DEPTH } from '../../lib/passwords/index.ts';

import { occupyEveryThread } from '../support/password-workers.ts';
import { signInOnPage, STRICT_THROTTLE } from './sign-in-support.ts';
import { closeSharedResources, seedLegacyUser, withIdp, type TestIdp } from '../support/idp.ts';
import { LEGACY_PHPASS, PASSWORD } from '../../scripts/support/legacy-hashes.ts';
import { sample } from '../support/prometheus-text.ts';
import { internalErrorBody } from '../../contracts/internal-error.ts';

after(async () => {
  configurePasswordWorkers({ maxQueue: DEFAULT_WORKER_QUEUE_DEPTH });
  await closeSharedResources();
});

const NEW_PASSWORD = 'a brand new passphrase 2026';

async function loginCheck(idp: TestIdp, password: string) {
  const res = await fetch(`${idp.url}/internal/v1/login-check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${loadIdpConfig(idp.env).IDP_INTERNAL_SECRET}` },
    body: JSON.stringify({ login: 'erin', password }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

test('password workers busy: login page, login-check and password change answer 503 try-again, none a failed attempt', async (t) => {
  await withIdp(
    t,
    { db: 'sqlite', redis: false },
    async (idp) => {
      const userId = await seedLegacyUser(idp, 'erin');
      const signedIn = await signInOnPage(idp.url, 'erin', PASSWORD);
      assert.equal(signedIn.signedIn, true);
      // That login upgraded the hash to PBKDF2; put the legacy one back so that checking the
      // current password on the account page needs a worker thread too.
      await idp.db.knex('users').where({ id: userId }).update({ password_hash: LEGACY_PHPASS, password_scheme: 'phpass-portable-P' });
      const account = signedIn.browser;
      const page = await account.follow('/account/password');
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
      assert.ok(csrf, 'the password page is open');
      const change = (current: string) =>
        account.follow('/account/password', { form: { csrf, 'current-password': current, 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD } });

      const endless = await occupyEveryThread();
      // More attempts than the throttle gives for free, right and wrong passwords, all at once.
      const [logins, checks, changes] = await Promise.all([
        Promise.all([0, 1, 2, 3].map((i) => signInOnPage(idp.url, 'erin', i % 2 ? PASSWORD : 'wrong password'))),
        Promise.all([loginCheck(idp, PASSWORD), loginCheck(idp, 'wrong password')]),
        Promise.all([change(PASSWORD), change('wrong password')]),
      ]);
      for (const login of logins) {
        assert.equal(login.status, 503);
        assert.ok(Number(login.retryAfter) > 0, 'says when to retry');
        assert.match(login.body, /temporarily unavailable/);
        assert.doesNotMatch(login.body, /Incorrect login or password/);
      }
      for (const check of checks) {
        assert.deepEqual([check.status, internalErrorBody.parse(JSON.parse(check.body)).error], [503, 'temporarily_unavailable']);
        assert.ok(Number(check.retryAfter) > 0);
      }
      for (const changed of changes) {
        assert.equal(changed.res.status, 503);
        assert.ok(Number(changed.res.headers.get('retry-after')) > 0);
        assert.match(changed.body, /Your password was not changed/);
        assert.doesNotMatch(changed.body, /incorrect/);
      }
      assert.equal((await idp.db.knex('users').where({ id: userId }).first('password_hash')).password_hash, LEGACY_PHPASS, 'nothing was written');

      const metrics = await (await fetch(`${idp.opsUrl}/metrics`)).text();
      assert.equal(sample(metrics, 'idp_logins_total', { result: 'busy' }), 6);
      assert.equal(sample(metrics, 'idp_logins_total', { result: 'wrong_password' }), 0);
      assert.equal(sample(metrics, 'idp_login_page_submissions_total', { result: 'unavailable' }), 4);
      assert.equal(sample(metrics, 'idp_password_changes_total', { result: 'busy' }), 2);
      assert.equal(sample(metrics, 'idp_password_changes_total', { result: 'incorrect_current' }), 0);

      await closePasswordWorkers();
      await Promise.all(endless);
      // Had the busy attempts counted, these would be refused (two free attempts).
      assert.equal((await signInOnPage(idp.url, 'erin', 'wrong password')).status, 401);
      assert.equal((await signInOnPage(idp.url, 'erin', 'wrong password')).status, 401);
      assert.equal((await signInOnPage(idp.url, 'erin', PASSWORD)).signedIn, true);
      const done = await change(PASSWORD);
      assert.equal(done.res.status, 200);
      assert.match(done.body, /Your password was changed/);
    },
    { realPages: true, env: { ...STRICT_THROTTLE, PASSWORD_WORKER_QUEUE_MAX: '0' } },
  );
});
