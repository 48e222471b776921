// Sessions end everywhere: OpenID Connect Back-Channel Logout from the idp to the gateway, real
// processes (PHP monolith, legacy-adapter, idp, gateway). A user signed in to the PHP pages through
// the bridge is logged out of them when the idp session ends elsewhere: another application's
// sign-out, a password change in another browser, a password reset by e-mail (a real SMTP server
// receives the link), an admin's "end every session". A logout token
// that is forged, tampered with, for another client or replayed is refused and deletes nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import type { Knex } from 'knex';
import { FormClient, hiddenValue } from '../../scripts/support/form-client.ts';
import { describeOrSkip, LEGACY_DEMO_PASSWORD, legacyPhpUnavailableReason } from '../../scripts/support/legacy-php.ts';
import { repoRoot, startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import { authorize, OFFLINE_CLIENT, passwordLogin, signInAtIdp } from './flows.ts';
import { startStack, type Stack, type StackOptions } from '../../scripts/support/stack.ts';
import { sample } from '../support/prometheus-text.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp-server.ts';

const ADMIN_TOKEN = 'test-idp-admin-token-0123456789abcdef0123';
const NEW_PASSWORD = 'a brand new passphrase 42';
const run = promisify(execFile);

/**
 * Where the idp sends the logout tokens: each is recorded (by client), and the gateway's are passed
 * on to its /auth/backchannel-logout, unless `hold` is set (answered 200, the test delivers them
 * itself) or `stall` is (left unanswered until release()).
 */
class LogoutTokenTap {
  readonly tokens: Array<{ client: string; token: string }> = [];
  gateway = '';
  hold = false;
  stall = false;
  /** The gateway is away: its logout tokens are recorded and answered 503. */
  refuse = false;
  readonly #stalled: Array<() => void> = [];
  readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const token = new URLSearchParams(body).get('logout_token') ?? '';
      const client = req.url === '/gateway' ? 'gateway' : 'offline-app';
      this.tokens.push({ client, token });
      if (client !== 'gateway' || this.hold) return void res.writeHead(200).end();
      if (this.refuse) return void res.writeHead(503).end();
      const pass = () =>
        deliver(this.gateway, body).then(
          (r) => res.writeHead(r.status).end(),
          () => res.writeHead(502).end(),
        );
      if (!this.stall) return void pass();
      // An attempt the idp gave up on meanwhile never reached the client: it is dropped, not passed on.
      let abandoned = false;
      res.once('close', () => (abandoned = !res.writableFinished));
      this.#stalled.push(() => (abandoned ? undefined : void pass()));
    });
  });
  /** Passes on what was stalled and is still awaited, and whatever comes next. */
  release(): void {
    this.stall = false;
    for (const pass of this.#stalled.splice(0)) pass();
  }
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }
  of(client: string): string[] {
    return this.tokens.filter((t) => t.client === client).map((t) => t.token);
  }
}

