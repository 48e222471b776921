// The cutover of each sample monolith (legacy-php/, legacy-php-2/) with each session store
// (table, phpredis, files), with nothing but its shipped mapping (its `session.store` the one
// thing changed per store), routes and resources files and variables: real PHP, MariaDB, Redis,
// the three services as processes, Chromium for the browser steps. Through the gateway:
//   - a user logged in on the monolith stays logged in when sign-in moves to the new stack;
//   - sign-in through /auth/login, and the unchanged account page shows the user;
//   - the monolith's login page flipped to the new side ends with the user logged in on it;
//   - logout flipped to the new side ends the PHP session and the idp's;
//   - on its JSON API a token with the API's scope reads that user's data, one without gets 403,
//     none 401, and an identity header the client sends never arrives.
// One stack per monolith; a store change restarts only php and the legacy-adapter.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { describeOrSkip, legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { startCutoverStack, type CutoverStack } from './cutover-stack.ts';
import {
  chromiumUnavailableReason,
  confirmIdpLogout,
  cookieOf,
  freshPage,
  launchBrowser,
  sawIdpPage,
  signInOnIdpPage,
  userAccessToken,
} from './browser-steps.ts';
import { startLegacyPhp2Monolith, startLegacyPhpMonolith, STORES, type DemoUser, type Monolith, type StoreKind } from './monoliths.ts';

const reason = (await legacyPhpUnavailableReason({ db: 'mysql', sessionStore: 'redis' })) ?? chromiumUnavailableReason();

const MONOLITHS: ReadonlyArray<[string, () => Promise<Monolith>]> = [
  ['legacy-php', startLegacyPhpMonolith],
  ['legacy-php-2', startLegacyPhp2Monolith],
];

