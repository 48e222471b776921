import { genSalt, hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';
import { cString } from '../bytes.ts';
import { PasswordWorkersBusyError, UnverifiableHashError } from '../errors.ts';
import { DEFAULT_COST_LIMITS } from '../limits.ts';
import type { PasswordScheme } from '../types.ts';
import { libuvGate } from '../workers/gate.ts';

/** bcrypt keys Blowfish with at most 72 bytes; PHP silently ignores the rest. */
export const BCRYPT_MAX_PASSWORD_BYTES = 72;

/**
 * crypt_blowfish's $2a$ countermeasure (BF_set_key in PHP's crypt_blowfish.c): when 8-bit
 * password bytes would have been sign-extended but that happens to leave the key unchanged,
 * PHP flips a key bit so the $2a$ hash matches neither the old buggy nor the correct
 * algorithm. @node-rs/bcrypt computes the correct one, so such a $2a$ hash cannot be checked.
 * Only byte 0xFF (Latin-1 "ÿ") before an 8-bit byte can trigger it; UTF-8 never contains 0xFF.
 */
export function hitsBcrypt2aSafetyQuirk(key: Uint8Array): boolean {
  let sign = 0;
  let diff = 0;
  let at = 0;
  for (let word = 0; word < 18; word++) {
    let correct = 0;
    let buggy = 0;
    for (let j = 0; j < 4; j++) {
      const byte = key[at] ?? 0;
      correct = (correct << 8) | byte;
      buggy = (buggy << 8) | (byte >= 0x80 ? byte - 0x100 : byte);
      if (j > 0) sign |= buggy & 0x80;
      // The key is used cyclically, its terminating NUL included.
      at = at < key.length ? at + 1 : 0;
    }
    diff |= correct ^ buggy;
  }
  return sign !== 0 && diff === 0;
}

function bcryptScheme(version: '2a' | '2b' | '2y'): PasswordScheme {
  const name = `bcrypt-${version}`;
  const prefix = `$${version}$`;
  const shape = new RegExp(`^\\$${version}\\$(\\d\\d)\\$[./A-Za-z0-9]{53}$`);
  return {
    name,
    kind: 'self-describing',
    salted: false,
    identify: (hash) => hash.startsWith(prefix),
    async verify(password, hash, context = {}) {
      const cost = Number(shape.exec(hash)?.[1] ?? NaN);
      if (!(cost >= 4 && cost <= 31)) throw new UnverifiableHashError('malformed', name, 'not a bcrypt hash PHP accepts');
      const limit = (context.limits ?? DEFAULT_COST_LIMITS).bcryptCost;
      if (cost > limit) throw new UnverifiableHashError('cost-limit', name, `cost ${cost} exceeds the limit of ${limit}`);
      // PHP hands crypt_blowfish a C string: it ends at a NUL and only 72 bytes are used. We cut
      // it ourselves rather than rely on the library doing the same.
      const key = cString(password).subarray(0, BCRYPT_MAX_PASSWORD_BYTES);
      if (version === '2a' && hitsBcrypt2aSafetyQuirk(key)) {
        throw new UnverifiableHashError('unsupported', name, "password hits crypt_blowfish's $2a$ 8-bit safety path");
      }
      try {
        return await libuvGate.run(() => bcryptVerify(key, hash));
      } catch (error) {
        if (error instanceof PasswordWorkersBusyError) throw error;
        throw new UnverifiableHashError('malformed', name, 'rejected by the bcrypt library');
      }
    },
  };
}

export const bcryptSchemes: readonly PasswordScheme[] = [bcryptScheme('2y'), bcryptScheme('2b'), bcryptScheme('2a')];

/** PHP's PASSWORD_BCRYPT default cost (before PHP 8.4 raised it to 12). */
export const PHP_BCRYPT_DEFAULT_COST = 10;

/**
 * A `$2y$` hash of the password as PHP's `password_verify` reads it: UTF-8 bytes cut at the
 * first NUL and at 72 bytes, exactly what the verifier above keys Blowfish with. For writing a
 * password back to a legacy PHP site (dual-write); the idp itself never stores bcrypt.
 */
export async function hashPhpBcrypt(password: string, cost: number = PHP_BCRYPT_DEFAULT_COST): Promise<string> {
  if (!Number.isInteger(cost) || cost < 4 || cost > DEFAULT_COST_LIMITS.bcryptCost) {
    throw new RangeError(`bcrypt cost must be an integer from 4 to ${DEFAULT_COST_LIMITS.bcryptCost}`);
  }
  const key = cString(Buffer.from(password, 'utf8')).subarray(0, BCRYPT_MAX_PASSWORD_BYTES);
  const hashed = await bcryptHash(key, cost, await genSalt(cost, '2y'));
  // The library's version argument is trusted nowhere else either: PHP must see $2y$.
  if (!hashed.startsWith('$2y$')) throw new Error('bcrypt library did not produce a $2y$ hash');
  return hashed;
}
