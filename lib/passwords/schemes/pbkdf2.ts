import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { constantTimeEqual } from '../bytes.ts';
import { UnverifiableHashError } from '../errors.ts';
import { DEFAULT_COST_LIMITS } from '../limits.ts';
import type { HashingScheme, Pbkdf2Policy } from '../types.ts';
import { libuvGate } from '../workers/gate.ts';

export const pbkdf2Async = promisify(pbkdf2);

export const PBKDF2_SCHEME = 'pbkdf2-sha256';
const PREFIX = `$${PBKDF2_SCHEME}$`;

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256, a 32-byte key and a 16-byte salt. */
export const DEFAULT_PBKDF2_POLICY: Readonly<Pbkdf2Policy> = Object.freeze({ iterations: 600_000, keyLength: 32, saltLength: 16 });

export interface Pbkdf2Hash {
  iterations: number;
  salt: Buffer;
  key: Buffer;
}

const SHAPE = /^\$pbkdf2-sha256\$i=([1-9]\d{0,9}),l=([1-9]\d{0,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

// Standard base64 without padding is what Ory Kratos and Auth0 import; only the canonical
// spelling is accepted so that one hash has exactly one string.
export const toB64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64').replace(/=+$/, '');
export function fromB64(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64');
  return toB64(bytes) === text ? bytes : null;
}

/** Reads `$pbkdf2-sha256$i=<iterations>,l=<key bytes>$<salt>$<key>`; null if it is not one. */
export function parsePbkdf2(hash: string): Pbkdf2Hash | null {
  const match = SHAPE.exec(hash);
  if (!match) return null;
  const [, iterations = '', keyLength = '', salt = '', key = ''] = match;
  const saltBytes = fromB64(salt);
  const keyBytes = fromB64(key);
  if (!saltBytes || !keyBytes || keyBytes.length !== Number(keyLength)) return null;
  return { iterations: Number(iterations), salt: saltBytes, key: keyBytes };
}

export function formatPbkdf2({ iterations, salt, key }: Pbkdf2Hash): string {
  return `${PREFIX}i=${iterations},l=${key.length}$${toB64(salt)}$${toB64(key)}`;
}

/** Throws RangeError for a policy that would write weak or nonsensical hashes. */
export function checkPolicy(policy: Pbkdf2Policy): Pbkdf2Policy {
  const { iterations, keyLength, saltLength } = policy;
  const isInt = (n: number, min: number, max: number): boolean => Number.isInteger(n) && n >= min && n <= max;
  if (!isInt(iterations, 1, 100_000_000)) throw new RangeError('policy.iterations must be an integer from 1 to 100000000');
  if (!isInt(keyLength, 16, 64)) throw new RangeError('policy.keyLength must be an integer from 16 to 64');
  if (!isInt(saltLength, 8, 64)) throw new RangeError('policy.saltLength must be an integer from 8 to 64');
  return policy;
}

export async function hashPbkdf2(password: string, policy: Pbkdf2Policy = DEFAULT_PBKDF2_POLICY): Promise<string> {
  checkPolicy(policy);
  if (password === '') throw new RangeError('refusing to hash an empty password');
  const salt = randomBytes(policy.saltLength);
  const key = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, policy.iterations, policy.keyLength, 'sha256');
  return formatPbkdf2({ iterations: policy.iterations, salt, key });
}

/** True unless the hash is PBKDF2 at or above the policy's iterations, key and salt length. */
export function pbkdf2NeedsRehash(hash: string, policy: Pbkdf2Policy = DEFAULT_PBKDF2_POLICY): boolean {
  checkPolicy(policy);
  const parsed = parsePbkdf2(hash);
  return !parsed || parsed.iterations < policy.iterations || parsed.key.length !== policy.keyLength || parsed.salt.length < policy.saltLength;
}

/**
 * The cost of verifying a policy-strength PBKDF2 hash, spent for a login that has no account,
 * so that "no such user" and "wrong password" take about as long.
 */
export async function dummyPbkdf2(policy: Pbkdf2Policy = DEFAULT_PBKDF2_POLICY): Promise<void> {
  checkPolicy(policy);
  // Through the same gate as a real verify: were only real ones refused when busy, a refusal
  // would say the account exists.
  const key = await libuvGate.run(() => pbkdf2Async('dummy password', randomBytes(policy.saltLength), policy.iterations, policy.keyLength, 'sha256'));
  timingSafeEqual(key, Buffer.alloc(key.length));
}

export const pbkdf2Scheme: HashingScheme = {
  name: PBKDF2_SCHEME,
  kind: 'self-describing',
  salted: false,
  identify: (hash) => hash.startsWith(PREFIX),
  async verify(password, hash, context = {}) {
    const parsed = parsePbkdf2(hash);
    if (!parsed) throw new UnverifiableHashError('malformed', PBKDF2_SCHEME, 'not a canonical PHC pbkdf2-sha256 string');
    // Work grows with the number of 32-byte output blocks as well as with the iterations.
    const work = parsed.iterations * Math.ceil(parsed.key.length / 32);
    const limit = (context.limits ?? DEFAULT_COST_LIMITS).pbkdf2Iterations;
    if (work > limit) throw new UnverifiableHashError('cost-limit', PBKDF2_SCHEME, `i=${parsed.iterations} exceeds the limit of ${limit}`);
    const key = await libuvGate.run(() => pbkdf2Async(password, parsed.salt, parsed.iterations, parsed.key.length, 'sha256'));
    return constantTimeEqual(key, parsed.key);
  },
  hash: hashPbkdf2,
};
