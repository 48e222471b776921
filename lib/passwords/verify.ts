import { encodePassword } from './bytes.ts';
import { UnverifiableHashError } from './errors.ts';
import { DEFAULT_COST_LIMITS, MAX_PASSWORD_BYTES } from './limits.ts';
import { matchingCandidates, resolveCandidates, selfDescribingScheme } from './registry.ts';
import { pbkdf2NeedsRehash } from './schemes/pbkdf2.ts';
import type { CostLimits, PasswordEncoding, Pbkdf2Policy } from './types.ts';

export type VerifyFailureReason = 'empty' | 'unrecognised' | 'unverifiable' | 'mismatch';

export interface StoredPassword {
  hash: string | null | undefined;
  /** The separate salt column, for the salted bare-hex schemes. */
  salt?: string | null;
}

export interface VerifyOptions {
  /** Bare-hex scheme names to try, in order, for a hash without a prefix (from the schema mapping). */
  candidates?: readonly string[];
  /** How the legacy site may have encoded passwords, tried in order. Default ['utf8']. */
  encodings?: readonly PasswordEncoding[];
  /** Overrides for the work-factor ceilings above which a hash is refused. */
  limits?: Partial<CostLimits>;
  /** The PBKDF2 policy that needsRehash is judged against. */
  policy?: Pbkdf2Policy;
}

export interface VerifyResult {
  ok: boolean;
  /** The scheme that matched; when none did, the scheme the hash was identified as, or null. */
  scheme: string | null;
  /** True only when ok and the hash is not PBKDF2 at policy strength: store hashPassword() now. */
  needsRehash: boolean;
  /** Set exactly when ok is false. */
  reason?: VerifyFailureReason;
  /** Set exactly when ok: the encoding whose bytes matched. */
  encoding?: PasswordEncoding;
  /** For 'unrecognised' and 'unverifiable': what is wrong, safe to log (holds no hash or password). */
  error?: UnverifiableHashError;
}

const ENCODINGS: readonly PasswordEncoding[] = ['utf8', 'latin1'];
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

function checkEncodings(encodings: readonly PasswordEncoding[]): readonly PasswordEncoding[] {
  if (encodings.length === 0 || encodings.some((e) => !ENCODINGS.includes(e))) {
    throw new RangeError(`encodings must be a non-empty list of ${ENCODINGS.join(', ')}`);
  }
  return encodings;
}

function failure(reason: VerifyFailureReason, scheme: string | null, error?: UnverifiableHashError): VerifyResult {
  return error ? { ok: false, scheme, needsRehash: false, reason, error } : { ok: false, scheme, needsRehash: false, reason };
}

/**
 * Checks a password against a stored hash of any known scheme. Problems with the stored hash
 * (empty, garbage, unknown prefix, absurd cost) come back as ok:false with a reason, never as an
 * exception; only programming errors (unknown candidate or encoding names) and operational
 * failures (worker threads closed) reject.
 */
export async function verifyPassword(password: string, stored: StoredPassword, options: VerifyOptions = {}): Promise<VerifyResult> {
  const candidates = resolveCandidates(options.candidates);
  const encodings = checkEncodings(options.encodings ?? ['utf8']);
  const limits: CostLimits = { ...DEFAULT_COST_LIMITS, ...options.limits };
  const { hash } = stored;
  const salt = stored.salt ?? null;

  if (typeof hash !== 'string' || hash === '') return failure('empty', null);
  const self = selfDescribingScheme(hash);
  const schemes = self ? [self] : matchingCandidates(hash, candidates);
  const identified = schemes[0]?.name ?? null;
  if (!identified) return failure('unrecognised', null, new UnverifiableHashError('unrecognised', null, 'no scheme recognises this hash'));
  if (typeof password !== 'string' || password === '') return failure('empty', identified);
  // Every encoding gives at least one byte per UTF-16 unit, so this one cannot fit any of them.
  if (password.length > MAX_PASSWORD_BYTES) return failure('mismatch', identified);
  if (!PRINTABLE_ASCII.test(hash)) {
    return failure('unverifiable', identified, new UnverifiableHashError('malformed', identified, 'contains characters no scheme writes'));
  }
  const usable = salt === null ? schemes.filter((s) => !s.salted) : schemes;
  if (usable.length === 0) {
    return failure('unverifiable', identified, new UnverifiableHashError('missing-salt', identified, 'the row has no salt'));
  }

  const tried: Buffer[] = [];
  try {
    for (const encoding of encodings) {
      const passwordBytes = encodePassword(password, encoding);
      const saltBytes = salt === null ? null : encodePassword(salt, encoding);
      if (!passwordBytes || (salt !== null && !saltBytes)) continue;
      // Checked on the bytes a scheme would hash, before any scheme runs: see MAX_PASSWORD_BYTES.
      if (passwordBytes.length > MAX_PASSWORD_BYTES) continue;
      // An ASCII password is the same bytes in every encoding; hashing it twice proves nothing.
      const attempt = Buffer.concat([passwordBytes, Buffer.from([0]), saltBytes ?? Buffer.alloc(0)]);
      if (tried.some((t) => t.equals(attempt))) continue;
      tried.push(attempt);
      for (const scheme of usable) {
        if (await scheme.verify(passwordBytes, hash, { salt: saltBytes, limits })) {
          return { ok: true, scheme: scheme.name, needsRehash: pbkdf2NeedsRehash(hash, options.policy), encoding };
        }
      }
    }
  } catch (error) {
    if (error instanceof UnverifiableHashError) return failure('unverifiable', error.scheme ?? identified, error);
    throw error;
  }
  return failure('mismatch', identified);
}
