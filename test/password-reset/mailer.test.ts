// The mail worker against a real SMTP server: a mailbox the server does not know is refused for
// good (the row settles as rejected), but a refusal that hits every message (the sender, a login)
// is the deployment's and is retried, so fixing the configuration loses nothing. SMTP_URL's TLS:
// smtp:// upgrades with STARTTLS when offered (?requireTLS=true insists), smtps:// is TLS from the
// first byte, and the server's certificate is checked (an unknown one keeps the message waiting).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createDatabase, migrate } from '../../lib/db.ts';
import { createMailer, createMailMetrics, createMailOutbox, createMailTransport, loadMailTemplates } from '../../idp/mail/index.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';

import { testCertificate } from '../gateway/raw-upstream.ts';
import { startSmtpServer, type SmtpServerBehaviour } from '../support/smtp-server.ts';
import { sample } from '../support/prometheus-text.ts';

async function withMailer(
  behaviour: SmtpServerBehaviour,
  body: (ctx: {
    mailer: ReturnType<typeof createMailer>;
    rows(): Promise<Record<string, unknown>[]>;
    smtp: Awaited<ReturnType<typeof startSmtpServer>>;
    metrics(): Promise<string>;
  }) => Promise<void>,
  /** SMTP_URL from the server's own URL (to add settings to it). */
  smtpUrl: (url: string) => string = (url) => url,
) {
  const dir = mkdtempSync(join(tmpdir(), 'idm-mailer-'));
  const knex = createDatabase(`sqlite:${join(dir, 'idp.sqlite')}`);
  const smtp = await startSmtpServer(behaviour);
  const registry = new Registry();
  // As lib/metrics.ts labels the service's registry (and the sample() reader expects labels).
  registry.setDefaultLabels({ service: 'idp' });
  try {
    await migrate(knex, idpMigrations);
    const outbox = createMailOutbox(knex);
    const mailer = createMailer({
      outbox,
      transport: createMailTransport({ smtpUrl: smtpUrl(smtp.url), dir: join(dir, 'mail'), timeoutMs: 5_000 }),
      templates: loadMailTemplates(),
      from: 'sign-in@example.test',
      metrics: createMailMetrics(registry, { stats: () => outbox.stats() }),
      logger: pino({ level: 'silent' }),
      pollMs: 3_600_000,
      retryBaseMs: 60_000,
      retryMaxMs: 60_000,
      leaseMs: 30_000,
      development: false,
      retentionMs: 86_400_000,
    });
    await body({ mailer, smtp, rows: () => knex('mail_outbox').orderBy('id').select('status', 'attempts', 'last_error'), metrics: () => registry.metrics() });
    await mailer.stop();
  } finally {
    await smtp.stop();
    await knex.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a mailbox the server refuses is given up; the other message goes', async () => {
  await withMailer({ unknownRecipients: ['gone@example.test'] }, async ({ mailer, smtp, rows, metrics }) => {
    await mailer.enqueue('password-reset-done', 'gone@example.test', { name: 'Gone' });
    await mailer.enqueue('password-reset-done', 'eve@example.test', { name: 'Eve' });
    assert.equal(await mailer.runOnce(), 2);
    assert.deepEqual(await rows(), [
      { status: 'rejected', attempts: 1, last_error: 'EENVELOPE:550' },
      { status: 'sent', attempts: 1, last_error: null },
    ]);
    assert.deepEqual(
      smtp.received.map((m) => m.to),
      ['eve@example.test'],
    );
    assert.equal(sample(await metrics(), 'idp_mail_rejected_total', { template: 'password-reset-done' }), 1);
    assert.equal(sample(await metrics(), 'idp_mail_backlog', {}), 0);
  });
});

test('a sender the server refuses is a configuration error: the message stays pending and is retried', async () => {
  await withMailer({ refuseSender: true }, async ({ mailer, smtp, rows, metrics }) => {
    await mailer.enqueue('password-reset-done', 'eve@example.test', { name: 'Eve' });
    await mailer.runOnce();
    assert.deepEqual(await rows(), [{ status: 'pending', attempts: 1, last_error: 'EENVELOPE:550' }]);
    assert.equal(smtp.received.length, 0);
    assert.equal(sample(await metrics(), 'idp_mail_rejected_total', {}), 0);
    assert.equal(sample(await metrics(), 'idp_mail_send_failures_total', { reason: 'EENVELOPE:550' }), 1);
    assert.equal(sample(await metrics(), 'idp_mail_backlog', {}), 1);
  });
});

const certificate = testCertificate();
// The test's certificate is its own: trusted here through SMTP_URL's tls.* settings, as nodemailer reads them.
const trustingTestCertificate = (url: string) => `${url}?tls.rejectUnauthorized=false`;

test(
  'TLS: STARTTLS when the server offers it, TLS from the first byte with smtps://, certificates checked',
  { skip: !certificate && 'openssl missing' },
  async () => {
    const { key, cert } = certificate!;
    await withMailer(
      { tls: { mode: 'starttls', key, cert } },
      async ({ mailer, smtp }) => {
        await mailer.enqueue('password-reset-done', 'eve@example.test', { name: 'Eve' });
        assert.equal(await mailer.runOnce(), 1);
        assert.deepEqual(
          smtp.received.map((m) => [m.to, m.secure]),
          [['eve@example.test', true]],
          'smtp:// upgraded with STARTTLS',
        );
      },
      trustingTestCertificate,
    );
    await withMailer(
      { tls: { mode: 'implicit', key, cert } },
      async ({ mailer, smtp }) => {
        assert.match(smtp.url, /^smtps:/);
        await mailer.enqueue('password-reset-done', 'eve@example.test', { name: 'Eve' });
        await mailer.runOnce();
        assert.deepEqual(
          smtp.received.map((m) => [m.to, m.secure]),
          [['eve@example.test', true]],
          'smtps:// is TLS throughout',
        );
      },
      trustingTestCertificate,
    );
    // A certificate nobody vouches for: nothing is sent, the message waits for ops to fix it.
    await withMailer({ tls: { mode: 'implicit', key, cert } }, async ({ mailer, smtp, rows, metrics }) => {
      await mailer.enqueue('password-reset-done', 'eve@example.test', { name: 'Eve' });
      await mailer.runOnce();
      assert.equal(smtp.received.length, 0);
      assert.deepEqual(
        (await rows()).map((r) => r.status),
        ['pending'],
      );
      assert.equal(sample(await metrics(), 'idp_mail_backlog', {}), 1);
    });
    certificate!.cleanup();
  },
);

test('requireTLS=true: a server that offers no STARTTLS gets no message, which waits', async () => {
  await withMailer(
    {},
    async ({ mailer, smtp, rows }) => {
      await mailer.enqueue('password-reset-done', 'eve@example.test', { name: 'Eve' });
      await mailer.runOnce();
      assert.equal(smtp.received.length, 0, 'nothing in plain text');
      assert.deepEqual(
        (await rows()).map((r) => r.status),
        ['pending'],
      );
    },
    (url) => `${url}?requireTLS=true`,
  );
});
