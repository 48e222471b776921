// The mail_outbox table (idp/store/migrations/041-password-reset-and-mail.ts): the one module
// that reads and writes it. A message is stored before any SMTP conversation, so a request
// never waits for the mail server and an outage loses nothing.
import type { Knex } from '../../lib/db.ts';
import { leaseFree, leaseRows, pendingStats, pruneSettled, retryLater, settleLeased, type PendingStats } from '../outbox/table.ts';

const TABLE = 'mail_outbox';

export interface OutgoingMail {
  template: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** A claimed message, leased to one mailer. */
export interface QueuedMail extends OutgoingMail {
  id: number;
  attempts: number;
  createdAt: number;
}

export type MailOutboxStats = PendingStats;

export interface MailOutbox {
  add(mail: OutgoingMail): Promise<number>;
  /** Leases up to `limit` due messages to `workerId` for `leaseMs` (a compare-and-set per row). */
  claim(workerId: string, limit: number, leaseMs: number): Promise<QueuedMail[]>;
  /** Sent (or refused for good by the server): the bodies, which may hold a reset link, the recipient and the subject are erased. */
  settle(mail: QueuedMail, workerId: string, status: 'sent' | 'rejected', error?: string): Promise<boolean>;
  reschedule(mail: QueuedMail, workerId: string, error: string, delayMs: number): Promise<boolean>;
  /** Deletes up to `limit` settled rows sent before `sentBefore` (epoch ms); returns how many. */
  prune(sentBefore: number, limit: number): Promise<number>;
  stats(): Promise<MailOutboxStats>;
}

type Row = Record<string, unknown>;

export function createMailOutbox(knex: Knex): MailOutbox {
  return {
    async add(mail) {
      const now = Date.now();
      const [id] = await knex(TABLE).insert({
        template: mail.template,
        recipient: mail.to,
        subject: mail.subject,
        text_body: mail.text,
        html_body: mail.html,
        status: 'pending',
        attempts: 0,
        created_at: now,
        next_attempt_at: now,
      });
      return Number(id);
    },
    async claim(workerId, limit, leaseMs) {
      const now = Date.now();
      const rows = (await leaseFree(knex(TABLE).select('id', 'template', 'recipient', 'subject', 'text_body', 'html_body', 'attempts', 'created_at'), now)
        .where('status', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('id')
        .limit(limit)) as Row[];
      return (await leaseRows(knex, TABLE, rows, workerId, leaseMs, now)).map((row) => ({
        id: Number(row.id),
        template: String(row.template),
        to: String(row.recipient),
        subject: String(row.subject),
        text: String(row.text_body ?? ''),
        html: String(row.html_body ?? ''),
        attempts: Number(row.attempts),
        createdAt: Number(row.created_at),
      }));
    },
    settle: (mail, workerId, status, error) =>
      settleLeased(knex, TABLE, mail.id, workerId, {
        status,
        sent_at: Date.now(),
        recipient: '',
        subject: '',
        text_body: null,
        html_body: null,
        attempts: mail.attempts + 1,
        last_error: error?.slice(0, 255) ?? null,
      }),
    reschedule: (mail, workerId, error, delayMs) => retryLater(knex, TABLE, mail, workerId, error, delayMs),
    prune: (sentBefore, limit) => pruneSettled(knex, TABLE, ['sent', 'rejected'], (q) => q.where('sent_at', '<', sentBefore), limit),
    stats: () => pendingStats(knex, TABLE),
  };
}
