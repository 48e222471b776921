import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
import { counter } from '../../lib/metrics.ts';
import { registerBacklogGauges } from '../outbox/metrics.ts';
import type { MailOutboxStats } from './outbox.ts';
import { TEMPLATE_NAMES } from './templates.ts';

export interface MailMetrics {
  queued(template: string): void;
  sent(template: string): void;
  failed(reason: string): void;
  rejected(template: string): void;
}

/** The mail metrics on the idp's registry; the gauges read the outbox at scrape time. */
export function createMailMetrics(registry: Registry | undefined, options: { stats(): Promise<MailOutboxStats>; logger?: Logger }): MailMetrics {
  if (!registry) return { queued: () => undefined, sent: () => undefined, failed: () => undefined, rejected: () => undefined };
  const queued = counter(registry, 'idp_mail_queued_total', 'Messages written to the mail outbox, by template', ['template'] as const);
  const sent = counter(registry, 'idp_mail_sent_total', 'Messages the SMTP server accepted (or written as .eml files without SMTP_URL), by template', [
    'template',
  ] as const);
  const failed = counter(registry, 'idp_mail_send_failures_total', 'Send attempts that failed and will be retried, by reason (nodemailer code[:SMTP reply])', [
    'reason',
  ] as const);
  const rejected = counter(registry, 'idp_mail_rejected_total', 'Messages the SMTP server refused for good (5xx), not retried, by template', [
    'template',
  ] as const);
  // Zero from the start, so rate() and increase() see the first one.
  for (const template of TEMPLATE_NAMES) {
    queued.inc({ template }, 0);
    sent.inc({ template }, 0);
    rejected.inc({ template }, 0);
  }
  registerBacklogGauges(registry, {
    what: 'the mail outbox',
    backlog: { name: 'idp_mail_backlog', help: 'Messages in the mail outbox not yet accepted by the SMTP server' },
    oldest: { name: 'idp_mail_oldest_pending_seconds', help: 'Age of the oldest message not yet sent (0 when none is pending)' },
    ...options,
  });
  return {
    queued: (template) => queued.inc({ template }),
    sent: (template) => sent.inc({ template }),
    failed: (reason) => failed.inc({ reason }),
    rejected: (template) => rejected.inc({ template }),
  };
}
