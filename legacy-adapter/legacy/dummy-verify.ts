// The work a login that matches no legacy row does instead of verifying one, so that "no such
// user" takes as long as "wrong password" and nobody can probe which accounts exist.
//
// Comparable to what? The legacy table mixes schemes whose costs differ by 10^5 (md5 against
// bcrypt), so no single dummy matches every account: the most expensive scheme would make every
// cheaper account stand out as faster than an unknown one, the median would make half of them
// stand out. Instead, an unknown login verifies against the hash of a real row: a sample of the
// newest rows, one picked per login by a keyed digest of the login. An unknown login then costs
// what some real account costs, the same one on every try (a random pick per try would vary
// where a real account does not), and without the key nobody can tell which.
import { createHmac, randomBytes } from 'node:crypto';
import { boundQuery, withDeadline, type Knex } from '../../lib/db.ts';
import { hashPhpBcrypt, identifyScheme, verifyPassword, type StoredPassword } from '../../lib/passwords/index.ts';
import type { LegacyMapping } from '../mapping/index.ts';

/** Rows sampled: enough to carry the table's mix of schemes and costs. */
export const DUMMY_SAMPLE_SIZE = 64;
/** New sign-ups and password changes shift the mix; the sample follows them this often. */
const SAMPLE_TTL_MS = 10 * 60_000;

interface Exemplar extends StoredPassword {
  scheme: string;
}

export interface DummyVerifier {
  /** Spends a real row's verify on `password`; resolves with the scheme spent (for metrics). */
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
      await verifyPassword(password, exemplar, verifyOptions);
      return exemplar.scheme;
    },
  };
}