function deliver(gateway: string, body: string, contentType = 'application/x-www-form-urlencoded'): Promise<Response> {
  return fetch(`${gateway}/auth/backchannel-logout`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

/** Polls `check` until it holds; fails naming `what` if it never does (the logout is sent in the background). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`never happened: ${what}`);
}

interface Variant {
  name: string;
  stack: Pick<StackOptions, 'db' | 'sessionStore' | 'sessionName'>;
  /** Where the gateway and the idp keep their state: in-process, or this Redis under a prefix of the run's own. */
  redis?: string;
}

const REDIS = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const variants: Variant[] = [
  { name: 'embedded: sessions table, in-process stores', stack: { db: 'sqlite', sessionStore: 'db' } },
  { name: "PHP's own session files", stack: { db: 'sqlite', sessionStore: 'files' } },
  {
    name: 'Redis: phpredis sessions, the gateway and the idp on Redis',
    stack: { db: 'mysql', sessionStore: 'redis', sessionName: 'LEGACYSESS' },
    redis: REDIS,
  },
];

for (const variant of variants) {
  describeOrSkip(`back-channel logout (${variant.name}): the idp ends the PHP sessions the bridge made`, await legacyPhpUnavailableReason(variant.stack), () =>
    suite(variant),
  );
}

function suite(variant: Variant): void {
  let stack: Stack & { idpDb: Knex };
  const tap = new LogoutTokenTap();
  const prefix = `bcl-test-${process.pid}-${Date.now()}:`;
  const shared: Record<string, string> = variant.redis ? { REDIS_URL: variant.redis, REDIS_KEY_PREFIX: prefix } : {};
  let redis: Redis | undefined;
  let smtp: TestSmtpServer | undefined;
  /** The idp started again by the last test, on the first one's port. */
  let restarted: SpawnedService | undefined;

  before(async () => {
    const tapUrl = await tap.listen();
    smtp = await startSmtpServer();
    stack = await startStack({
      ...variant.stack,
      idpDb: true,
      tmpPrefix: 'backchannel-logout-',
      backchannel: { gateway: `${tapUrl}/gateway`, offline: `${tapUrl}/offline` },
      env: { idp: { IDP_ADMIN_TOKEN: ADMIN_TOKEN, SMTP_URL: smtp.url, IDP_MAIL_POLL_MS: '50', ...shared }, gateway: shared },
    });
    tap.gateway = stack.gateway;
    if (variant.redis) redis = new Redis(variant.redis, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await restarted?.stop();
    await stack?.stop();
    await smtp?.stop();
    tap.server.close();
  });

  /** `login` signed in to the PHP pages through the gateway's bridge: that browser and its PHP session id. */
  async function bridgeSignIn(login: string): Promise<{ browser: FormClient; sessionId: string }> {
    const browser = new FormClient(stack.gateway);
    const landed = await browser.request(await signInAtIdp(browser, login));
    assert.equal(landed.status, 302, await landed.clone().text());
    const cookie = landed.headers.getSetCookie().find((c) => c.startsWith(`${stack.php.sessionName}=`));
    assert.ok(cookie, 'the bridge set the PHP session cookie');
    const sessionId = /=([^;]+)/.exec(cookie)![1]!;
    assert.equal(await phpSessionLive(sessionId), true, 'the PHP pages see the user');
    return { browser, sessionId };
  }

  /** Whether the monolith still takes `sessionId` as a logged-in session. */
  async function phpSessionLive(sessionId: string): Promise<boolean> {
    const res = await fetch(`${stack.gateway}/api/me.php`, { headers: { cookie: `${stack.php.sessionName}=${sessionId}` } });
    await res.body?.cancel();
    assert.ok(res.status === 200 || res.status === 401, `me.php answered ${res.status}`);
    return res.status === 200;
  }

  async function subOf(login: string): Promise<string> {
    const row = (await stack.idpDb('users').where({ username: login }).first('id')) as { id: string } | undefined;
    assert.ok(row, `${login} is an idp user`);
    return row.id;
  }

  /** The back-channel logouts `idp` still owes (its gauge). */
  async function backlog(idp: SpawnedService): Promise<number> {
    return sample(await (await fetch(`${idp.opsUrl}/metrics`)).text(), 'idp_backchannel_backlog', {});
  }

  function endEverySession(sub: string, token = ADMIN_TOKEN) {
    return run(process.execPath, ['idp/cli/sessions.ts', 'end', '--user', sub], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', IDP_ADMIN_TOKEN: token, IDP_ADMIN_URL: stack.idp.url },
    });
  }

  test('RP-initiated logout of another application ends the PHP session made in that idp session', async () => {
    const { browser, sessionId } = await bridgeSignIn('carol');
    // The same browser signs in to another application: the same idp session, no password.
    const other = await authorize(browser, stack.gateway, {}, OFFLINE_CLIENT);
    assert.equal(other.kind, 'code', 'single sign-on into the other application');

    // That application's sign-out, confirmed for the whole idp session.
    const ask = await browser.request(`/session/end?client_id=${OFFLINE_CLIENT.id}`);
    assert.equal(ask.status, 200);
    const page = await ask.text();
    const action = /<form id="op\.logoutForm" method="post" action="([^"]+)"/.exec(page)?.[1];
    assert.ok(action, 'the idp asks to confirm the sign-out');
    const done = await browser.request(action, { form: { xsrf: hiddenValue(page, 'xsrf'), logout: 'yes' } });
    assert.equal(done.status, 303, 'the sign-out answers without waiting for the clients');

    await eventually(async () => !(await phpSessionLive(sessionId)), 'the PHP session ended');
    const account = await browser.request('/account.php');
    assert.equal(account.status, 302);
    assert.equal(account.headers.get('location'), 'login.php');
    const token = decodeJwt(tap.of('gateway').at(-1)!);
    assert.equal(token.sub, await subOf('carol'));
    assert.ok(typeof token.sid === 'string' && token.sid, 'the gateway is told which idp session ended');
    assert.ok(!stack.outputs().includes(sessionId), 'no PHP session id in any log');
  });

  test('the sign-out answers without waiting for a client that does not answer, and the client is told later', async () => {
    const { browser, sessionId } = await bridgeSignIn('heidi');
    assert.equal((await authorize(browser, stack.gateway, {}, OFFLINE_CLIENT)).kind, 'code');
    const before = tap.of('gateway').length;
    tap.stall = true;
    try {
      const ask = await browser.request(`/session/end?client_id=${OFFLINE_CLIENT.id}`);
      const page = await ask.text();
      const action = /<form id="op\.logoutForm" method="post" action="([^"]+)"/.exec(page)![1]!;
      const done = await browser.request(action, { form: { xsrf: hiddenValue(page, 'xsrf'), logout: 'yes' } });
      assert.equal(done.status, 303);
      await eventually(async () => tap.of('gateway').length > before, 'the gateway was sent a logout token');
      assert.equal(await phpSessionLive(sessionId), true, 'not delivered yet');
    } finally {
      // Whether this first attempt is still open or the idp gave up on it, the logout must arrive.
      tap.release();
    }
    await eventually(async () => !(await phpSessionLive(sessionId)), 'the PHP session ended once the gateway was reachable');
  });

  test('a password change in another browser ends the PHP session of this one', async () => {
    const { sessionId } = await bridgeSignIn('dave');
    const phone = new FormClient(stack.gateway);
    const signedIn = await passwordLogin(phone, stack.gateway, await authorize(phone, stack.gateway, {}, OFFLINE_CLIENT), 'dave');
    assert.equal(signedIn.kind, 'code');

    const form = await phone.request(`${stack.idp.url}/account/password`);
    assert.equal(form.status, 200);
    const changed = await phone.request(`${stack.idp.url}/account/password`, {
      form: {
        csrf: hiddenValue(await form.text(), 'csrf'),
        'current-password': LEGACY_DEMO_PASSWORD,
        'new-password': NEW_PASSWORD,
        'confirm-password': NEW_PASSWORD,
      },
    });
    assert.equal(changed.status, 200, await changed.clone().text());

    await eventually(async () => !(await phpSessionLive(sessionId)), 'the PHP session of the other browser ended');
    assert.ok(!stack.outputs().includes(NEW_PASSWORD), 'no password in any log');
  });

  test('a password reset by e-mail, from another browser, ends the PHP session of this one', async () => {
    const { sessionId } = await bridgeSignIn('ivan');
    // Somewhere else, "Forgot password?" and the mailed link, through the gateway as users reach the idp.
    const elsewhere = new FormClient(stack.gateway);
    const before = smtp!.received.length;
    const asked = await elsewhere.request('/interaction/password-reset', { form: { identifier: 'ivan' } });
    assert.equal(asked.status, 200);
    const mail = await smtp!.waitFor('ivan@example.com', /Reset your password/, before);
    const link = /https?:\/\/\S+\/interaction\/password-reset\/new\?token=([\w-]+)/.exec(mail.text);
    assert.ok(link, mail.text);
    const done = await elsewhere.request(new URL(link[0]).pathname + new URL(link[0]).search, {
      form: { token: link[1]!, 'new-password': NEW_PASSWORD, 'confirm-password': NEW_PASSWORD },
    });
    assert.equal(done.status, 200, await done.clone().text());
    assert.match(await done.text(), /Your password was changed/);

    await eventually(async () => !(await phpSessionLive(sessionId)), 'the PHP session made before the reset ended');
    assert.ok(!stack.outputs().includes(link[1]!), 'no reset link in any log');
  });

  test('the admin command ends every session of the account, and the PHP sessions with them', async () => {
    const first = await bridgeSignIn('erin');
    const second = await bridgeSignIn('erin');
    const sub = await subOf('erin');

    // A wrong admin token ends nothing.
    await assert.rejects(
      endEverySession(sub, 'not-the-admin-token-0123456789abcdef'),
      (e: { code?: number; stderr?: string }) => e.code === 1 && /401/.test(e.stderr ?? ''),
    );
    assert.equal(await phpSessionLive(first.sessionId), true);

    const { stdout } = await endEverySession(sub);
    assert.match(stdout, /2 session\(s\) ended/);
    await eventually(async () => !(await phpSessionLive(first.sessionId)) && !(await phpSessionLive(second.sessionId)), 'both PHP sessions ended');
    // The idp sessions are gone too: a new sign-in asks for the password.
    const again = await authorize(first.browser, stack.gateway);
    assert.equal(again.kind, 'password');
  });

  test('a forged, tampered, wrong-audience or replayed logout token is refused and deletes nothing', async () => {
    const { browser, sessionId } = await bridgeSignIn('frank');
    assert.equal((await authorize(browser, stack.gateway, {}, OFFLINE_CLIENT)).kind, 'code');
    const seen = { gateway: tap.of('gateway').length, offline: tap.of('offline-app').length };
    tap.hold = true;
    try {
      await endEverySession(await subOf('frank'));
      await eventually(
        async () => tap.of('gateway').length > seen.gateway && tap.of('offline-app').length > seen.offline,
        'both clients were sent a logout token',
      );
    } finally {
      tap.hold = false;
    }
    const genuine = tap.of('gateway').at(-1)!;
    const forOther = tap.of('offline-app').at(-1)!;
    assert.equal(await phpSessionLive(sessionId), true, 'held back: the PHP session is still live');

    // Signed with another key under the idp's key id, with the genuine claims.
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT(decodeJwt(genuine))
      .setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt', kid: decodeProtectedHeader(genuine).kid! })
      .sign(privateKey);
    // The genuine signature over claims naming another session.
    const [header, , signature] = genuine.split('.');
    const payload = Buffer.from(JSON.stringify({ ...decodeJwt(genuine), sid: 'another-session' })).toString('base64url');
    const tampered = `${header}.${payload}.${signature}`;
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'logout+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify(decodeJwt(genuine))).toString('base64url')}.`;

    for (const [what, token] of [
      ['forged', forged],
      ['tampered', tampered],
      ['unsigned', unsigned],
      ['for another client', forOther],
    ] as const) {
      const res = await deliver(stack.gateway, new URLSearchParams({ logout_token: token }).toString());
      assert.equal(res.status, 400, what);
      assert.equal(res.headers.get('cache-control'), 'no-store', what);
      assert.equal(((await res.json()) as { error?: string }).error, 'invalid_request', what);
      assert.equal(await phpSessionLive(sessionId), true, `${what}: nothing deleted`);
    }
    // Not a logout request at all.
    assert.equal((await deliver(stack.gateway, '')).status, 400);
    assert.equal((await deliver(stack.gateway, JSON.stringify({ logout_token: genuine }), 'application/json')).status, 400);
    const get = await fetch(`${stack.gateway}/auth/backchannel-logout`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal(await phpSessionLive(sessionId), true);

    // The genuine token ends the session once; the same token again is a replay.
    const ok = await deliver(stack.gateway, new URLSearchParams({ logout_token: genuine }).toString());
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal(await phpSessionLive(sessionId), false);
    const replay = await deliver(stack.gateway, new URLSearchParams({ logout_token: genuine }).toString());
    assert.equal(replay.status, 400, 'a replayed logout token is refused');
  });

  test('the idp counts the back-channel logouts it sent', async () => {
    const metrics = await (await fetch(`${stack.idp.opsUrl}/metrics`)).text();
    const count = (result: string) => Number(new RegExp(`^idp_backchannel_logouts_total\\{result="${result}"[^}]*\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    // At least one per test above, every client answering 200.
    assert.ok(count('sent') >= 4, `sent ${count('sent')}`);
    assert.equal(count('failed'), 0);
  });

  if (variant.redis) {
    test("the gateway's record of a PHP session lives in Redis no longer than the PHP session", async () => {
      await bridgeSignIn('grace');
      const key = `${prefix}gateway:logout:sub:${await subOf('grace')}`;
      const ttl = await redis!.ttl(key);
      assert.ok(ttl > 0 && ttl <= 1440, `ttl ${ttl}`);
      assert.equal(await redis!.scard(key), 1);
    });
  }

  // Last: it restarts the idp (whose counters the test above reads).
  test('a logout owed while the gateway is away survives an idp restart, and arrives once the gateway is back', async () => {
    const { sessionId } = await bridgeSignIn('mia');
    const before = tap.of('gateway').length;
    tap.refuse = true;
    try {
      await endEverySession(await subOf('mia'));
      await eventually(async () => tap.of('gateway').length > before, 'a first attempt, refused by the gateway');
      assert.equal(await phpSessionLive(sessionId), true, 'not delivered yet');
      // A deploy: the idp stops and starts again (same database, same port) while the gateway is still away.
      await stack.idp.stop();
      restarted = await startServiceProcess(
        'idp/main.ts',
        'IDP_PORT',
        { ...stack.idpEnv, DATABASE_URL: `sqlite:${join(stack.dir, 'idp.sqlite')}` },
        Number(new URL(stack.idp.url).port),
      );
      assert.equal(await phpSessionLive(sessionId), true, 'still not delivered');
      // The restarted idp knows what it owes.
      await eventually(async () => (await backlog(restarted!)) === 1, 'one logout owed, on the restarted idp');
    } finally {
      tap.refuse = false;
    }
    await eventually(async () => !(await phpSessionLive(sessionId)), 'the PHP session ended once the gateway was back, by the restarted idp');
    await eventually(async () => (await backlog(restarted!)) === 0, 'nothing owed any more');
  });
}
