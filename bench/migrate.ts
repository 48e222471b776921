// `npm run bench:migrate`: the batch migration (legacy-adapter/cli/migrate.ts) over 100,000 and
// 1,000,000 synthetic legacy users on MariaDB, against MariaDB's own multi-row INSERT of the
// same rows into a copy of the target table, measured in the same run. Reported, not asserted;
// the figures go in docs/PERFORMANCE.md.
//
//   npm run bench:migrate                                # 100000 and 1000000 rows
//   BENCH_SIZES=100000 BENCH_BATCH_SIZE=2000 npm run bench:migrate
//
// Needs MariaDB at TEST_MARIADB_URL (default mysql://root@127.0.0.1:3306/) with the SEQUENCE
// engine (seq_1_to_N tables, on by default). Each size uses two throwaway databases, dropped at
// the end. The migration runs as a child process, as ops run it, so its peak memory (maxRSS,
// in its JSON report) is its own: `npm run migrate:users`, so with the script's V8 heap flags.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hashSync } from '@node-rs/bcrypt';
import { idpMigrations } from '../idp/store/migrations/index.ts';
import type { MigrationReport } from '../legacy-adapter/etl/index.ts';
import { createDatabase, migrate, type Knex } from '../lib/db.ts';
import { repoRoot } from '../test/support/processes.ts';

const adminUrl = (process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/').replace(/\/$/, '');
const sizes = (process.env.BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
const batchSize = Number(process.env.BENCH_BATCH_SIZE ?? 1000);
const SECRET = 'bench-migrate-legacy-adapter-secret-0123456789';

interface Result {
  rows: number;
  seedSeconds: number;
  migrate: { seconds: number; rowsPerSecond: number; peakMemoryMb: number; inserted: number; deadLettered: number };
  ceiling: { seconds: number; rowsPerSecond: number };
  serverSideCopy: { seconds: number; rowsPerSecond: number };
  ratio: number;
}

async function database(prefix: string): Promise<{ url: string; knex: Knex; drop(): Promise<void> }> {
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
  const sql = readFileSync(join(repoRoot, 'legacy-php/schema/mysql.sql'), 'utf8');
  for (const statement of sql.split('\n').filter((l) => !l.trimStart().startsWith('--')).join('\n').split(';').map((s) => s.trim()).filter(Boolean)) {
    await knex.raw(statement);
  }
  const bcrypt = hashSync('bench', 4).replace('$2b$', '$2y$');
  const phpass = '$P$BnKIIqConek1Kc2flv6caY7hm6Ud/J0';
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

async function benchSize(rows: number): Promise<Result> {
  const legacy = await database('bench_migrate_legacy');
  const idp = await database('bench_migrate_idp');
  try {
    console.error(`\n== ${rows.toLocaleString('en-US')} rows: seeding the legacy table`);
    let started = performance.now();
    await seedLegacy(legacy.knex, rows);
    const seedSeconds = (performance.now() - started) / 1000;
    await migrate(idp.knex, idpMigrations);

    console.error(`== ${rows.toLocaleString('en-US')} rows: migrate (batches of ${batchSize})`);
    started = performance.now();
    const report = await runMigrate({ DATABASE_URL: idp.url, LEGACY_DATABASE_URL: legacy.url });
    const wall = (performance.now() - started) / 1000;
    const inserted = report.counts.inserted;

    console.error(`== ${rows.toLocaleString('en-US')} rows: MariaDB multi-row INSERT of the same ${inserted.toLocaleString('en-US')} rows (ceiling)`);
    const ceil = await ceiling(idp.knex, rows);
    const copy = await serverSideCopy(idp.knex);
    const migrateRate = report.thisRun.rowsPerSecond;
    const ceilingRate = Math.round(inserted / ceil.seconds);
    return {
      rows,
      seedSeconds: Math.round(seedSeconds * 10) / 10,
      migrate: { seconds: Math.round(wall * 10) / 10, rowsPerSecond: migrateRate, peakMemoryMb: report.peakMemoryMb, inserted, deadLettered: report.deadLetteredTotal },
      ceiling: { seconds: Math.round(ceil.seconds * 10) / 10, rowsPerSecond: ceilingRate },
      serverSideCopy: { seconds: Math.round(copy.seconds * 10) / 10, rowsPerSecond: Math.round(inserted / copy.seconds) },
      ratio: Math.round((migrateRate / ceilingRate) * 100) / 100,
    };
  } finally {
    await Promise.all([legacy.drop(), idp.drop()]);
  }
}

const results: Result[] = [];
for (const rows of sizes) results.push(await benchSize(rows));

const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
const mariadb = createDatabase(`${adminUrl}/`, { pool: { min: 0, max: 1 } });
const [[version]] = (await mariadb.raw('select version() as v')) as [[{ v: string }]];
await mariadb.destroy();

console.log(`\nbench:migrate on ${machine}, MariaDB ${version?.v}, batches of ${batchSize}`);
console.log('| rows | migrate rows/s | ceiling rows/s (multi-row INSERT) | migrate / ceiling | migrate peak RSS | migrate wall time | server-side INSERT...SELECT rows/s |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(`| ${r.rows.toLocaleString('en-US')} | ${r.migrate.rowsPerSecond.toLocaleString('en-US')} | ${r.ceiling.rowsPerSecond.toLocaleString('en-US')} | ${Math.round(r.ratio * 100)}% | ${r.migrate.peakMemoryMb} MB | ${r.migrate.seconds} s | ${r.serverSideCopy.rowsPerSecond.toLocaleString('en-US')} |`);
}
console.log('targets: migrate >= 60% of the ceiling, peak RSS < 150 MB at every size');
mkdirSync(join(repoRoot, 'bench/out'), { recursive: true });
writeFileSync(join(repoRoot, 'bench/out/migrate.json'), `${JSON.stringify({ machine, mariadb: version?.v, batchSize, results }, null, 2)}\n`);