for (const [name, startMonolith] of MONOLITHS) {
  describeOrSkip(`cutover of ${name} by files and variables only`, reason, () => {
    let monolith: Monolith;
    let stack: CutoverStack;
    let browser: Browser;
    let tokens: { user: DemoUser; read: string; other: string } | undefined;

    before(async () => {
      // One at a time: a browser launched beside a stack that fails to start would be left open, and keep the run from ending.
      browser = await launchBrowser();
      monolith = await startMonolith();
      stack = await startCutoverStack(monolith, STORES[0]!);
    });
    after(async () => {
      await browser?.close();
      await stack?.stop();
      await monolith?.stop();
    });

    const api = (headers: Record<string, string> = {}) => fetch(`${stack.gateway}${monolith.api.path}`, { headers });

    STORES.forEach((store: StoreKind, index) => {
      test(`sessions in ${store}: legacy session kept at cutover, sign-in, flipped login page, logout of both, the API by token`, async (t) => {
        if (index > 0) await stack.useStore(store);
        const { gateway } = stack;
        // Other users per store, so no store sees a user another store signed in.
        const user = (k: number) => monolith.users[(3 * index + k) % monolith.users.length]!;
        try {
          await t.test('a user logged in on the monolith stays logged in when sign-in moves to the new stack', async () => {
            const { context, page, shown } = await freshPage(browser, gateway);
            await page.goto('/login.php');
            await monolith.legacyLogin(page, user(0));
            assert.equal(monolith.shownUser(await page.content()), user(0).login, 'logged in on the monolith itself');
            const legacySession = await cookieOf(context, gateway, monolith.sessionName);
            assert.ok(legacySession && (await monolith.hasSession(legacySession)), `the monolith keeps its session in ${store}`);

            await stack.flip('login', 'idp');
            shown.length = 0;
            await page.goto(monolith.loginEntry);
            await page.waitForURL(`${gateway}${monolith.loginLanding}`);
            assert.equal(sawIdpPage(shown), false, `no password page: ${shown.join(', ')}`);
            await page.goto('/account.php');
            assert.equal(monolith.shownUser(await page.content()), user(0).login);
            const bridged = await cookieOf(context, gateway, monolith.sessionName);
            assert.ok(bridged && bridged !== legacySession, 'a fresh PHP session from the bridge');
            assert.equal(await monolith.hasSession(bridged), true);
            await context.close();
          });

          await t.test(
            "sign-in through the gateway's /auth/login: the unchanged account page shows the user; its session cookie alone still reads the API",
            async () => {
              const { context, page } = await freshPage(browser, gateway);
              await page.goto('/auth/login?return_to=%2Faccount.php');
              await signInOnIdpPage(page, user(1));
              assert.equal(page.url(), `${gateway}/account.php`);
              assert.equal(monolith.shownUser(await page.content()), user(1).login);
              const session = await cookieOf(context, gateway, monolith.sessionName);
              assert.ok(session && (await monolith.hasSession(session)), `the bridged session is in ${store}`);
              const own = await api({ cookie: `${monolith.sessionName}=${session}` });
              assert.equal(own.status, 200, "bearer optional: the page scripts' session still works");
              assert.equal(monolith.api.userOf(await own.json()), user(1).login);
              await context.close();
            },
          );

          await t.test('the login page flipped to the new side ends with the user logged in on the PHP pages; logout flipped ends both sessions', async () => {
            const { context, page } = await freshPage(browser, gateway);
            await page.goto(monolith.loginEntry);
            await signInOnIdpPage(page, user(2));
            assert.equal(page.url(), `${gateway}${monolith.loginLanding}`, 'back where the login page was asked to return');
            await page.goto('/account.php');
            assert.equal(monolith.shownUser(await page.content()), user(2).login);
            const session = (await cookieOf(context, gateway, monolith.sessionName))!;
            assert.equal(await monolith.hasSession(session), true);

            await stack.flip('logout', 'idp');
            await monolith.clickLogout(page);
            // A logout link (GET) gets the gateway's own "sign out?" page first; a form post goes on to the idp's.
            const ask = 'form[action="/auth/logout"] button';
            await page.waitForSelector(`${ask}, button[name=logout][value=yes]`);
            if (await page.locator(ask).isVisible()) await page.click(ask);
            await confirmIdpLogout(page, gateway);
            assert.equal(await monolith.hasSession(session), false, `the PHP session is gone from ${store}`);
            assert.equal(await cookieOf(context, gateway, monolith.sessionName), undefined, 'and its cookie');
            // Neither session is left: the account page sends to the (flipped) login, which asks for the password.
            await page.goto('/account.php');
            await page.waitForSelector('input[name=identifier]');
            assert.match(new URL(page.url()).pathname, /^\/interaction\//);
            await context.close();
          });

          await t.test(
            "the JSON API: the scope reads the token user's data, another scope 403, no token 401, a forged identity header never arrives",
            async () => {
              tokens ??= {
                user: monolith.users[0]!,
                read: await userAccessToken(gateway, monolith.users[0]!, monolith.api.readScope),
                other: await userAccessToken(gateway, monolith.users[0]!, monolith.api.otherScope),
              };
              const someoneElse = monolith.users[1]!.login;
              const read = await api({ authorization: `Bearer ${tokens.read}` });
              assert.equal(read.status, 200);
              assert.equal(monolith.api.userOf(await read.json()), tokens.user.login);
              const forgedWithToken = await api({ authorization: `Bearer ${tokens.read}`, 'x-remote-user': someoneElse });
              assert.equal(monolith.api.userOf(await forgedWithToken.json()), tokens.user.login, 'the token decides, not the header');

              const other = await api({ authorization: `Bearer ${tokens.other}` });
              assert.equal(other.status, 403);
              assert.match(other.headers.get('www-authenticate') ?? '', new RegExp(`error="insufficient_scope".*scope="${monolith.api.readScope}"`));
              await other.body?.cancel();
              const none = await api();
              assert.equal(none.status, 401);
              await none.body?.cancel();

              // The monolith believes the header from this address (the control); through the gateway it never arrives.
              const direct = await fetch(`${monolith.url}${monolith.api.path}`, { headers: { 'x-remote-user': someoneElse } });
              assert.equal(direct.status, 200);
              assert.equal(monolith.api.userOf(await direct.json()), someoneElse);
              const forged = await api({ 'x-remote-user': someoneElse, 'x-identity-subject': 'forged' });
              assert.equal(forged.status, 401);
              await forged.body?.cancel();
            },
          );
        } catch (error) {
          t.diagnostic(stack.outputs().slice(-4000));
          throw error;
        } finally {
          await stack.flip('login', 'legacy');
          await stack.flip('logout', 'legacy');
        }
      });
    });
  });
}
