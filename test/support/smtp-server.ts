// A real SMTP server on loopback (the smtp-server package) that keeps what it receives, parsed
// with mailparser: what a mail client would show. It can stop and start again on the same port,
// to stand for an outage of the idp's mail server.
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  /** Whether the message came over TLS (from the first byte, or after STARTTLS). */
  secure: boolean;
}

export interface TestSmtpServer {
  url: string;
  received: ReceivedMail[];
  /** Resolves with the first received message to `to` matching `subject` (polling; fails after 30 s). */
  waitFor(to: string, subject: RegExp, after?: number): Promise<ReceivedMail>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

function addresses(value: ParsedMail['to']): string {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.flatMap((a) => a.value.map((v) => v.address ?? '')).join(',');
}

export interface SmtpServerBehaviour {
  /** A 5xx answer to MAIL FROM, for every message (a sender the server does not accept). */
  refuseSender?: boolean;
  /** Recipients answered 550 at RCPT TO (no such mailbox). */
  unknownRecipients?: readonly string[];
  /**
   * TLS with this certificate: 'starttls' offers the upgrade on a plain connection (smtp://),
   * 'implicit' speaks TLS from the first byte (smtps://). Without it, plain SMTP only.
   */
  tls?: { mode: 'starttls' | 'implicit'; key: Buffer; cert: Buffer };
}

export async function startSmtpServer(behaviour: SmtpServerBehaviour = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  let port = 0;
  let server: SMTPServer | undefined;

  const start = async () => {
    // Without `tls` no STARTTLS is offered: plain SMTP on loopback (the idp upgrades when offered).
    const tls = behaviour.tls;
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: tls?.mode === 'starttls' ? ['AUTH'] : ['STARTTLS', 'AUTH'],
      ...(tls ? { key: tls.key, cert: tls.cert, secure: tls.mode === 'implicit' } : {}),
      logger: false,
      onMailFrom(_address, _session, callback) {
        if (!behaviour.refuseSender) return callback();
        callback(Object.assign(new Error('5.7.1 sender not allowed'), { responseCode: 550 }));
      },
      onRcptTo(address, _session, callback) {
        if (!behaviour.unknownRecipients?.includes(address.address)) return callback();
        callback(Object.assign(new Error('5.1.1 no such mailbox'), { responseCode: 550 }));
      },
      onData(stream, session, callback) {
        simpleParser(stream).then(
          (mail) => {
            received.push({
              to: addresses(mail.to),
              from: addresses(mail.from),
              subject: mail.subject ?? '',
              text: mail.text ?? '',
              html: typeof mail.html === 'string' ? mail.html : '',
              secure: session.secure,
            });
            callback();
          },
          (error: Error) => callback(error),
        );
      },
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.server.address() as AddressInfo).port;
  };
  await start();

  return {
    url: `${behaviour.tls?.mode === 'implicit' ? 'smtps' : 'smtp'}://127.0.0.1:${port}`,
    received,
    async waitFor(to, subject, after = 0) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = received.slice(after).find((m) => m.to === to && subject.test(m.subject));
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(`no mail "${subject.source}" to ${to} (received: ${received.map((m) => `${m.to}: ${m.subject}`).join('; ') || 'nothing'})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      const running = server;
      server = undefined;
      if (running) await new Promise<void>((resolve) => running.close(() => resolve()));
    },
    start,
  };
}
