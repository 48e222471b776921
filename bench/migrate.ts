// `npm run bench:migrate`: the batch migration (legacy-adapter/cli/migrate.ts) over 1,000,000
// synthetic legacy users on MariaDB (10,000,000 on request), without and with wrapping the cheap
// legacy hashes in PBKDF2 (issue 15): rows/s, peak RSS, the time per batch at the start and at the
// end of the run (the slope shows whether it slows as the table grows); without wrapping also
// against MariaDB's own multi-row INSERT of the same rows into a copy of the target table; with
// wrapping against what the cores allow for one PBKDF2 per row, measured in the same run.
// Reported, not asserted; the figures go in docs/PERFORMANCE.md. The migration writes through
// the idp's bulk-import port, so a real idp process runs on the target database for each size,
// and the ETL keeps its checkpoints and dead letters in a third database of its own.
//
//   npm run bench:migrate                                # 1000000 rows, without and with wrapping
//   BENCH_SIZES=10000000 npm run bench:migrate           # ten million (hours: on a quiet machine)
//   BENCH_SIZES=50000 BENCH_WRAP=off npm run bench:migrate   # a smoke run
//   BENCH_WRAP=on|off|both (default both), BENCH_WRAP_ITERATIONS (default 10000), BENCH_BATCH_SIZE
//   BENCH_DB=sqlite: the embedded default instead (SQLite files; seeded from this process, no ceiling)
//
// Needs MariaDB at TEST_MARIADB_URL (default mysql://root@127.0.0.1:3306/) with the SEQUENCE
// engine (seq_1_to_N tables, on by default). Each size uses two throwaway databases, dropped at
// the end. The migration runs as a child process, as ops run it, so its peak memory (maxRSS,
// in its JSON report) is its own: `npm run migrate:users`, so with the script's V8 heap flags.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { hashSync } from '@node-rs/bcrypt';
import { idpMigrations } from '../idp/store/migrations/index.ts';
import type { MigrationReport } from '../legacy-adapter/etl/index.ts';
import { createDatabase, migrate, type Knex } from '../lib/db.ts';
import { repoRoot, startServiceProcess } from '../scripts/support/processes.ts';

const adminUrl = (process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/').replace(/\/$/, '');
const sizes = (process.env.BENCH_SIZES ?? '1000000').split(',').map(Number);
const batchSize = Number(process.env.BENCH_BATCH_SIZE ?? 1000);
const wrapModes = { off: [false], on: [true], both: [false, true] }[process.env.BENCH_WRAP ?? 'both'] ?? [false, true];
const wrapIterations = Number(process.env.BENCH_WRAP_ITERATIONS ?? 10_000);
const SECRET = 'bench-migrate-legacy-adapter-secret-0123456789';
const IDP_SECRET = 'bench-migrate-idp-internal-secret-0123456789';
const kind: 'mysql' | 'sqlite' = process.env.BENCH_DB === 'sqlite' ? 'sqlite' : 'mysql';

interface Result {
  rows: number;
  wrap: boolean;
  seedSeconds: number;
  /** The machine's 1-minute load average as the migration started and as it ended: other work on the machine shows here. */
  load: { start: number; end: number };
  migrate: {
    seconds: number;
    rowsPerSecond: number;
    peakMemoryMb: number;
    inserted: number;
    wrapped: number;
    deadLettered: number;
    msPerBatch: { start: number | null; end: number | null };
  };
  /** Without wrapping: MariaDB's multi-row INSERT of the same rows. */
  ceiling?: { seconds: number; rowsPerSecond: number };
  serverSideCopy?: { seconds: number; rowsPerSecond: number };
  /** With wrapping: PBKDF2s per second the cores allow at the iteration count, measured here. */
  pbkdf2Capacity?: number;
  ratio: number;
}

/** One PBKDF2 per row is the wrapping's cost: how many per second libuv's threads manage on this machine now. */
async function pbkdf2PerSecond(iterations: number): Promise<number> {
  const run = promisify(pbkdf2);
  const lanes = Math.max(1, Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10) || 4);
  const started = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() - started < 3_000) {
        await run('5f4dcc3b5aa765d61d8327deb882cf99', 'a sixteen byte s', iterations, 32, 'sha256');
        done++;
      }
    }),
  );
  return Math.round(done / ((performance.now() - started) / 1000));
}

