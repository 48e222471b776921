import type { Knex } from '../../lib/db.ts';
import { BARE_HEX_SCHEMES, getScheme, identifyScheme } from '../../lib/passwords/index.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';

/** Ids listed per finding, at most; counts are always complete. */
const MAX_IDS = 1000;

interface Finding {
  count: number;
  ids: string[];
}

export interface ReadinessReport {
  table: string;
  rows: number;
  active: number;
  inactive: number;
  /** Rows per scheme the mapping and registry recognise (identification only: no password is read). */
  schemes: Record<string, number>;
  /** No scheme recognises the hash (garbage, unknown prefix, bare hex of no candidate's length). */
  unrecognised: Finding;
  /** NULL or empty hash. */
  emptyHash: Finding;
  /** Only salted candidates fit but the row has no salt. */
  missingSalt: Finding;
  /** Neither a username nor an e-mail to log in with. */
  missingLogin: Finding;
  /** Groups of rows sharing an e-mail (case-insensitive); the legacy login picks the oldest. */
  duplicateEmails: { groups: number; rows: number; ids: string[][] };
  /** Groups of rows sharing a username (case-insensitive). */
  duplicateUsernames: { groups: number; rows: number; ids: string[][] };
  /** Whether every row can migrate: nothing unrecognised, empty, saltless, loginless or duplicated. */
  ready: boolean;
}

const finding = (): Finding => ({ count: 0, ids: [] });
function note(f: Finding, id: string): void {
  f.count++;
  if (f.ids.length < MAX_IDS) f.ids.push(id);
}

function duplicates(keys: Map<string, string[]>) {
  const groups = [...keys.values()].filter((ids) => ids.length > 1);
  return { groups: groups.length, rows: groups.reduce((n, ids) => n + ids.length, 0), ids: groups.slice(0, MAX_IDS) };
}

const text = (v: unknown): string | null => (v === null || v === undefined ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
const comparable = (value: unknown): string => (value === true ? '1' : value === false ? '0' : String(value));

/**
 * Reads the legacy table through the mapping, in id order and in batches, and reports how ready
 * it is to migrate. Reads hashes only to identify their scheme; never a password, and the report
 * holds ids and counts, never a hash, e-mail or name.
 */
export async function checkMapping(knex: Knex, mapping: LegacyMapping, batchSize = 2000): Promise<ReadinessReport> {
  const { columns } = mapping;
  const selection: Record<string, string> = { id: columns.id, hash: columns.hash };
  if (columns.username) selection.username = columns.username;
  if (columns.email) selection.email = columns.email;
  if (columns.salt) selection.salt = columns.salt;
  if (mapping.active) selection.active = mapping.active.column;
  const candidates = mapping.passwords.hexCandidates;
  const saltAlwaysPresent = mapping.passwords.nullSalt === 'empty';

  const report: ReadinessReport = {
    table: mapping.table,
    rows: 0,
    active: 0,
    inactive: 0,
    schemes: {},
    unrecognised: finding(),
    emptyHash: finding(),
    missingSalt: finding(),
    missingLogin: finding(),
    duplicateEmails: { groups: 0, rows: 0, ids: [] },
    duplicateUsernames: { groups: 0, rows: 0, ids: [] },
    ready: false,
  };
  const emails = new Map<string, string[]>();
  const usernames = new Map<string, string[]>();
  let last: unknown;
  for (;;) {
    const query = knex(mapping.table).select(selection).orderBy(columns.id).limit(batchSize);
    if (last !== undefined) query.where(columns.id, '>', last as Knex.Value);
    const rows = (await query) as Record<string, unknown>[];
    if (rows.length === 0) break;
    last = rows.at(-1)?.id;
    for (const row of rows) {
      const id = String(row.id);
      report.rows++;
      const rule = mapping.active;
      const active = !rule || ('activeWhenNull' in rule ? row.active == null : rule.activeValues.map(comparable).includes(comparable(row.active)));
      if (active) report.active++;
      else report.inactive++;

      const username = text(row.username)?.trim().toLowerCase() || null;
      const email = text(row.email)?.trim().toLowerCase() || null;
      if (!username && !email) note(report.missingLogin, id);
      if (username) usernames.set(username, [...(usernames.get(username) ?? []), id]);
      if (email) emails.set(email, [...(emails.get(email) ?? []), id]);

      const hash = text(row.hash);
      if (!hash) {
        note(report.emptyHash, id);
        continue;
      }
      const scheme = identifyScheme(hash, candidates);
      if (!scheme) {
        note(report.unrecognised, id);
        continue;
      }
      let name = scheme;
      if (BARE_HEX_SCHEMES.includes(scheme) && !saltAlwaysPresent && text(row.salt) === null) {
        // identifyScheme goes by length; without a salt only the unsalted candidates apply.
        const unsalted = candidates.find((c) => !getScheme(c)?.salted && getScheme(c)?.identify(hash));
        if (!unsalted) {
          note(report.missingSalt, id);
          continue;
        }
        name = unsalted;
      }
      report.schemes[name] = (report.schemes[name] ?? 0) + 1;
    }
  }
  report.duplicateEmails = duplicates(emails);
  report.duplicateUsernames = duplicates(usernames);
  report.ready =
    report.unrecognised.count + report.emptyHash.count + report.missingSalt.count + report.missingLogin.count === 0 &&
    report.duplicateEmails.groups + report.duplicateUsernames.groups === 0;
  return report;
}

/** The report for people: counts first, then the ids of each problem. */
export function formatReadinessReport(report: ReadinessReport): string {
  const lines = [`legacy table ${report.table}: ${report.rows} rows (${report.active} active, ${report.inactive} inactive)`, '', 'recognised schemes:'];
  const schemes = Object.entries(report.schemes).sort((a, b) => b[1] - a[1]);
  if (schemes.length === 0) lines.push('  (none)');
  for (const [scheme, count] of schemes) lines.push(`  ${scheme.padEnd(24)} ${count}`);
  lines.push('');
  const ids = (list: string[], count: number) => `${list.join(', ')}${count > list.length ? `, ... (${count - list.length} more)` : ''}`;
  const problems: [string, Finding][] = [
    ['hash no scheme recognises', report.unrecognised],
    ['empty or NULL hash', report.emptyHash],
    ['salted scheme but no salt', report.missingSalt],
    ['no username and no e-mail', report.missingLogin],
  ];
  for (const [label, f] of problems) lines.push(`${label}: ${f.count}${f.count ? ` (ids: ${ids(f.ids, f.count)})` : ''}`);
  for (const [label, d] of [
    ['shared e-mail', report.duplicateEmails],
    ['shared username', report.duplicateUsernames],
  ] as const) {
    lines.push(`${label}: ${d.groups} groups, ${d.rows} rows${d.groups ? ` (ids: ${d.ids.map((g) => `[${g.join(', ')}]`).join(' ')})` : ''}`);
  }
  lines.push('', report.ready ? 'READY: every row can migrate.' : 'NOT READY: fix or accept the rows above before the cutover.');
  return lines.join('\n');
}
