import { encodePhpSession } from './php-serialize.ts';

/**
 * The logged-in state as the monolith's includes/auth.php reads it, and nothing more:
 * `user_id` (int, users.user_id) and `login` (string, users.user_login), as login_user() sets
 * them (legacy-php/README.md, "Sessions: the format other code may write").
 */
export function loggedInSessionData(user: { legacyId: string; username: string }): Buffer {
  const id = Number(user.legacyId);
  if (!/^[1-9][0-9]*$/.test(user.legacyId) || !Number.isSafeInteger(id)) throw new RangeError('the legacy id is not an integer PHP can hold');
  return encodePhpSession([
    ['user_id', id],
    ['login', user.username],
  ]);
}
