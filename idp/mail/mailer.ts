// The idp's mail: messages are rendered and stored in the outbox by `enqueue` (the request goes
// on at once), and a worker on every replica sends what is due, retrying with backoff for as long
// as the server is away. The row lease keeps two replicas from sending one message at once.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../lib/logger.ts';
import { createPollingLoop } from '../../lib/polling-loop.ts';
import { retryDelay } from '../dual-write/index.ts';
import type { MailMetrics } from './metrics.ts';
import type { MailOutbox, QueuedMail } from './outbox.ts';
import type { MailTemplates, TemplateName } from './templates.ts';
import { isPermanentRejection, mailErrorCode, type MailTransport } from './transport.ts';

const PRUNE_EVERY_MS = 3_600_000;
const PRUNE_BATCH = 500;
const PRUNE_MAX_BATCHES = 20;

export interface Mailer {
  /** True when messages only go to files (no SMTP_URL): development, where links may be logged. */
  readonly development: boolean;
  /** Renders `template` for `to` and stores it; the worker sends it. */
  enqueue(template: TemplateName, to: string, values: Record<string, string>): Promise<void>;
  start(): void;
  /** One pass: sends what is due; resolves to the number of messages handled. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

export interface MailerOptions {
  outbox: MailOutbox;
  transport: MailTransport;
  templates: MailTemplates;
  from: string;
  metrics: MailMetrics;
  logger: Logger;
  pollMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Longer than one SMTP conversation can take. */
  leaseMs: number;
  /** Files only, outside production: the one mode where callers may log a link. */
  development: boolean;
  /** Settled rows are deleted this long after they were sent (checked at most hourly). */
  retentionMs: number;
  batchSize?: number;
}

export function createMailer(options: MailerOptions): Mailer {
  const { outbox, transport, templates, metrics, pollMs, retryBaseMs, retryMaxMs, leaseMs, batchSize = 20 } = options;
  const workerId = `mailer-${randomUUID()}`;
  const log = options.logger.child({ component: 'mail' });

  async function send(mail: QueuedMail): Promise<void> {
    // The recipient is personal data: logs name the message by its id and template only.
    const context = { mailId: mail.id, template: mail.template };
    try {
      await transport.send(mail, options.from);
    } catch (error) {
      const reason = mailErrorCode(error);
      const attempts = mail.attempts + 1;
      if (isPermanentRejection(error)) {
        await outbox.settle(mail, workerId, 'rejected', reason);
        metrics.rejected(mail.template);
        log.error({ ...context, attempts, error: reason }, 'mail refused for good by the SMTP server');
        return;
      }
      const delayMs = retryDelay(attempts, retryBaseMs, retryMaxMs);
      await outbox.reschedule(mail, workerId, reason, delayMs);
      metrics.failed(reason);
      log.warn({ ...context, attempts, error: reason, retryInMs: delayMs }, 'sending mail failed; will retry');
      return;
    }
    if (await outbox.settle(mail, workerId, 'sent')) {
      metrics.sent(mail.template);
      log.info({ ...context, attempts: mail.attempts + 1, transport: transport.kind }, 'mail sent');
    }
  }

  let lastPruneAt = 0;
  async function pruneIfDue(): Promise<void> {
    if (Date.now() - lastPruneAt < PRUNE_EVERY_MS) return;
    lastPruneAt = Date.now();
    try {
      let deleted = 0;
      // Bounded work per run: a few short deletes, the rest next time.
      for (let batch = 0; batch < PRUNE_MAX_BATCHES; batch++) {
        const n = await outbox.prune(lastPruneAt - options.retentionMs, PRUNE_BATCH);
        deleted += n;
        if (n < PRUNE_BATCH) break;
      }
      if (deleted > 0) log.info({ rows: deleted }, 'sent mail rows pruned');
    } catch (error) {
      // Housekeeping never holds up sending; the next run tries again.
      log.warn({ err: error }, 'pruning the mail outbox failed');
    }
  }

  async function pass(): Promise<number> {
    await pruneIfDue();
    let handled = 0;
    for (;;) {
      const batch = await outbox.claim(workerId, batchSize, leaseMs);
      for (const mail of batch) {
        try {
          await send(mail);
        } catch (error) {
          // Our own database failed mid-way: the lease runs out and the message is tried again.
          log.error({ err: error, mailId: mail.id }, 'sending a queued message failed');
        }
      }
      handled += batch.length;
      if (batch.length < batchSize || loop.stopped()) return handled;
    }
  }

  const loop = createPollingLoop(pass, { pollMs, onError: (error) => log.error({ err: error }, 'mail pass failed') });

  return {
    development: options.development && transport.kind === 'file',
    async enqueue(template, to, values) {
      const rendered = templates.render(template, values);
      const id = await outbox.add({ template, to, ...rendered });
      metrics.queued(template);
      log.debug({ mailId: id, template }, 'mail queued');
      loop.wake();
    },
    start: () => loop.start(),
    runOnce: () => pass(),
    async stop() {
      await loop.stop();
      transport.close();
    },
  };
}
