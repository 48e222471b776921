// The mail_outbox table (idp/store/migrations/041-password-reset-and-mail.ts): the one module
// that reads and writes it. A message is stored before any SMTP conversation, so a request
// never waits for the mail server and an outage loses nothing.
import type { Knex } from '../../lib/db.ts';

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

export interface MailOutboxStats {
  backlog: number;
  /** created_at (epoch ms) of the oldest pending message, or null. */
  oldestPendingAt: number | null;
}

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
      const rows = (await knex(TABLE)
        .select('id', 'template', 'recipient', 'subject', 'text_body', 'html_body', 'attempts', 'created_at')
        .where('status', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((w) => w.whereNull('locked_until').orWhere('locked_until', '<', now))
        .orderBy('id')
        .limit(limit)) as Row[];
      const claimed: QueuedMail[] = [];
      for (const row of rows) {
        const won = await knex(TABLE)
          .where({ id: row.id, status: 'pending' })
          .where((w) => w.whereNull('locked_until').orWhere('locked_until', '<', now))
          .update({ locked_by: workerId, locked_until: now + leaseMs });
        if (won !== 1) continue;
        claimed.push({
          id: Number(row.id),
          template: String(row.template),
          to: String(row.recipient),
          subject: String(row.subject),
          text: String(row.text_body ?? ''),
          html: String(row.html_body ?? ''),
          attempts: Number(row.attempts),
          createdAt: Number(row.created_at),
        });
      }
      return claimed;
    },
    async settle(mail, workerId, status, error) {
      const n = await knex(TABLE)
        .where({ id: mail.id, status: 'pending', locked_by: workerId })
        .update({
          status,
          sent_at: Date.now(),
          recipient: '',
          subject: '',
          text_body: null,
          html_body: null,
          attempts: mail.attempts + 1,
          last_error: error?.slice(0, 255) ?? null,
          locked_by: null,
          locked_until: null,
        });
      return n === 1;
    },
    async reschedule(mail, workerId, error, delayMs) {
      const n = await knex(TABLE)
        .where({ id: mail.id, status: 'pending', locked_by: workerId })
        .update({ attempts: mail.attempts + 1, last_error: error.slice(0, 255), next_attempt_at: Date.now() + delayMs, locked_by: null, locked_until: null });
      return n === 1;
    },
    async prune(sentBefore, limit) {
      // Ids first, then a delete by id: the same statements on SQLite and MariaDB.
      const rows = (await knex(TABLE)
        .select('id')
        .whereIn('status', ['sent', 'rejected'])
        .where('sent_at', '<', sentBefore)
        .orderBy('id')
        .limit(limit)) as Row[];
      if (rows.length === 0) return 0;
      return knex(TABLE)
        .whereIn(
          'id',
          rows.map((r) => r.id as number),
        )
        .whereIn('status', ['sent', 'rejected'])
        .delete();
    },
    async stats() {
      const row = (await knex(TABLE).where('status', 'pending').first(knex.raw('count(*) as n'), knex.raw('min(created_at) as oldest'))) as Row | undefined;
      const oldest = row?.oldest;
      return { backlog: Number(row?.n ?? 0), oldestPendingAt: oldest === null || oldest === undefined ? null : Number(oldest) };
    },
  };
}
