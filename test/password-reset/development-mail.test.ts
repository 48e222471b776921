// Without SMTP_URL (the embedded default) a reset mail is an .eml file and its link is in the
// log; templates come from the directory ops name, values HTML-escaped; requests past the
// per-account allowance are throttled (the same page, no mail); an expired link says so.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { createDatabase, migrate } from '../../lib/db.ts';
import { DEFAULT_TEMPLATES_DIR } from '../../idp/mail/index.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { createUserStore } from '../../idp/users/store.ts';
import { LEGACY_PHPASS } from '../../scripts/support/legacy-hashes.ts';

import { freePort, startServiceProcess } from '../../scripts/support/processes.ts';
import { startSmtpServer } from '../support/smtp-server.ts';
import { sample } from '../support/prometheus-text.ts';

const NAME = 'Eve <b>"Ops" & Co</b>';

async function ask(url: string, identifier: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/interaction/password-reset`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ identifier }),
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

/** A throwaway idp database holding eve (a legacy hash, as the batch migration leaves it), and the idp on it in its own process. */
async function startIdpWithEve(dir: string, env: Record<string, string>) {
  const databaseUrl = `sqlite:${join(dir, 'idp.sqlite')}`;
  const knex = createDatabase(databaseUrl);
  await migrate(knex, idpMigrations);
  await createUserStore(knex).insertFromLegacy({
    legacyId: 'legacy-eve',
    username: 'eve',
    email: 'eve@example.test',
    name: NAME,
    passwordHash: LEGACY_PHPASS,
    passwordScheme: 'phpass-portable-P',
    legacyFingerprint: null,
  });
  const port = await freePort();
  try {
    const idp = await startServiceProcess(
      'idp/main.ts',
      'IDP_PORT',
      {
        NODE_ENV: 'development',
        LOG_LEVEL: 'info',
        IDP_ISSUER: `http://127.0.0.1:${port}`,
        DATABASE_URL: databaseUrl,
        LEGACY_ADAPTER_URL: 'http://127.0.0.1:9',
        LEGACY_ADAPTER_TIMEOUT_MS: '500',
        IDP_MAIL_POLL_MS: '50',
        ...env,
      },
      port,
    );
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
    await knex('password_resets').update({ expires_at: Date.now() - 1000 });
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

test('with SMTP_URL the reset link goes only to the mailbox, never to the log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-reset-smtp-'));
  const smtp = await startSmtpServer();
  const { idp, knex } = await startIdpWithEve(dir, { SMTP_URL: smtp.url, IDP_MAIL_DIR: join(dir, 'mail') });
  try {
    assert.equal((await ask(idp.url, 'eve')).status, 200);
    const mail = await smtp.waitFor('eve@example.test', /Reset your password/);
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
