// The mail outbox on the real SQLite store: a sent message keeps neither its bodies (a reset
// link) nor its recipient, a pending one is never pruned, settled ones go after the retention.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createDatabase, migrate } from '../../lib/db.ts';
import { createMailOutbox } from '../../idp/mail/index.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';

test('a sent message is erased down to its template and times; pruning takes only settled rows past the retention', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-mail-outbox-'));
  const knex = createDatabase(`sqlite:${join(dir, 'idp.sqlite')}`);
  try {
    await migrate(knex, idpMigrations);
    const outbox = createMailOutbox(knex);
    const message = {
      template: 'password-reset',
      to: 'eve@example.test',
      subject: 'Reset for Eve',
      text: 'open https://x/?token=secret',
      html: '<a href="https://x/?token=secret">',
    };
    await outbox.add(message);
    await outbox.add({ ...message, to: 'zoe@example.test' });
    const [first, second] = await outbox.claim('worker-a', 10, 60_000);
    assert.ok(first && second);
    assert.deepEqual(await outbox.claim('worker-b', 10, 60_000), [], "leased rows are nobody else's");
    assert.equal(await outbox.settle(first, 'worker-b', 'sent'), false, 'only the lease holder settles');
    assert.equal(await outbox.settle(first, 'worker-a', 'sent'), true);
    assert.equal(await outbox.reschedule(second, 'worker-a', 'ECONNECTION', 60_000), true);

    const sent = (await knex('mail_outbox').where({ id: first.id }).first()) as Record<string, unknown>;
    assert.deepEqual(
      { status: sent.status, recipient: sent.recipient, subject: sent.subject, text: sent.text_body, html: sent.html_body, template: sent.template },
      { status: 'sent', recipient: '', subject: '', text: null, html: null, template: 'password-reset' },
    );
    assert.deepEqual(await outbox.stats(), { backlog: 1, oldestPendingAt: second.createdAt });

    assert.equal(await outbox.prune(Date.now() - 60_000, 10), 0, 'nothing settled that long ago');
    assert.equal(await outbox.prune(Date.now() + 1, 10), 1, 'the sent row goes');
    const left = (await knex('mail_outbox').select('id', 'status', 'last_error')) as { id: number; status: string; last_error: string }[];
    assert.deepEqual(left, [{ id: second.id, status: 'pending', last_error: 'ECONNECTION' }], 'a pending message is never pruned');
  } finally {
    await knex.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
