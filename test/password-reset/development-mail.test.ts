// Without SMTP_URL (the embedded default) a reset mail is an .eml file and its link is in the
// log; templates come from the directory ops name, values HTML-escaped; requests past the
// per-account allowance are throttled (the same page, no mail); an expired link says so. In
// production the link is never logged, .eml files or not; the page is sent before any lookup;
// requests past the per-address allowance are throttled whichever account they name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { createDatabase, migrate } from '../../lib/db.ts';
import { MAX_PASSWORD_LENGTH, PROBLEM_MESSAGE } from '../../idp/account/password-rules.ts';
import { DEFAULT_TEMPLATES_DIR } from '../../idp/mail/index.ts';
import { escapeHtml } from '../../lib/html.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { createUserStore } from '../../idp/users/store.ts';
import { LEGACY_PHPASS } from '../../scripts/support/legacy-hashes.ts';

import { freePort, startServiceProcess } from '../../scripts/support/processes.ts';
import { idpProductionSecrets } from '../../scripts/support/production-secrets.ts';
import { startSmtpServer } from '../support/smtp-server.ts';
import { sample } from '../support/prometheus-text.ts';

const NAME = 'Eve <b>"Ops" & Co</b>';

async function ask(url: string, identifier: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/interaction/password-reset`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ identifier }),
    // Far shorter than any wait on the legacy-adapter in these tests: a page that waited for it fails here.
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: await res.text() };
}

async function eventually(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(what);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A throwaway idp database holding eve (a legacy hash, as the batch migration leaves it) and
 * `others` (usernames, mail at example.test), and the idp on it in its own process; `before`
 * runs on the migrated database first, with the idp's environment (an operator's one-off steps).
 */
async function startIdpWithEve(dir: string, env: Record<string, string>, options: { others?: string[]; before?(env: Record<string, string>): void } = {}) {
  const databaseUrl = `sqlite:${join(dir, 'idp.sqlite')}`;
  const knex = createDatabase(databaseUrl);
  await migrate(knex, idpMigrations);
  const users = createUserStore(knex);
  for (const [username, name] of [['eve', NAME], ...(options.others ?? []).map((o) => [o, o])] as const) {
    await users.insertFromLegacy({
      legacyId: `legacy-${username}`,
      username,
      email: `${username}@example.test`,
      name,
      passwordHash: LEGACY_PHPASS,
      passwordScheme: 'phpass-portable-P',
      legacyFingerprint: null,
    });
  }
  const port = await freePort();
  const idpEnv = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    IDP_ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    LEGACY_ADAPTER_URL: 'http://127.0.0.1:9',
    LEGACY_ADAPTER_TIMEOUT_MS: '500',
    IDP_MAIL_POLL_MS: '50',
    ...env,
  };
  try {
    options.before?.(idpEnv);
    const idp = await startServiceProcess('idp/main.ts', 'IDP_PORT', idpEnv, port);
    return { idp, knex };
  } catch (error) {
    await knex.destroy();
    throw error;
  }
}

test('development mail: an .eml file from replaceable templates, the link in the log, throttled requests, an expired link', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-reset-dev-'));
  const mailDir = join(dir, 'mail');
  const templates = join(dir, 'templates');
  cpSync(DEFAULT_TEMPLATES_DIR, templates, { recursive: true });
  writeFileSync(join(templates, 'password-reset.txt'), 'Subject: Custom reset for {{name}}\n\nHi {{name}}, open {{link}} within {{minutes}} minutes.\n');
  writeFileSync(join(templates, 'password-reset.html'), '<p>Hi {{name}}, <a href="{{link}}">reset</a></p>\n');
  const { idp, knex } = await startIdpWithEve(dir, {
    // npm start's level: the link must show there.
    LOG_LEVEL: 'warn',
    IDP_MAIL_DIR: mailDir,
    IDP_MAIL_TEMPLATES_DIR: templates,
    IDP_PASSWORD_RESET_ACCOUNT_FREE_REQUESTS: '1',
    IDP_LOGIN_THROTTLE_BASE_DELAY_MS: '600000',
  });
  try {
    const url = idp.url;
    const first = await ask(url, 'eve');
    assert.equal(first.status, 200);
    assert.match(first.body, /Check your email/);

    await eventually('the message is written as an .eml file', () => existsSync(mailDir) && readdirSync(mailDir).some((f) => f.endsWith('.eml')));
    const [file] = readdirSync(mailDir);
    const mail = await simpleParser(readFileSync(join(mailDir, file!)));
    assert.equal(mail.subject, `Custom reset for ${NAME}`, 'the replacement template, the subject as text');
    assert.equal((mail.to as { text: string }).text, 'eve@example.test');
    const link = /http:\/\/\S+\/interaction\/password-reset\/new\?token=[\w-]+/.exec(mail.text ?? '')?.[0];
    assert.ok(link, mail.text);
    assert.match(String(mail.html), /Hi Eve &lt;b&gt;&quot;Ops&quot; &amp; Co&lt;\/b&gt;, <a href="http:/, 'values escaped in the HTML body');
    // Development: the link is in the log (and only there and in the file).
    await eventually('the link is logged', () => idp!.output().includes(link));

    // A second request is allowed (delays start after it), the third is throttled: same page, no mail.
    assert.equal((await ask(url, 'EVE')).body, first.body);
    const third = await ask(url, 'eve@example.test');
    assert.equal(third.body, first.body, 'a throttled request gets the same page');
    const metrics = async () => (await fetch(`${idp!.opsUrl}/metrics`)).text();
    await eventually('one request throttled', async () => sample(await metrics(), 'idp_password_reset_requests_total', { result: 'throttled' }) === 1);
    assert.equal(sample(await metrics(), 'idp_password_reset_requests_total', { result: 'issued' }), 2);
    await eventually('two mails written', () => readdirSync(mailDir).length === 2);

    // The second link superseded nothing yet: the first opens its form until it expires.
    const opened = await fetch(link);
    assert.equal(opened.status, 200);
    assert.match(await opened.text(), /Choose a new password/);

    // The password change's rules, and a refused form spends nothing.
    const token = new URL(link).searchParams.get('token')!;
    for (const [next, confirm, problem] of [
      ['short', 'short', PROBLEM_MESSAGE['too-short']],
      ['x'.repeat(MAX_PASSWORD_LENGTH + 1), 'x'.repeat(MAX_PASSWORD_LENGTH + 1), PROBLEM_MESSAGE['too-long']],
      ['long enough 123', 'long enough 124', PROBLEM_MESSAGE.mismatch],
    ] as const) {
      const refused: Response = await fetch(link, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, 'new-password': next, 'confirm-password': confirm }),
      });
      assert.equal(refused.status, 400, problem);
      assert.ok((await refused.text()).includes(escapeHtml(problem)), problem);
    }
    assert.equal((await knex('users').where({ username: 'eve' }).first('password_hash')).password_hash, LEGACY_PHPASS, 'the password is unchanged');
    assert.equal((await fetch(link)).status, 200, 'the link still works');

    const links = async (state: string) => sample(await metrics(), 'idp_password_reset_links', { state });
    assert.deepEqual([await links('open'), await links('expired_unused')], [2, 0], 'two links open');
    await knex('password_resets').update({ expires_at: Date.now() - 1000 });
    assert.deepEqual([await links('open'), await links('expired_unused')], [0, 2], 'both expired unused');
    const expired = await fetch(link);
    assert.equal(expired.status, 410);
    assert.match(await expired.text(), /This link has expired/);
    assert.equal(sample(await metrics(), 'idp_password_reset_completions_total', { result: 'expired' }), 1);

    // Never a password hash or the stored token hash in the log.
    const tokenHashes = ((await knex('password_resets').select('token_hash')) as { token_hash: string }[]).map((r) => r.token_hash);
    for (const secret of [LEGACY_PHPASS, ...tokenHashes]) assert.ok(!idp.output().includes(secret), 'no hash in the log');
  } finally {
    await idp.stop();
    await knex.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with SMTP_URL the reset link goes only to the mailbox (from MAIL_FROM), never to the log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-reset-smtp-'));
  const smtp = await startSmtpServer();
  const { idp, knex } = await startIdpWithEve(dir, { SMTP_URL: smtp.url, MAIL_FROM: 'Sign-in <sign-in@example.test>', IDP_MAIL_DIR: join(dir, 'mail') });
  try {
    assert.equal((await ask(idp.url, 'eve')).status, 200);
    const mail = await smtp.waitFor('eve@example.test', /Reset your password/);
    assert.equal(mail.from, 'sign-in@example.test', 'from MAIL_FROM');
    const token = /token=([\w-]+)/.exec(mail.text)?.[1];
    assert.ok(token, mail.text);
    await eventually('the request is logged', () => idp.output().includes('password reset link mailed'));
    assert.ok(!idp.output().includes(token), 'the link is not in the log');
    assert.ok(!existsSync(join(dir, 'mail')), 'no .eml file either');
  } finally {
    await idp.stop();
    await knex.destroy();
    await smtp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A legacy-adapter that takes connections and answers none, until release(); from then on it hangs up at once. */
async function silentAdapter(): Promise<{ url: string; held(): number; release(): void; close(): Promise<void> }> {
  // held(): the connections taken and not answered (every one, until release()).
  const sockets = new Set<Socket>();
  let released = false;
  const server = createServer((socket) => {
    if (released) return void socket.destroy();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    held: () => sockets.size,
    release() {
      released = true;
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('production without SMTP_URL: the page before any lookup, no link in the log, throttled per address', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-reset-prod-'));
  const mailDir = join(dir, 'mail');
  const adapter = await silentAdapter();
  // Closed whatever happens: a server left listening would keep the test process alive.
  try {
    const { idp, knex } = await startIdpWithEve(
      dir,
      {
        NODE_ENV: 'production',
        IDP_MAIL_DIR: mailDir,
        LEGACY_ADAPTER_URL: adapter.url,
        // The adapter never answers: only an answer sent before the lookup reaches the browser.
        LEGACY_ADAPTER_TIMEOUT_MS: '120000',
        ...idpProductionSecrets(),
        PBKDF2_ITERATIONS: '100000',
        // One request per address, then every other is delayed, whichever account it names.
        IDP_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS: '1',
        IDP_LOGIN_THROTTLE_BASE_DELAY_MS: '600000',
      },
      {
        others: ['zoe', 'yan'],
        // Production refuses to start without a signing key of its own: the operator's first step.
        before(env) {
          const keys = spawnSync(process.execPath, ['idp/cli/keys.ts', 'ensure'], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
          assert.equal(keys.status, 0, `${keys.stdout}${keys.stderr}`);
        },
      },
    );
    try {
      const metrics = async () => (await fetch(`${idp.opsUrl}/metrics`)).text();
      const heldBefore = adapter.held();
      const first = await ask(idp.url, 'eve');
      assert.equal(first.status, 200);
      assert.match(first.body, /Check your email/);
      // The page came first; the lookup is under way after it, and cannot end before release().
      await eventually('the legacy-adapter is asked', () => adapter.held() > heldBefore);
      adapter.release();

      // The adapter gone, eve is still known to the idp: her link goes out, as an .eml file.
      await eventually('eve mailed', () => existsSync(mailDir) && readdirSync(mailDir).length === 1);
      // The second request from this address is allowed (delays start after it), the third is throttled.
      assert.equal((await ask(idp.url, 'zoe')).body, first.body);
      assert.equal((await ask(idp.url, 'yan')).body, first.body, 'a throttled request gets the same page');
      await eventually('one request throttled', async () => sample(await metrics(), 'idp_password_reset_requests_total', { result: 'throttled' }) === 1);
      assert.equal(sample(await metrics(), 'idp_password_reset_requests_total', { result: 'issued' }), 2);
      await eventually('two mails written', () => readdirSync(mailDir).length === 2);
      const mails = await Promise.all(readdirSync(mailDir).map(async (f) => simpleParser(readFileSync(join(mailDir, f)))));
      assert.deepEqual(mails.map((m) => (m.to as { text: string }).text).sort(), ['eve@example.test', 'zoe@example.test'], 'no mail for the throttled request');

      // Both issued requests logged (whichever words they use), and neither with its link.
      await eventually('the requests are logged', () => idp.output().split('"msg":"password reset link').length === 3);
      for (const mail of mails) {
        const token = /token=([\w-]+)/.exec(mail.text ?? '')?.[1];
        assert.ok(token, mail.text);
        assert.ok(!idp.output().includes(token), 'production never logs a link');
      }
    } finally {
      adapter.release();
      await idp.stop();
      await knex.destroy();
    }
  } finally {
    adapter.release();
    await adapter.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