async function database(prefix: string): Promise<{ url: string; knex: Knex; drop(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    const url = `sqlite:${join(dir, 'db.sqlite')}`;
    const knex = createDatabase(url);
    return {
      url,
      knex,
      async drop() {
        await knex.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = createDatabase(`${adminUrl}/`, { pool: { min: 0, max: 1 } });
  await admin.raw(`create database \`${name}\` character set utf8mb4 collate utf8mb4_unicode_ci`);
  await admin.destroy();
  const url = `${adminUrl}/${name}`;
  const knex = createDatabase(url);
  return {
    url,
    knex,
    async drop() {
      await knex.destroy();
      const cleanup = createDatabase(`${adminUrl}/`, { pool: { min: 0, max: 1 } });
      await cleanup.raw(`drop database if exists \`${name}\``);
      await cleanup.destroy();
    },
  };
}

/** The sample monolith's schema, then `rows` users made by MariaDB itself from a number sequence. */
async function seedLegacy(knex: Knex, rows: number): Promise<void> {
  const sql = readFileSync(join(repoRoot, `legacy-php/schema/${kind}.sql`), 'utf8');
  for (const statement of sql
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)) {
    await knex.raw(statement);
  }
  const bcrypt = hashSync('bench', 4).replace('$2b$', '$2y$');
  const phpass = '$P$BnKIIqConek1Kc2flv6caY7hm6Ud/J0';
  if (kind === 'sqlite') return seedSqlite(knex, rows, bcrypt, phpass);
  // Mostly cheap digests (salted md5, sha1, sha256, as the monolith wrote them), one row in a
  // thousand bcrypt and one phpass, and one in ten thousand with an invalid e-mail (dead-lettered).
  for (let start = 1; start <= rows; start += 250_000) {
    const end = Math.min(rows, start + 249_999);
    await knex.raw(
      `INSERT INTO users (user_id, user_login, user_email, user_pass, user_salt, is_active, display_name)
       SELECT seq, CONCAT('user', seq),
              IF(seq % 10000 = 5000, CONCAT('user', seq, '-at-example.test'), CONCAT(IF(seq % 3 = 0, 'User', 'user'), seq, '@example.test')),
              CASE WHEN seq % 1000 = 7 THEN ? WHEN seq % 1000 = 9 THEN ?
                   WHEN seq % 3 = 0 THEN MD5(CONCAT(LPAD(HEX(seq), 8, '0'), 'pw', seq))
                   WHEN seq % 3 = 1 THEN SHA1(CONCAT('pw', seq))
                   ELSE SHA2(CONCAT('pw', seq), 256) END,
              IF(seq % 3 = 0 AND seq % 1000 NOT IN (7, 9), LPAD(HEX(seq), 8, '0'), NULL),
              IF(seq % 97 = 0, 0, 1), CONCAT('User ', seq)
       FROM seq_${start}_to_${end}`,
      [bcrypt, phpass],
    );
  }
}

/** The same population as the MariaDB seed, made here (SQLite has no digest functions). */
async function seedSqlite(knex: Knex, rows: number, bcrypt: string, phpass: string): Promise<void> {
  const hex = (algorithm: string, text: string) => createHash(algorithm).update(text).digest('hex');
  // 100 rows per INSERT: SQLite allows 500 compound terms and 32766 variables.
  for (let start = 1; start <= rows; start += 100) {
    const batch = [];
    for (let seq = start; seq <= Math.min(rows, start + 99); seq++) {
      const salt = seq.toString(16).toUpperCase().padStart(8, '0');
      const special = seq % 1000 === 7 ? bcrypt : seq % 1000 === 9 ? phpass : null;
      batch.push({
        user_id: seq,
        user_login: `user${seq}`,
        user_email: seq % 10000 === 5000 ? `user${seq}-at-example.test` : `${seq % 3 === 0 ? 'User' : 'user'}${seq}@example.test`,
        user_pass: special ?? (seq % 3 === 0 ? hex('md5', `${salt}pw${seq}`) : seq % 3 === 1 ? hex('sha1', `pw${seq}`) : hex('sha256', `pw${seq}`)),
        user_salt: seq % 3 === 0 && !special ? salt : null,
        is_active: seq % 97 === 0 ? 0 : 1,
        display_name: `User ${seq}`,
      });
    }
    await knex('users').insert(batch);
  }
}

function runMigrate(env: Record<string, string>): Promise<MigrationReport> {
  return new Promise((resolve, reject) => {
    // Exactly as ops run it: the npm script, with its V8 heap flags.
    const child = spawn('npm', ['run', '--silent', 'migrate:users', '--', '--json', '--batch-size', String(batchSize)], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', LEGACY_ADAPTER_SECRET: SECRET, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d);
    });
    child.once('exit', (code) => {
      if (code !== 0 && code !== 3) return reject(new Error(`migrate exited ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(out) as MigrationReport);
    });
  });
}

/**
 * The ceiling: the rows the migration wrote, inserted again into an empty copy of the table with
 * multi-row INSERTs of the same batch size, in the same (legacy id) order. Only the INSERTs are
 * timed; fetching the rows to insert is not.
 */
async function ceiling(idp: Knex, rows: number): Promise<{ seconds: number }> {
  await idp.raw('CREATE TABLE users_ceiling LIKE users');
  let timed = 0;
  for (let first = 1; first <= rows; first += batchSize) {
    const ids = Array.from({ length: Math.min(batchSize, rows - first + 1) }, (_, i) => String(first + i));
    const found = (await idp('users').whereIn('legacy_id', ids)) as Record<string, unknown>[];
    found.sort((a, b) => Number(a.legacy_id) - Number(b.legacy_id));
    if (found.length === 0) continue;
    const started = performance.now();
    await idp('users_ceiling').insert(found);
    timed += performance.now() - started;
  }
  return { seconds: timed / 1000 };
}

async function serverSideCopy(idp: Knex): Promise<{ seconds: number }> {
  await idp.raw('CREATE TABLE users_copy LIKE users');
  const started = performance.now();
  await idp.raw('INSERT INTO users_copy SELECT * FROM users');
  return { seconds: (performance.now() - started) / 1000 };
}

async function benchSize(rows: number, wrap: boolean): Promise<Result> {
  const legacy = await database('bench_migrate_legacy');
  const idp = await database('bench_migrate_idp');
  const etl = await database('bench_migrate_etl');
  let idpProcess: Awaited<ReturnType<typeof startServiceProcess>> | undefined;
  const label = `${rows.toLocaleString('en-US')} rows, ${wrap ? `wrapping at i=${wrapIterations}` : 'no wrapping'}`;
  try {
    console.error(`\n== ${label}: seeding the legacy table`);
    let started = performance.now();
    await seedLegacy(legacy.knex, rows);
    const seedSeconds = (performance.now() - started) / 1000;
    await migrate(idp.knex, idpMigrations);
    // The idp the migration imports through, as its own process (its CPU, its connection pool).
    idpProcess = await startServiceProcess('idp/main.ts', 'IDP_PORT', {
      LOG_LEVEL: 'warn',
      DATABASE_URL: idp.url,
      IDP_INTERNAL_SECRET: IDP_SECRET,
      IDP_OPS_PORT: '0',
    });

    // Measured before and after the run, the higher kept: a machine that got busier meanwhile
    // must not flatter the migration's share of it.
    const capacityBefore = wrap ? await pbkdf2PerSecond(wrapIterations) : 0;
    console.error(`== ${label}: migrate (batches of ${batchSize})`);
    const loadAtStart = loadavg()[0] ?? 0;
    started = performance.now();
    const report = await runMigrate({
      IDP_INTERNAL_URL: idpProcess.url,
      IDP_INTERNAL_SECRET: IDP_SECRET,
      LEGACY_ETL_DATABASE_URL: etl.url,
      LEGACY_DATABASE_URL: legacy.url,
      LEGACY_WRAP_ITERATIONS: wrap ? String(wrapIterations) : '0',
    });
    const wall = (performance.now() - started) / 1000;
    const inserted = report.counts.inserted;
    const migrateRate = report.thisRun.rowsPerSecond;
    const result: Result = {
      rows,
      wrap,
      seedSeconds: Math.round(seedSeconds * 10) / 10,
      load: { start: Math.round(loadAtStart * 10) / 10, end: Math.round((loadavg()[0] ?? 0) * 10) / 10 },
      migrate: {
        seconds: Math.round(wall * 10) / 10,
        rowsPerSecond: migrateRate,
        peakMemoryMb: report.peakMemoryMb,
        inserted,
        wrapped: report.counts.wrapped,
        deadLettered: report.deadLetteredTotal,
        msPerBatch: report.thisRun.msPerBatch,
      },
      ratio: 0,
    };
    if (wrap) {
      console.error(`== ${label}: PBKDF2s per second the cores allow at i=${wrapIterations}`);
      result.pbkdf2Capacity = Math.max(capacityBefore, await pbkdf2PerSecond(wrapIterations));
      // Nearly every row is wrapped, so the capacity in PBKDF2s/s is the capacity in rows/s.
      result.ratio = Math.round((migrateRate / result.pbkdf2Capacity) * 100) / 100;
      return result;
    }
    if (kind === 'sqlite') return result;
    console.error(`== ${label}: MariaDB multi-row INSERT of the same ${inserted.toLocaleString('en-US')} rows (ceiling)`);
    const ceil = await ceiling(idp.knex, rows);
    const copy = await serverSideCopy(idp.knex);
    const ceilingRate = Math.round(inserted / ceil.seconds);
    result.ceiling = { seconds: Math.round(ceil.seconds * 10) / 10, rowsPerSecond: ceilingRate };
    result.serverSideCopy = { seconds: Math.round(copy.seconds * 10) / 10, rowsPerSecond: Math.round(inserted / copy.seconds) };
    result.ratio = Math.round((migrateRate / ceilingRate) * 100) / 100;
    return result;
  } finally {
    await idpProcess?.stop();
    await Promise.all([legacy.drop(), idp.drop(), etl.drop()]);
  }
}

const results: Result[] = [];
for (const rows of sizes) for (const wrap of wrapModes) results.push(await benchSize(rows, wrap));

const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
let version: { v: string } | undefined = { v: 'SQLite (better-sqlite3)' };
if (kind === 'mysql') {
  const mariadb = createDatabase(`${adminUrl}/`, { pool: { min: 0, max: 1 } });
  [[version]] = (await mariadb.raw('select version() as v')) as [[{ v: string }]];
  await mariadb.destroy();
}

const n = (value: number | null | undefined) => (value == null ? '-' : value.toLocaleString('en-US'));
const pct = (value: number) => `${Math.round(value * 100)}%`;
console.log(`\nbench:migrate on ${machine}, ${kind === 'mysql' ? 'MariaDB ' : ''}${version?.v}, batches of ${batchSize}`);
console.log('| rows | wrapping | migrate rows/s | ms per batch, start → end (end / start) | peak RSS | wall time | ceiling rows/s | compared | load average |');
console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |');
for (const r of results) {
  const { start, end } = r.migrate.msPerBatch;
  const slope = start && end ? ` (${Math.round((end / start) * 100)}%)` : '';
  const ceilingText = r.wrap ? `${n(r.pbkdf2Capacity)} PBKDF2/s` : `${n(r.ceiling?.rowsPerSecond)} (INSERT…SELECT ${n(r.serverSideCopy?.rowsPerSecond)})`;
  const compared = r.wrap ? `${pct(r.ratio)} of the cores' PBKDF2 rate` : `${pct(r.ratio)} of the ceiling`;
  console.log(
    `| ${n(r.rows)} | ${r.wrap ? `i=${wrapIterations}, ${n(r.migrate.wrapped)} wrapped` : 'off'} | ${n(r.migrate.rowsPerSecond)} | ${start} → ${end}${slope} | ${r.migrate.peakMemoryMb} MB | ${r.migrate.seconds} s | ${ceilingText} | ${compared} | ${r.load.start} → ${r.load.end} |`,
  );
}
console.log(
  "targets (issue 15): without wrapping >= 15,000 rows/s, the end's batches at >= 70% of the start's rate (ms per batch end/start <= 143%), peak RSS < 150 MB; with wrapping >= 80% of the cores' PBKDF2 rate",
);
mkdirSync(join(repoRoot, 'bench/out'), { recursive: true });
writeFileSync(join(repoRoot, 'bench/out/migrate.json'), `${JSON.stringify({ machine, mariadb: version?.v, batchSize, wrapIterations, results }, null, 2)}\n`);
