// The work a login that matches no legacy row does instead of verifying one, so that "no such
// user" takes as long as "wrong password" and nobody can probe which accounts exist.
//
// Comparable to what? The legacy table mixes schemes whose costs differ by 10^5 (md5 against
// bcrypt), so no single dummy matches every account: the most expensive scheme would make every
// cheaper account stand out as faster than an unknown one, the median would make half of them
// stand out. Instead, an unknown login verifies against the hash of a real row: a sample of the
// newest rows, one picked per login by a keyed digest of the login, with a random password of
// the same shape. An unknown login then costs what some real account costs, the same one on
// every try (a random pick per try would vary where a real account does not), and without the
// key nobody can tell which.
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { boundQuery, withDeadline, type Knex } from '../../lib/db.ts';
import { hashPhpBcrypt, identifyScheme, verifyPassword, type StoredPassword } from '../../lib/passwords/index.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';

/** Rows sampled: enough to carry the table's mix of schemes and costs. */
export const DUMMY_SAMPLE_SIZE = 64;
/** New sign-ups and password changes shift the mix; the sample follows them this often. */
const SAMPLE_TTL_MS = 10 * 60_000;

interface Exemplar extends StoredPassword {
  scheme: string;
}

export interface DummyVerifier {
  /** Spends a real row's verify on a password like `password`; resolves with the scheme spent (for metrics). */
  spend(login: string, password: string): Promise<string>;
}

export interface DummyVerifierOptions {
  mapping: LegacyMapping;
  /** Picks the row per login; a secret, so the pick cannot be predicted. */
  key: string;
  timeoutMs: number;
  /** The salt a row is verified with (the directory's rule for NULL salts). */
  saltOf(row: { salt: string | null }): string | null;
}

const randomIn = (low: number, high: number): number => low + randomInt(high - low + 1);

/**
 * A fresh random password that costs what `password` costs: each UTF-16 unit replaced by a random
 * one of the same kind (NUL kept, ASCII, Latin-1, two- and three-byte UTF-8, each surrogate half),
 * so its bytes have the same length in every encoding and the same encodings apply. The real
 * password is never used: it could match the borrowed row, and a match returns sooner than a
 * mismatch (no further encodings tried), which would let anyone test guesses against that row.
 */
export function lookalikePassword(password: string): string {
  const drawn = drawLookalike(password);
  // A short password's draw can come out as the password itself (1 in 94 for one ASCII
  // character): draw again, so the sent password is never the one hashed (NULs alone stay NULs).
  return drawn === password && /[^\0]/.test(password) ? lookalikePassword(password) : drawn;
}

function drawLookalike(password: string): string {
  let out = '';
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i);
    const r =
      c === 0
        ? 0
        : c < 0x80
          ? randomIn(0x21, 0x7e)
          : c < 0x100
            ? randomIn(0xa0, 0xff)
            : c < 0x800
              ? randomIn(0x100, 0x7ff)
              : c >= 0xd800 && c < 0xdc00
                ? randomIn(0xd800, 0xdbff)
                : c >= 0xdc00 && c < 0xe000
                  ? randomIn(0xdc00, 0xdfff)
                  : randomIn(0x800, 0xd7ff);
    out += String.fromCharCode(r);
  }
  return out;
}

const asText = (value: unknown): string | null =>
  value === null || value === undefined ? null : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);

export function createDummyVerifier(knex: Knex, options: DummyVerifierOptions): DummyVerifier {
  const { mapping, key, timeoutMs, saltOf } = options;
  const verifyOptions = { candidates: mapping.passwords.hexCandidates, encodings: mapping.passwords.encodings };
  let sample: { rows: Exemplar[]; until: number } | undefined;
  let fallback: Promise<Exemplar> | undefined;

  async function readSample(): Promise<Exemplar[]> {
    const { id, hash, salt } = mapping.columns;
    const selection: Record<string, string> = { hash, ...(salt ? { salt } : {}) };
    const query = () => boundQuery(knex, knex(mapping.table).select(selection).whereNotNull(hash).orderBy(id, 'desc').limit(DUMMY_SAMPLE_SIZE), timeoutMs);
    const raw = (await withDeadline(timeoutMs, query)) as Record<string, unknown>[];
    const rows: Exemplar[] = [];
    for (const row of raw) {
      const storedHash = asText(row.hash);
      const scheme = storedHash ? identifyScheme(storedHash, mapping.passwords.hexCandidates) : null;
      // Unreadable rows are left out: they fail at once, and are a problem to fix, not a cost to copy.
      if (storedHash && scheme) rows.push({ hash: storedHash, salt: saltOf({ salt: asText(row.salt) }), scheme });
    }
    return rows;
  }

  async function exemplars(): Promise<Exemplar[]> {
    if (sample && sample.until > Date.now()) return sample.rows;
    try {
      sample = { rows: await readSample(), until: Date.now() + SAMPLE_TTL_MS };
      return sample.rows;
    } catch {
      // The look-up before this one just worked, so this is a blip: spend the fallback, read again next time.
      return sample?.rows ?? [];
    }
  }

  // An empty table: PHP's own default, a bcrypt hash of cost 10, of a password nobody knows.
  const bcryptFallback = (): Promise<Exemplar> =>
    (fallback ??= hashPhpBcrypt(randomBytes(16).toString('base64')).then((hash) => ({ hash, salt: null, scheme: 'bcrypt-2y' })));

  return {
    async spend(login, password) {
      const rows = await exemplars();
      const pick = createHmac('sha256', key).update('dummy-verify-v1\0').update(login.trim().toLowerCase()).digest().readUInt32BE(0);
      const exemplar = rows.length ? (rows[pick % rows.length] as Exemplar) : await bcryptFallback();
      await verifyPassword(lookalikePassword(password), exemplar, verifyOptions);
      return exemplar.scheme;
    },
  };
}
