/**
 * npm run bench:legacy-timing — does an unknown login take as long as a wrong password at the
 * legacy-adapter? (Reported, not asserted: tests never time anything.) For each table below it
 * starts the adapter as its own process, as production runs it, on a fresh SQLite legacy
 * database, and sends BENCH_ATTEMPTS (default 200) attempts of each kind, one at a time and
 * interleaved so both see the same machine: an unknown login (a new one each time) and a known
 * login with a wrong password (the table's users in turn). It prints the medians and their
 * difference (target: under 5 %). Tables:
 *  - bcrypt: 64 users, all `$2y$10$` (PHP's default), what most PHP sites hold today;
 *  - mixed: one user per scheme of the sample monolith (md5 to argon2), costs 10^5 apart.
 * Raw figures: bench/out/legacy-timing.json. Results in docs/PERFORMANCE.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createDatabase } from '../lib/db.ts';
import { createLegacyPhpSchema } from '../scripts/support/legacy-schema.ts';
import { repoRoot, startServiceProcess } from '../scripts/support/processes.ts';
import { vector } from '../scripts/support/legacy-hashes.ts';
import { schemeUsers, legacyRow, type LegacyRow } from '../scripts/support/legacy-users.ts';

const ATTEMPTS = Number(process.env.BENCH_ATTEMPTS ?? 200);
const WARMUP = 20;
const SECRET = 'bench-legacy-adapter-secret-0123456789abcdef';

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))] ?? NaN;

interface Result {
  table: string;
  users: number;
  unknown: { p25: number; median: number; p75: number };
  wrongPassword: { p25: number; median: number; p75: number };
  medianDifferencePercent: number;
}

async function run(table: string, rows: LegacyRow[]): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'idm-bench-timing-'));
  const url = `sqlite:${join(dir, 'legacy.sqlite')}`;
  const knex = createDatabase(url);
  try {
    await createLegacyPhpSchema({ kind: 'sqlite', url, knex, drop: async () => undefined });
    for (const row of rows) await knex('users').insert(row);
  } finally {
    await knex.destroy();
  }
  const adapter = await startServiceProcess('legacy-adapter/main.ts', 'LEGACY_ADAPTER_PORT', {
    LEGACY_DATABASE_URL: url,
    LEGACY_MAPPING_FILE: 'legacy-adapter/mappings/legacy-php.yaml',
    LEGACY_ADAPTER_SECRET: SECRET,
    LOG_LEVEL: 'warn',
  });
  const attempt = async (login: string, password: string): Promise<number> => {
    const started = performance.now();
    const res = await fetch(`${adapter.url}/internal/v1/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
      body: JSON.stringify({ login, password }),
    });
    const body = (await res.json()) as { ok?: boolean };
    if (res.status !== 200 || body.ok !== false) throw new Error(`unexpected answer ${res.status} ${JSON.stringify(body)}`);
    return performance.now() - started;
  };
  try {
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < WARMUP + ATTEMPTS; i++) {
      const known = rows[i % rows.length]?.user_login ?? '';
      // Alternate which goes first, so neither always follows the other.
      const pair =
        i % 2
          ? [() => attempt(`nobody-${i}@example.com`, 'wrong password'), () => attempt(known, 'wrong password')]
          : [() => attempt(known, 'wrong password'), () => attempt(`nobody-${i}@example.com`, 'wrong password')];
      const [a, b] = [await pair[0]!(), await pair[1]!()];
      if (i < WARMUP) continue;
      unknown.push(i % 2 ? a : b);
      wrong.push(i % 2 ? b : a);
    }
    const summary = (xs: number[]) => ({ p25: quantile(xs, 0.25), median: quantile(xs, 0.5), p75: quantile(xs, 0.75) });
    const result = { table, users: rows.length, unknown: summary(unknown), wrongPassword: summary(wrong), medianDifferencePercent: 0 };
    result.medianDifferencePercent = ((result.unknown.median - result.wrongPassword.median) / result.wrongPassword.median) * 100;
    return result;
  } finally {
    await adapter.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const bcrypt = vector('bcrypt-2y').hash;
const tables: [string, LegacyRow[]][] = [
  ['bcrypt', Array.from({ length: 64 }, (_, i) => legacyRow(`bcrypt-user-${i}`, bcrypt))],
  ['mixed', schemeUsers],
];

console.log(`# legacy-adapter timing: ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores, node ${process.version}, load average ${loadavg()[0]?.toFixed(2)}`);
console.log(`# ${ATTEMPTS} attempts of each kind per table, after ${WARMUP} warm-up pairs\n`);
console.log('| table | users | unknown login p25 / median / p75, ms | wrong password p25 / median / p75, ms | difference of medians |');
console.log('| --- | --- | --- | --- | --- |');
const results: Result[] = [];
for (const [name, rows] of tables) {
  const r = await run(name, rows);
  results.push(r);
  const f = (s: Result['unknown']) => `${s.p25.toFixed(1)} / ${s.median.toFixed(1)} / ${s.p75.toFixed(1)}`;
  console.log(
    `| ${r.table} | ${r.users} | ${f(r.unknown)} | ${f(r.wrongPassword)} | ${r.medianDifferencePercent >= 0 ? '+' : ''}${r.medianDifferencePercent.toFixed(1)} % |`,
  );
}
mkdirSync(join(repoRoot, 'bench/out'), { recursive: true });
writeFileSync(join(repoRoot, 'bench/out/legacy-timing.json'), JSON.stringify({ at: new Date().toISOString(), loadavg: loadavg(), results }, null, 2));
