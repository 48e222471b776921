// The sample monolith's schema and demo users written with node, for a machine without PHP:
// the same rows `php legacy-php/seed.php` creates, from hashes PHP made once
// (scripts/generate-demo-users.ts). Like seed.php it adds only missing logins.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';

export const DEMO_USERS_FILE = fileURLToPath(new URL('fixtures/legacy-demo-users.json', import.meta.url));
const SCHEMA_FILE = fileURLToPath(new URL('../legacy-php/schema/sqlite.sql', import.meta.url));

export interface LegacyUserRow {
  user_login: string;
  user_email: string;
  user_pass: string;
  user_salt: string | null;
  is_active: number;
  display_name: string;
}

/** Creates the schema if missing and inserts the demo users that are not there yet; returns how many were added. */
export function seedLegacyUsers(sqliteFile: string): number {
  const rows = JSON.parse(readFileSync(DEMO_USERS_FILE, 'utf8')) as LegacyUserRow[];
  const db = new DatabaseSync(sqliteFile, { timeout: 5000 });
  try {
    db.exec(readFileSync(SCHEMA_FILE, 'utf8'));
    const insert = db.prepare(
      `INSERT OR IGNORE INTO users (user_login, user_email, user_pass, user_salt, is_active, display_name, updated_at)
       VALUES (@user_login, @user_email, @user_pass, @user_salt, @is_active, @display_name, datetime('now'))`,
    );
    db.exec('BEGIN');
    const added = rows.reduce((sum, row) => sum + Number(insert.run({ ...row }).changes), 0);
    db.exec('COMMIT');
    return added;
  } finally {
    db.close();
  }
}
