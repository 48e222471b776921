// `npm run docs:config`: writes docs/configuration.md and .env.example from the zod schemas the
// services parse their environment with, so that the one description of a variable is where it is
// validated (lib/config.ts variable()). test/foundation/config-docs.test.ts fails when the
// committed files differ from what this writes.
//
//   npm run docs:config            write both files
//   npm run docs:config -- --check exit 1 (naming the files) if either is out of date
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { gatewayEnv } from '../gateway/config.ts';
import { routesCliEnv } from '../gateway/cli/env.ts';
import { idpEnv } from '../idp/config.ts';
import { sessionsCliEnv } from '../idp/cli/env.ts';
import { legacyAdapterEnv } from '../legacy-adapter/config.ts';
import { wrapEnv } from '../idp/import/config.ts';
import { migrateEnv } from '../legacy-adapter/etl/config.ts';
import { commonEnv, secretOf, variableDocs } from '../lib/config.ts';
import { composeOnlyEnv } from './compose-env.ts';
import { embeddedEnv } from './embedded-env.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
export const CONFIG_DOC = 'docs/configuration.md';
export const ENV_EXAMPLE = '.env.example';

type Shape = Record<string, z.ZodType>;

interface Section {
  title: string;
  /** One line under the heading: who reads these, and where they are declared. */
  about: string;
  shape: Shape;
  /** Compose substitutes these; no service reads them, so .env.example shows them commented out. */
  composeOnly?: boolean;
}

const without = (shape: Shape, common: Shape): Shape => Object.fromEntries(Object.entries(shape).filter(([name]) => !(name in common)));

export const sections: Section[] = [
  { title: 'All services', about: 'Read by the gateway, the idp and the legacy-adapter (lib/config.ts).', shape: commonEnv },
  { title: 'gateway', about: 'gateway/config.ts and gateway/signin/config.ts (the session bridge).', shape: without(gatewayEnv, commonEnv) },
  { title: 'idp', about: 'idp/config.ts.', shape: without(idpEnv, commonEnv) },
  { title: 'legacy-adapter', about: 'legacy-adapter/config.ts and legacy-adapter/sessions/config.ts.', shape: without(legacyAdapterEnv, commonEnv) },
  {
    title: 'Batch migration (`idm migrate users`, `idm wrap-hashes`)',
    about:
      "legacy-adapter/etl/config.ts (migrate: its own store, the idp's import port, the legacy-adapter's variables) and idp/import/config.ts (wrap-hashes: the idp's database).",
    shape: { ...migrateEnv, ...wrapEnv },
  },
  { title: 'Operator commands (`idm routes`, `idm sessions`)', about: 'gateway/cli/env.ts and idp/cli/env.ts.', shape: { ...routesCliEnv, ...sessionsCliEnv } },
  { title: 'One machine (`npm start`)', about: 'scripts/embedded-env.ts; it passes every other variable on to the services.', shape: embeddedEnv },
  {
    title: 'docker-compose.yml only',
    about: 'Substituted by compose, read by no service (scripts/compose-env.ts); `npm run compose:env` writes them into `.env`.',
    shape: composeOnlyEnv,
    composeOnly: true,
  },
];

interface Described {
  name: string;
  description: string;
  /** As shown in the docs (markdown). */
  shownDefault: string;
  /** What .env.example assigns: the schema's default, or '' (unset) where there is none, it is a secret, or services differ. */
  value: string;
  /** secret(): a development default that production refuses; `secret`: never printed or committed, no default. */
  secret: 'required' | 'optional' | undefined;
  production: string | undefined;
}

/** The schema's own default, through the pipes and clones the helpers in lib/config.ts build. */
function schemaDefault(schema: z.ZodType): unknown {
  const def = schema._zod.def as { type: string; defaultValue?: unknown; in?: z.ZodType };
  if (def.type === 'default') return def.defaultValue;
  if (def.type === 'pipe' && def.in) return schemaDefault(def.in);
  return undefined;
}

export function describe(name: string, schema: z.ZodType): Described {
  const doc = variableDocs.get(schema);
  if (!doc?.description) throw new Error(`${name} has no description: declare it with variable() (lib/config.ts)`);
  const devSecret = secretOf(schema);
  const fallback = schemaDefault(schema);
  const value = devSecret ? '' : fallback === undefined ? '' : String(fallback);
  const shownDefault = doc.default ?? (devSecret ? 'a development value' : fallback === undefined ? 'unset' : `\`${String(fallback)}\``);
  const secret = devSecret ? 'required' : doc.secret ? 'optional' : undefined;
  return { name, description: doc.description, shownDefault, value, secret, production: doc.production };
}

