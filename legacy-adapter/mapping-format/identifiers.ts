import { z } from 'zod';

// Column and table names end up in SQL (quoted by knex), so only plain identifiers are allowed:
// a typo fails at load time instead of as a confusing database error at the first login.
export const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,63}$/, 'must be a plain SQL identifier (letters, digits, _ and $)');
export const tableName = z
  .string()
  .regex(/^([A-Za-z_][A-Za-z0-9_$]{0,63}\.)?[A-Za-z_][A-Za-z0-9_$]{0,63}$/, 'must be a table name, optionally schema-qualified (db.table)');
