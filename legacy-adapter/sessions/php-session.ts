import { encodePhpSession, type SerializeHandler } from './php-serialize.ts';
import { decodePhpSession, PhpSessionFormatError, type PhpValue } from './php-session-decode.ts';

/** How the monolith stores its logged-in state (the mapping's `session` section). */
export interface SessionFormat {
  serialize_handler: SerializeHandler;
  /** The $_SESSION keys of the user's id and login. */
  keys: { userId: string; login: string };
}

/**
 * The logged-in state as the monolith reads it, and nothing more: the user's id (an int) and
 * login (a string) under the mapping's session keys (legacy-php's login_user() sets `user_id`
 * and `login`: legacy-php/README.md, "Sessions: the format other code may write"), in the format
 * of the monolith's session.serialize_handler.
 */
export function loggedInSessionData(user: { legacyId: string; username: string }, format: SessionFormat): Buffer {
  const id = Number(user.legacyId);
  if (!/^[1-9][0-9]*$/.test(user.legacyId) || !Number.isSafeInteger(id)) throw new RangeError('the legacy id is not an integer PHP can hold');
  return encodePhpSession([
    [format.keys.userId, id],
    [format.keys.login, user.username],
  ], format.serialize_handler);
}

/**
 * The user id a session is logged in as, by legacy-php auth.php's current_user() rule (a
 * non-empty id and a set login, under the mapping's keys), held to what login_user() writes: a
 * positive int and a string. Anything else, including data the strict decoder refuses, is nobody
 * (undefined). Read only as the monolith's handler writes: under another handler's rules a string
 * value could pass for session variables.
 */
export function loggedInUserId(data: Buffer, format: SessionFormat): number | undefined {
  let session: Map<string, PhpValue>;
  try {
    session = decodePhpSession(data, format.serialize_handler);
  } catch (error) {
    if (error instanceof PhpSessionFormatError) return undefined;
    throw error;
  }
  const id = session.get(format.keys.userId);
  const login = session.get(format.keys.login);
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0 || typeof login !== 'string') return undefined;
  return id;
}
