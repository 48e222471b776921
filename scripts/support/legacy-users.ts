// Rows of the sample monolith's users table for tests and benches: one user per password scheme
// the monolith accepts (hashed by PHP itself, test/fixtures), and single rows on demand.
import type { LegacyUserRow } from '../seed-legacy-users.ts';
import { vector } from './legacy-hashes.ts';

/** A row of the sample monolith's users table (one definition: the seeding script's). */
export type LegacyRow = LegacyUserRow;

// Every scheme the sample monolith's includes/password.php accepts, as PHP wrote it (fixtures).
// Bare hex rows have a NULL salt, which the monolith concatenates as ''.
const SCHEME_USERS: [string, string][] = [
  ['u_md5', 'md5'],
  ['u_md5salt', 'md5(salt.password)'],
  ['u_sha1', 'sha1'],
  ['u_sha1salt', 'sha1(salt.password)'],
  ['u_sha256', 'sha256'],
  ['u_des', 'crypt-des'],
  ['u_md5crypt', 'crypt-md5'],
  ['u_sha256crypt', 'crypt-sha256'],
  ['u_sha512crypt', 'crypt-sha512'],
  ['u_sha512rounds', 'crypt-sha512-rounds'],
  ['u_bcrypt2y', 'bcrypt-2y'],
  ['u_bcrypt2a', 'bcrypt-2a'],
  ['u_argon2id', 'argon2id'],
  ['u_argon2i', 'argon2i'],
  ['u_phpassP', 'phpass-portable-P'],
  ['u_phpassH', 'phpass-portable-H'],
];

export const schemeUsers: LegacyRow[] = SCHEME_USERS.map(([login, scheme]) => {
  const v = vector(scheme);
  return { user_login: login, user_email: `${login}@example.com`, user_pass: v.hash, user_salt: v.salt, is_active: 1, display_name: `User ${scheme}` };
});

export function legacyRow(login: string, hash: string, extra: Partial<LegacyRow> = {}): LegacyRow {
  return { user_login: login, user_email: `${login}@example.com`, user_pass: hash, user_salt: null, is_active: 1, display_name: login, ...extra };
}
