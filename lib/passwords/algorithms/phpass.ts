import { hash } from 'node:crypto';
import { ITOA64, phpassB64 } from './crypt-base64.ts';

export interface PhpassSetting {
  prefix: '$P$' | '$H$' | '$S$';
  log2: number;
  salt: string;
}

/** Drupal 7 stores only the first 55 characters of "$S$" + count + salt + sha512 digest. */
export const DRUPAL7_HASH_LENGTH = 55;
/** Drupal 7's _password_crypt() refuses longer passwords outright. */
export const DRUPAL7_MAX_PASSWORD_BYTES = 512;

/**
 * Reads "$P$"/"$H$"/"$S$" + count char + 8 salt chars. Returns null where phpass and Drupal
 * return a failure marker instead of a hash (count outside 2^7..2^30, short salt).
 */
export function parsePhpassSetting(setting: string): PhpassSetting | null {
  const prefix = setting.slice(0, 3);
  if (prefix !== '$P$' && prefix !== '$H$' && prefix !== '$S$') return null;
  const log2 = ITOA64.indexOf(setting.charAt(3));
  if (log2 < 7 || log2 > 30) return null;
  const salt = setting.slice(4, 12);
  if (salt.length !== 8) return null;
  return { prefix, log2, salt };
}

/**
 * phpass's portable crypt_private (WordPress "$P$", phpBB "$H$") with md5, and Drupal 7's
 * _password_crypt ("$S$") with sha512: digest(salt . password), then 2^log2 times
 * digest(previous . password), appended to the 12-character setting.
 */
export function phpassCrypt(password: Uint8Array, setting: string): string {
  const parsed = parsePhpassSetting(setting);
  if (!parsed) throw new RangeError('not a valid phpass setting');
  const algorithm = parsed.prefix === '$S$' ? 'sha512' : 'md5';
  const size = algorithm === 'sha512' ? 64 : 16;
  const pw = Buffer.from(password);
  let digest = hash(algorithm, Buffer.concat([Buffer.from(parsed.salt, 'latin1'), pw]), 'buffer');
  // The digest is rewritten in place in front of the password, so each round is one hash call.
  const scratch = Buffer.alloc(size + pw.length);
  pw.copy(scratch, size);
  for (let count = 2 ** parsed.log2; count > 0; count--) {
    digest.copy(scratch, 0);
    digest = hash(algorithm, scratch, 'buffer');
  }
  const full = setting.slice(0, 12) + phpassB64(digest);
  return parsed.prefix === '$S$' ? full.slice(0, DRUPAL7_HASH_LENGTH) : full;
}
