import { createHash } from 'node:crypto';
import { permutedB64 } from './crypt-base64.ts';

const MAGIC = '$1$';
const GROUPS = [
  [0, 6, 12],
  [1, 7, 13],
  [2, 8, 14],
  [3, 9, 15],
  [4, 10, 5],
] as const;
const TAIL = [-1, -1, 11, 2] as const;

/**
 * PHP's crypt() for "$1$" settings (php_md5_crypt_r, the FreeBSD md5-crypt). The password is
 * the C string PHP passes in; the salt is up to 8 characters and stops at '$'.
 */
export function md5Crypt(password: Uint8Array, setting: string): string {
  if (!setting.startsWith(MAGIC)) throw new RangeError('not an md5-crypt setting');
  const rest = setting.slice(MAGIC.length);
  const end = rest.indexOf('$');
  const salt = Buffer.from(rest.slice(0, Math.min(8, end === -1 ? rest.length : end)), 'latin1');
  const pw = Buffer.from(password);

  const alternate = createHash('md5').update(pw).update(salt).update(pw).digest();
  const ctx = createHash('md5').update(pw).update(MAGIC).update(salt);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(alternate.subarray(0, Math.min(left, 16)));
  // The historical quirk: a zero byte for set bits, the first password byte for clear ones.
  for (let i = pw.length; i > 0; i >>>= 1) ctx.update(i & 1 ? Buffer.alloc(1) : pw.subarray(0, 1));
  let digest = ctx.digest();

  for (let i = 0; i < 1000; i++) {
    const round = createHash('md5');
    round.update(i & 1 ? pw : digest);
    if (i % 3) round.update(salt);
    if (i % 7) round.update(pw);
    round.update(i & 1 ? digest : pw);
    digest = round.digest();
  }
  return `${MAGIC}${salt.toString('latin1')}$${permutedB64(digest, GROUPS, TAIL)}`;
}
