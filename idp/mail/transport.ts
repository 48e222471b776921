// How a message leaves: an SMTP server (SMTP_URL: smtp:// upgrades with STARTTLS when the server
// offers it, `?requireTLS=true` insists on it; smtps:// is TLS from the first byte), or, with no
// SMTP_URL (the embedded default), an .eml file per message in a directory, for development.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type TransportOptions } from 'nodemailer';
import type { QueuedMail } from './outbox.ts';

export interface MailTransport {
  /** 'file': messages are written to disk, nobody receives them (development only). */
  kind: 'smtp' | 'file';
  send(mail: QueuedMail, from: string): Promise<void>;
  close(): void;
}

export interface MailTransportOptions {
  smtpUrl?: string | undefined;
  /** Where the file transport writes (IDP_MAIL_DIR). */
  dir: string;
  /** Each SMTP conversation's deadline: a hung server must not hold a lease for ever. */
  timeoutMs: number;
}

const envelope = (mail: QueuedMail, from: string) => ({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });

export function createMailTransport(options: MailTransportOptions): MailTransport {
  if (options.smtpUrl) {
    // The URL's own settings (credentials, ?requireTLS=true) win over these deadlines.
    const transporter = nodemailer.createTransport({
      url: options.smtpUrl,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
    } as TransportOptions);
    return {
      kind: 'smtp',
      async send(mail, from) {
        await transporter.sendMail(envelope(mail, from));
      },
      close: () => transporter.close(),
    };
  }
  const files = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    kind: 'file',
    async send(mail, from) {
      const info = (await files.sendMail(envelope(mail, from))) as { message: Buffer };
      mkdirSync(options.dir, { recursive: true, mode: 0o700 });
      // The message can hold a reset link: readable by the idp's user only.
      writeFileSync(join(options.dir, `${mail.createdAt}-${mail.id}.eml`), info.message, { mode: 0o600 });
    },
    close: () => files.close(),
  };
}

/** A short code for logs and the outbox row: nodemailer's error code and the SMTP reply code, never a message text. */
export function mailErrorCode(error: unknown): string {
  const e = error as { code?: unknown; responseCode?: unknown };
  const code = typeof e.code === 'string' && /^[A-Z_]{1,24}$/.test(e.code) ? e.code : 'error';
  return typeof e.responseCode === 'number' ? `${code}:${e.responseCode}` : code;
}

/**
 * The server refused this message's recipient for good (a 5xx reply to RCPT TO: no such mailbox):
 * retrying it cannot help. Any other 5xx (a refused login, sender or relay) is the deployment's and
 * hits every message alike; those are retried until ops fix it, so nothing is lost meanwhile.
 */
export function isPermanentRejection(error: unknown): boolean {
  const e = error as { code?: unknown; command?: unknown; responseCode?: unknown };
  return e.code === 'EENVELOPE' && e.command === 'RCPT TO' && typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600;
}
