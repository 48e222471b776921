import { DRUPAL7_MAX_PASSWORD_BYTES, parsePhpassSetting } from '../algorithms/phpass.ts';
import { UnverifiableHashError } from '../errors.ts';
import type { CostLimits, PasswordScheme } from '../types.ts';
import { runInWorker } from '../workers/pool.ts';
import { cryptLikeScheme } from './crypt-like.ts';

function checkCount(name: string) {
  return (hash: string, limits: CostLimits): void => {
    const setting = parsePhpassSetting(hash);
    if (!setting) throw new UnverifiableHashError('malformed', name, 'iteration count is outside 2^7..2^30');
    if (setting.log2 > limits.phpassLog2) {
      throw new UnverifiableHashError('cost-limit', name, `2^${setting.log2} iterations exceed the limit of 2^${limits.phpassLog2}`);
    }
  };
}

// phpass hashes the whole PHP string with md5(), so unlike crypt() a NUL byte does not end it.
function phpassScheme(name: string, prefix: '$P$' | '$H$'): PasswordScheme {
  return cryptLikeScheme({
    name,
    identify: (hash) => hash.startsWith(prefix),
    shape: new RegExp(`^\\$${prefix[1]}\\$[./0-9A-Za-z]{31}$`),
    check: checkCount(name),
    compute: (password, hash) => runInWorker({ algorithm: 'phpass', password, setting: hash }),
    // Prefix, count character and 8 salt characters: phpassCrypt reads nothing more.
    wrap: { settingLength: () => 12, settingShape: new RegExp(`^\\$${prefix[1]}\\$[./0-9A-Za-z]{9}$`) },
  });
}

/** WordPress. */
export const phpassPScheme = phpassScheme('phpass-portable-P', '$P$');
/** phpBB 3. */
export const phpassHScheme = phpassScheme('phpass-portable-H', '$H$');

/** Drupal 7: phpass's construction with sha512, stored truncated to 55 characters. */
export const drupal7Scheme = cryptLikeScheme({
  name: 'drupal7-sha512',
  identify: (hash) => hash.startsWith('$S$'),
  shape: /^\$S\$[./0-9A-Za-z]{52}$/,
  check: checkCount('drupal7-sha512'),
  compute: (password, hash) =>
    // Drupal's _password_crypt() returns FALSE for these instead of hashing them.
    password.length > DRUPAL7_MAX_PASSWORD_BYTES ? '' : runInWorker({ algorithm: 'phpass', password, setting: hash }),
});
