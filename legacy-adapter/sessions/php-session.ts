import { encodePhpSession, type SerializeHandler } from './php-serialize.ts';
import { decodePhpSession, PhpSessionFormatError, type PhpValue } from './php-session-decode.ts';

/**
 * The logged-in state as the monolith's includes/auth.php reads it, and nothing more:
 * `user_id` (int, users.user_id) and `login` (string, users.user_login), as login_user() sets
 * them (legacy-php/README.md, "Sessions: the format other code may write"), in the format of
 * the monolith's session.serialize_handler (the mapping's session.serialize_handler).
 */
export function loggedInSessionData(user: { legacyId: string; username: string }, handler: SerializeHandler): Buffer {
  const id = Number(user.legacyId);
  if (!/^[1-9][0-9]*$/.test(user.legacyId) || !Number.isSafeInteger(id)) throw new RangeError('the legacy id is not an integer PHP can hold');
  return encodePhpSession([
    ['user_id', id],
    ['login', user.username],
  ], handler);
}

/**
 * The users.user_id a session is logged in as, by auth.php's current_user() rule (a non-empty
 * `user_id` and a set `login`), held to what login_user() writes: a positive int and a string.
 * Anything else, including data the strict decoder refuses, is nobody (undefined). Read only as
 * `handler` writes (the monolith's): under another handler's rules a string value could pass for
 * session variables.
 */
export function loggedInUserId(data: Buffer, handler: SerializeHandler): number | undefined {
  let session: Map<string, PhpValue>;
  try {
    session = decodePhpSession(data, handler);
  } catch (error) {
    if (error instanceof PhpSessionFormatError) return undefined;
    throw error;
  }
  const id = session.get('user_id');
  const login = session.get('login');
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0 || typeof login !== 'string') return undefined;
  return id;
}
