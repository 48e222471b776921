// The idp's own database goes silent (a partition: its pooled connections stay open and nothing
// answers). A sign-in then gets the "temporarily unavailable" page (503, Retry-After) by
// IDP_DATABASE_TIMEOUT_MS, never a wait for the gateway's upstream timeout and its 504; the
// connection that waited is closed rather than handed to the next request, so once the database
// answers again sign-ins work at once.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { authorizeUrl, FormClient, hiddenValue } from '../../scripts/support/form-client.ts';
import { PASSWORD } from '../../scripts/support/legacy-hashes.ts';
import { closeSharedResources, NATIVE_REDIRECT, seedLegacyUser, withIdp } from '../support/idp.ts';
import { withSilenceableDatabase } from '../support/silent-database.ts';
import { signInOnPage } from './sign-in-support.ts';

after(closeSharedResources);

test("the idp's database silent: a sign-in is answered 503 by the idp's deadline, and works again once the database is back", async (t) => {
  await withSilenceableDatabase(t, 'idm_idp_deadline', async ({ db, viaProxy, whileSilent }) => {
    await withIdp(
      t,
      { db: 'mysql', redis: false },
      async (idp) => {
        await seedLegacyUser(idp, 'erin');
        // The pool now holds connections through the proxy.
        assert.equal((await signInOnPage(idp.url, 'erin', PASSWORD)).signedIn, true);

        const browser = new FormClient(idp.url, { 'x-forwarded-for': '198.51.100.77' });
        const page = await browser.follow(authorizeUrl('native-app', NATIVE_REDIRECT, 'openid').url);
        const uid = page.url.split('/').pop()!;
        const answer = await whileSilent(() =>
          browser.follow(`/interaction/${uid}/login`, { form: { csrf: hiddenValue(page.body, 'csrf'), identifier: 'erin', password: PASSWORD } }),
        );
        assert.equal(answer.res.status, 503, answer.body.slice(0, 300));
        assert.ok(Number(answer.res.headers.get('retry-after')) > 0, 'says when to retry');
        assert.match(answer.body, /unavailable/i);
        assert.doesNotMatch(answer.body, /Incorrect login or password/);

        assert.equal((await signInOnPage(idp.url, 'erin', PASSWORD)).signedIn, true, 'signs in once the database answers again');
      },
      { realPages: true, database: db, env: { DATABASE_URL: viaProxy, IDP_DATABASE_TIMEOUT_MS: '2000' } },
    );
  });
});
