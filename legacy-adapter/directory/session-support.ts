// Whether the mapping's `session` section fits the monolith as it runs (cli/check-mapping.ts):
// the store is there (the table and its columns, a writable save_path, a Redis that answers), the
// columns the session keys read exist, and what a logged-in session holds, said plainly.
import { spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import type { Knex } from '../../lib/db.ts';
import type { LegacySessionCookie } from '../../contracts/legacy-session-cookie.ts';
import { createRedis } from '../../lib/redis.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';
import { sessionLeaves, type KeySource, type PhpType } from '../mapping-format/session-schema.ts';
import type { SessionSettings } from '../sessions/settings.ts';
import { phpredisUrl } from '../sessions/store.ts';

export interface SessionSupport {
  serialize_handler: string;
  /** The store in force (overrides applied); for phpredis the host, port and database, never the password. */
  store: Record<string, unknown>;
  lifetime: number;
  cookie: LegacySessionCookie;
  sid: { length: number; bits_per_character: number; randomBits: number };
  keys: Array<{ name: string; type: PhpType; source: string }>;
  loggedInAs: string[];
  /** What stops the session bridge from working. */
  problems: string[];
  /** What works but is worth a look. */
  warnings: string[];
  ok: boolean;
}

function describeSource(mapping: LegacyMapping, source: KeySource, map?: Record<string, unknown>, fallback?: unknown): string {
  let text: string;
  if ('value' in source) text = `the constant ${JSON.stringify(source.value)}`;
  else if ('column' in source) text = `column ${source.column}`;
  else text = source.from === 'id' ? `the legacy id (${mapping.columns.id})` : `columns.${source.from} (${mapping.columns[source.from] ?? 'not mapped'})`;
  if (map) text += ` mapped by ${JSON.stringify(map)}${fallback === undefined ? ', else null' : `, else ${JSON.stringify(fallback)}`}`;
  return text;
}

async function storeProblems(knex: Knex, settings: SessionSettings): Promise<string[]> {
  const { store } = settings;
  if (store.type === 'table') {
    if (!(await knex.schema.hasTable(store.table))) return [`the sessions table ${store.table} does not exist`];
    const missing: string[] = [];
    for (const column of Object.values(store.columns)) if (!(await knex.schema.hasColumn(store.table, column))) missing.push(column);
    return missing.length ? [`the sessions table ${store.table} has no column ${missing.join(', ')}`] : [];
  }
  if (store.type === 'files') {
    try {
      if (!(await stat(store.save_path)).isDirectory()) return [`save_path ${store.save_path} is not a directory`];
      await access(store.save_path, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (error) {
      return [`save_path ${store.save_path} is not a directory the adapter can write (${(error as NodeJS.ErrnoException).code})`];
    }
    const flock = spawnSync('flock', ['--version'], { stdio: 'ignore' });
    return flock.error || flock.status !== 0 ? ["util-linux flock is not on PATH (reading a files session takes PHP's lock with it)"] : [];
  }
  const redis = createRedis(phpredisUrl(settings.redis), { name: 'check-mapping' });
  redis.on('error', () => undefined);
  try {
    await redis.ping();
    return [];
  } catch (error) {
    // The message names the host, never the password (it is not in it).
    return [`phpredis's Redis ${settings.redis.host}:${settings.redis.port}/${settings.redis.db} does not answer (${(error as Error).message})`];
  } finally {
    redis.disconnect();
  }
}

export async function checkSessionSupport(knex: Knex, mapping: LegacyMapping, settings: SessionSettings): Promise<SessionSupport> {
  const { session } = mapping;
  const problems = await storeProblems(knex, settings);
  const leaves = sessionLeaves(session.keys).map(({ path, spec }) => ({ name: path.join('.'), spec }));
  const keys = leaves.map(({ name, spec }) => ({ name, type: spec.type, source: describeSource(mapping, spec.source, spec.map, spec.default) }));
  for (const { name, spec } of leaves) {
    const source = spec.source;
    if ('from' in source && source.from !== 'id' && !mapping.columns[source.from])
      problems.push(`session key ${name} reads columns.${source.from}, which the mapping does not map`);
    if ('column' in source && !(await knex.schema.hasColumn(mapping.table, source.column)))
      problems.push(`session key ${name} reads column ${source.column}, which ${mapping.table} does not have`);
  }
  const randomBits = session.sid.length * session.sid.bits_per_character;
  const warnings = randomBits < 128 ? [`session ids of ${randomBits} random bits: fewer than 128 (raise session.sid_length on both sides)`] : [];
  const { password, ...redis } = settings.redis;
  const store =
    settings.store.type === 'phpredis'
      ? { ...settings.store, ttl: settings.store.ttl ?? settings.lifetime, ...redis, password: password ? 'set' : 'unset' }
      : { ...settings.store };
  return {
    serialize_handler: session.serialize_handler,
    store,
    lifetime: settings.lifetime,
    cookie: settings.cookie,
    sid: { ...session.sid, randomBits },
    keys,
    loggedInAs: session.loggedInAs,
    problems,
    warnings,
    ok: problems.length === 0,
  };
}

function describeStore(support: SessionSupport): string {
  const s = support.store as Record<string, unknown> & { columns?: Record<string, string> };
  if (s.type === 'table')
    return `table ${String(s.table)} (id ${s.columns!.id}, data ${s.columns!.data}, last access ${s.columns!.timestamp} as ${s.timestamp === 'unix' ? 'unix seconds' : 'a UTC DATETIME'})`;
  if (s.type === 'files') return `files sess_<id> in ${String(s.save_path)}`;
  return `phpredis keys ${String(s.prefix)}<id> with TTL ${String(s.ttl)} s on ${String(s.host)}:${String(s.port)}/${String(s.db)} (password ${String(s.password)})`;
}

/** `member.id` as PHP says it: $_SESSION['member']['id']. */
const phpPath = (dotted: string) =>
  `$_SESSION${dotted
    .split('.')
    .map((k) => `['${k}']`)
    .join('')}`;

/** The lines for people, under the readiness report. */
export function formatSessionSupport(support: SessionSupport): string {
  const c = support.cookie;
  const lines = [
    `PHP sessions: read and written as session.serialize_handler = ${support.serialize_handler} (must be the monolith's php.ini value)`,
    `  store: ${describeStore(support)}; alive ${support.lifetime} s after the last request`,
    `  cookie: ${c.name}; Path=${c.path}${c.domain ? `; Domain=${c.domain}` : ''}${c.httpOnly ? '; HttpOnly' : ''}; SameSite=${c.sameSite}${c.secure ? '; Secure' : ''}; ${c.maxAge ? `Max-Age=${c.maxAge}` : 'browser-session'}`,
    `  session ids: ${support.sid.length} characters of ${support.sid.bits_per_character} bits (${support.sid.randomBits} random bits)`,
    `  a logged-in session holds: ${support.keys.map((k) => `${phpPath(k.name)} (${k.type}, ${k.source})`).join(', ')}`,
    `  logged in as: ${support.loggedInAs.map(phpPath).join(' and ')} set (the user found by ${phpPath(support.loggedInAs[0]!)})`,
    ...support.warnings.map((w) => `  warning: ${w}`),
    support.ok ? "SESSIONS: YES: the session bridge can write and read the monolith's sessions." : `SESSIONS: NO: ${support.problems.join('; ')}.`,
  ];
  return lines.join('\n');
}
