// Mail bodies from template files ops can replace (IDP_MAIL_TEMPLATES_DIR): for each template,
// `<name>.txt` (its first line is `Subject: ...`) and `<name>.html`. `{{name}}` placeholders are
// filled in; in the HTML body every value is escaped. Read at start, so a missing or broken
// template stops the idp instead of the first reset.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { escapeHtml } from '../../lib/html.ts';

export const DEFAULT_TEMPLATES_DIR = fileURLToPath(new URL('./templates/', import.meta.url));

export const TEMPLATE_NAMES = ['password-reset', 'password-reset-done'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface MailTemplates {
  render(name: TemplateName, values: Record<string, string>): RenderedMail;
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z][a-zA-Z0-9_]*)\s*\}\}/g;

function fill(template: string, values: Record<string, string>, escape: (value: string) => string): string {
  return template.replace(PLACEHOLDER, (_all, key: string) => escape(values[key] ?? ''));
}

export function loadMailTemplates(dir: string = DEFAULT_TEMPLATES_DIR): MailTemplates {
  const loaded = new Map<TemplateName, { subject: string; text: string; html: string }>();
  for (const name of TEMPLATE_NAMES) {
    const text = readFileSync(join(dir, `${name}.txt`), 'utf8');
    const html = readFileSync(join(dir, `${name}.html`), 'utf8');
    const match = /^Subject:[ \t]*(.+)\r?\n\r?\n?/.exec(text);
    if (!match?.[1]) throw new Error(`mail template ${join(dir, `${name}.txt`)}: the first line must be "Subject: ..."`);
    loaded.set(name, { subject: match[1].trim(), text: text.slice(match[0].length), html });
  }
  return {
    render(name, values) {
      const template = loaded.get(name);
      if (!template) throw new Error(`unknown mail template ${name}`);
      // A subject is a header: no line break may come from a value.
      const subject = fill(template.subject, values, (v) => v.replace(/[\r\n]+/g, ' '));
      return { subject, text: fill(template.text, values, (v) => v), html: fill(template.html, values, escapeHtml) };
    },
  };
}
