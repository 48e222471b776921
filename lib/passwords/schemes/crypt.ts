import { cString } from '../bytes.ts';
import { desCrypt } from '../algorithms/des-crypt.ts';
import { parseShaCryptSetting } from '../algorithms/sha-crypt.ts';
import { UnverifiableHashError } from '../errors.ts';
import type { CostLimits, PasswordScheme } from '../types.ts';
import { runInWorker } from '../workers/pool.ts';
import { cryptLikeScheme } from './crypt-like.ts';

// PHP passes the password to crypt() as a C string, so every crypt(3) scheme ends at a NUL.

export const desCryptScheme = cryptLikeScheme({
  name: 'crypt-des',
  identify: (hash) => /^[./0-9A-Za-z]{13}$/.test(hash),
  shape: /^[./0-9A-Za-z]{13}$/,
  // Twenty-five DES blocks take microseconds, so a thread hop would cost more than it saves.
  compute: (password, hash) => desCrypt(cString(password), hash),
  wrap: { settingLength: () => 2, settingShape: /^[./0-9A-Za-z]{2}$/ },
});

export const md5CryptScheme = cryptLikeScheme({
  name: 'crypt-md5',
  identify: (hash) => hash.startsWith('$1$'),
  shape: /^\$1\$[^$]{0,8}\$[./0-9A-Za-z]{22}$/,
  compute: (password, hash) => runInWorker({ algorithm: 'md5-crypt', password: cString(password), setting: hash }),
  // "$1$<salt>$": md5Crypt reads the salt up to the '$', so the setting alone recomputes the hash.
  wrap: { settingLength: (hash) => hash.lastIndexOf('$') + 1, settingShape: /^\$1\$[^$]{0,8}\$$/ },
});

function checkShaCrypt(name: string) {
  return (hash: string, limits: CostLimits): void => {
    const setting = parseShaCryptSetting(hash);
    if (!setting) throw new UnverifiableHashError('malformed', name, 'rounds= is outside 1000..999999999, which PHP refuses');
    if (setting.rounds !== null && setting.rounds > limits.shaCryptRounds) {
      throw new UnverifiableHashError('cost-limit', name, `rounds=${setting.rounds} exceeds the limit of ${limits.shaCryptRounds}`);
    }
  };
}

function shaCryptScheme(name: string, prefix: '$5$' | '$6$', digestChars: number): PasswordScheme {
  return cryptLikeScheme({
    name,
    identify: (hash) => hash.startsWith(prefix),
    shape: new RegExp(`^\\${prefix.slice(0, 2)}\\$(?:rounds=\\d+\\$)?[^$]{0,16}\\$[./0-9A-Za-z]{${digestChars}}$`),
    check: checkShaCrypt(name),
    compute: (password, hash) => runInWorker({ algorithm: 'sha-crypt', password: cString(password), setting: hash }),
  });
}

export const sha256CryptScheme = shaCryptScheme('crypt-sha256', '$5$', 43);
export const sha512CryptScheme = shaCryptScheme('crypt-sha512', '$6$', 86);
