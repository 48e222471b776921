// Run once, with PHP, to refresh scripts/fixtures/legacy-demo-users.json: the sample monolith's
// own seed (legacy-php/seed.php) fills a throwaway SQLite file and its users table is written out
// as it stands. `npm start` loads that file when `php` is absent, so a newcomer without PHP still
// gets legacy users whose hashes real PHP made (bcrypt, argon2id, phpass, crypt, salted digests).
//   node scripts/generate-demo-users.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { DEMO_USERS_FILE, type LegacyUserRow } from './seed-legacy-users.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'idm-demo-users-'));
try {
  const file = join(dir, 'legacy.sqlite');
  const seeded = spawnSync('php', ['legacy-php/seed.php'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', LEGACY_DB_DSN: `sqlite:${file}` },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (seeded.status !== 0) throw new Error('php legacy-php/seed.php failed (needs php-cli php-sqlite3)');
  const db = new DatabaseSync(file, { readOnly: true });
  const rows = db
    .prepare('SELECT user_login, user_email, user_pass, user_salt, is_active, display_name FROM users ORDER BY user_id')
    .all() as unknown as LegacyUserRow[];
  db.close();
  writeFileSync(DEMO_USERS_FILE, `${JSON.stringify(rows, null, 2)}\n`);
  console.log(`wrote ${rows.length} users to ${DEMO_USERS_FILE}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
