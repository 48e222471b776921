// The idp's outgoing mail (password reset): templates, an outbox, and a worker that sends
// through SMTP or, in development, into .eml files.
export { createMailer, type Mailer, type MailerOptions } from './mailer.ts';
export { createMailMetrics, type MailMetrics } from './metrics.ts';
export { createMailOutbox, type MailOutbox, type MailOutboxStats, type OutgoingMail, type QueuedMail } from './outbox.ts';
export { DEFAULT_TEMPLATES_DIR, loadMailTemplates, TEMPLATE_NAMES, type MailTemplates, type TemplateName } from './templates.ts';
export { createMailTransport, type MailTransport } from './transport.ts';
