// The sample monolith's own schema (legacy-php/schema/*.sql) on a throwaway database, for tests
// and benches that need its users table without running PHP.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestDatabase } from './databases.ts';
import { repoRoot } from './processes.ts';

/** The sample monolith's schema (legacy-php/schema/*.sql), as the monolith itself creates it, on a test database. */
export async function createLegacyPhpSchema(db: TestDatabase): Promise<void> {
  const sql = readFileSync(join(repoRoot, 'legacy-php', `schema/${db.kind === 'mysql' ? 'mysql' : 'sqlite'}.sql`), 'utf8');
  const statements = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const statement of statements) await db.knex.raw(statement);
}
