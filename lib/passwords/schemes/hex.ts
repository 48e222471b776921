import { hash } from 'node:crypto';
import { constantTimeEqual } from '../bytes.ts';
import { UnverifiableHashError } from '../errors.ts';
import type { PasswordScheme } from '../types.ts';

type Compute = (password: Buffer, salt: Buffer) => Buffer;

const digest = (algorithm: 'md5' | 'sha1' | 'sha256') => (data: Buffer) => hash(algorithm, data, 'buffer');
const md5 = digest('md5');
const sha1 = digest('sha1');
const sha256 = digest('sha256');

function hexScheme(name: string, hexLength: number, salted: boolean, compute: Compute): PasswordScheme {
  // PHP's md5()/sha1() print lowercase, but rows edited by hand or by other tools may be upper.
  const shape = new RegExp(`^[0-9a-fA-F]{${hexLength}}$`);
  const digestOf = (password: Uint8Array, salt: Uint8Array | null | undefined): Buffer => {
    if (salted && salt == null) throw new UnverifiableHashError('missing-salt', name, 'the row has no salt');
    return compute(Buffer.from(password), Buffer.from(salt ?? []));
  };
  return {
    name,
    kind: 'bare-hex',
    salted,
    identify: (stored) => shape.test(stored),
    async verify(password, stored, context = {}) {
      if (!shape.test(stored)) throw new UnverifiableHashError('malformed', name, `expected ${hexLength} hex digits`);
      return constantTimeEqual(digestOf(password, context.salt), Buffer.from(stored, 'hex'));
    },
    // A digest has no setting: the salt, if any, stays in the row's salt column.
    wrapping: {
      settingOf: (stored) => (shape.test(stored) ? '' : null),
      validSetting: (setting) => setting === '',
      canonical: (stored) => stored.toLowerCase(),
      compute: (password, _setting, context) => digestOf(password, context.salt).toString('hex'),
    },
  };
}

/** Names follow the PHP expression that produced them; "." is PHP's string concatenation. */
export const hexSchemes: readonly PasswordScheme[] = [
  hexScheme('md5', 32, false, (pw) => md5(pw)),
  hexScheme('sha1', 40, false, (pw) => sha1(pw)),
  hexScheme('sha256', 64, false, (pw) => sha256(pw)),
  hexScheme('md5(salt.password)', 32, true, (pw, salt) => md5(Buffer.concat([salt, pw]))),
  hexScheme('md5(password.salt)', 32, true, (pw, salt) => md5(Buffer.concat([pw, salt]))),
  hexScheme('sha1(salt.password)', 40, true, (pw, salt) => sha1(Buffer.concat([salt, pw]))),
  // The sample monolith's salted partner-SSO rows: hash('sha256', $salt . $pw).
  hexScheme('sha256(salt.password)', 64, true, (pw, salt) => sha256(Buffer.concat([salt, pw]))),
  // The inner md5() returns lowercase hex text, and that text is what gets hashed again.
  hexScheme('md5(md5(password))', 32, false, (pw) => md5(Buffer.from(md5(pw).toString('hex'), 'latin1'))),
];