function notesOf(d: Described, short: boolean): string[] {
  const notes: string[] = [];
  if (d.secret === 'required')
    notes.push(short ? 'secret, required in production' : '**secret**; production refuses the development default and values under 32 characters');
  if (d.secret === 'optional') notes.push(short ? 'secret' : '**secret**');
  if (d.production) notes.push(`production: ${d.production}`);
  return notes;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderMarkdown(): string {
  const readers = new Map<string, string[]>();
  for (const section of sections) {
    if (section.title === 'All services') continue;
    for (const name of Object.keys(section.shape)) readers.set(name, [...(readers.get(name) ?? []), section.title.replace(/ \(.*$/, '')]);
  }
  const out = [
    '<!-- Generated by `npm run docs:config` from the zod schemas (lib/config.ts variable()); edit those, not this file. -->',
    '# Configuration',
    '',
    'Every service is configured by environment variables only, validated at start: a bad value stops the process with exit',
    'code 78 and a message naming the variable and what is wrong. Empty means unset. With `NODE_ENV=production` the services',
    'refuse to start with a development default secret or a secret shorter than 32 characters. `.env.example` lists the same',
    'variables with their defaults.',
    '',
  ];
  for (const section of sections) {
    out.push(`## ${section.title}`, '', section.about, '', '| variable | default | description | notes |', '| --- | --- | --- | --- |');
    for (const [name, schema] of Object.entries(section.shape)) {
      const d = describe(name, schema);
      const others = (readers.get(name) ?? []).filter((r) => r !== section.title.replace(/ \(.*$/, ''));
      const notes = [...notesOf(d, false), ...(others.length && section.title !== 'All services' ? [`also read by: ${others.join(', ')}`] : [])];
      out.push(`| \`${name}\` | ${cell(d.shownDefault)} | ${cell(d.description)} | ${cell(notes.join('; '))} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** `text` as `# ` comment lines of at most `width` characters. */
function comment(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.replace(/`/g, '').split(/\s+/)) {
    if (line.length + 1 + word.length > width && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}

export function renderEnvExample(): string {
  // A variable two services read with different defaults (DATABASE_URL) is left unset: each then takes its own.
  const values = new Map<string, Set<string>>();
  for (const section of sections) {
    for (const [name, schema] of Object.entries(section.shape)) {
      values.set(name, (values.get(name) ?? new Set()).add(describe(name, schema).value));
    }
  }
  const out = [
    '# Generated by `npm run docs:config` from the zod schemas; docs/configuration.md says more. Copy to .env',
    '# (never committed) or set these in your orchestrator. Empty means unset. In production (NODE_ENV=production)',
    '# every secret must be a random value of 32+ characters: the services refuse the development defaults.',
  ];
  const written = new Map<string, string>();
  for (const section of sections) {
    out.push('', `# --- ${section.title.replace(/`/g, '')} ---`);
    for (const [name, schema] of Object.entries(section.shape)) {
      const seen = written.get(name);
      if (seen) {
        out.push(`# ${name}: as above (${seen})`);
        continue;
      }
      written.set(name, section.title.replace(/ \(.*$/, '').replace(/`/g, ''));
      const d = describe(name, schema);
      const distinct = values.get(name) ?? new Set();
      const value = distinct.size > 1 ? '' : d.value;
      const notes = notesOf(d, true);
      if (distinct.size > 1) notes.push('unset: each service takes its own default');
      out.push(...comment(`${d.description}${notes.length ? ` [${notes.join('; ')}]` : ''}`));
      out.push(`${section.composeOnly ? '# ' : ''}${name}=${value}`);
    }
  }
  return `${out.join('\n')}\n`;
}

export const generated = (): Array<[file: string, text: string]> => [
  [CONFIG_DOC, renderMarkdown()],
  [ENV_EXAMPLE, renderEnvExample()],
];

function main(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { check: { type: 'boolean', default: false } } });
  if (values.check) {
    const stale = generated().filter(([file, text]) => readFileSync(resolve(root, file), 'utf8') !== text);
    for (const [file] of stale) console.error(`${file} is out of date: run npm run docs:config`);
    return stale.length ? 1 : 0;
  }
  for (const [file, text] of generated()) writeFileSync(resolve(root, file), text);
  console.log(`wrote ${CONFIG_DOC} and ${ENV_EXAMPLE}`);
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
