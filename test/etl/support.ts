// Shared set-up of the batch migration tests: a legacy database with the sample monolith's
// schema, a synthetic population of legacy users (mixed schemes, some broken rows, each with
// the reason it must be dead-lettered), and the idp the migration imports into: a real idp
// (test/support/idp.ts) on a migrated store the tests read, with the ETL's own store beside it.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { hashSync } from '@node-rs/bcrypt';
import { createLegacyAdapterClient } from '../../idp/adapter-client/client.ts';
import { createLoginService } from '../../idp/login/index.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { createUserStore } from '../../idp/users/store.ts';
import { loadMapping } from '../../legacy-adapter/mapping-format/index.ts';
import { createIdpImportClient, migrateEtlStore, type DeadLetterReason, type IdpImportClient } from '../../legacy-adapter/etl/index.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { fingerprintKey } from '../../legacy-adapter/directory/fingerprint.ts';
import { migrate, type Knex } from '../../lib/db.ts';
import { createLogger } from '../../lib/logger.ts';
import { createDatabaseOfKind, type TestDatabase } from '../../scripts/support/databases.ts';
import { repoRoot } from '../../scripts/support/processes.ts';
import { vector } from '../../scripts/support/legacy-hashes.ts';

export const MAPPING_FILE = join(repoRoot, 'legacy-adapter/mappings/legacy-php.yaml');
export const mapping = loadMapping(MAPPING_FILE);
export const ADAPTER_SECRET = 'test-etl-legacy-adapter-secret-0123456789';
/** The key the adapter and the migrate command derive from ADAPTER_SECRET. */
export const FINGERPRINT_KEY = fingerprintKey({ LEGACY_ADAPTER_SECRET: ADAPTER_SECRET });

/** The vector of `scheme` for the demo password. */
export const fixture = (scheme: string) => vector(scheme);

export interface LegacyUserRow {
  user_id: number;
  user_login: string;
  user_email: string;
  user_pass: string;
  user_salt: string | null;
  is_active: number;
  display_name: string;
  updated_at: string | null;
}

/** One generated legacy user and what the migration must make of it. */
export interface GeneratedUser {
  row: LegacyUserRow;
  /** The password that verifies against row.user_pass (good rows only). */
  password: string;
  /** The scheme the idp must record (good rows only). */
  scheme: string;
  /** Set for a broken row: the reason it must be dead-lettered. */
  deadLetter?: DeadLetterReason;
}

const hex = (algorithm: string, text: string) => createHash(algorithm).update(text, 'utf8').digest('hex');

// A handful of bcrypt cost-4 hashes, reused: hashing one per row would make the seed slow for
// nothing (the migration never verifies hashes). PHP writes $2y$, the same algorithm as $2b$.
let bcryptPool: { password: string; hash: string }[] | undefined;
function bcryptHash(i: number) {
  bcryptPool ??= Array.from({ length: 4 }, (_, k) => ({ password: `bcrypt-pw-${k}`, hash: hashSync(`bcrypt-pw-${k}`, 4).replace(/^\$2b\$/, '$2y$') }));
  return bcryptPool[i % bcryptPool.length]!;
}

function goodUser(i: number): GeneratedUser {
  const password = `pw-${i}`;
  const salt = randomBytes(4).toString('hex');
  const row: LegacyUserRow = {
    user_id: i,
    user_login: `user${i}`,
    // Mixed case: the idp must compare e-mails case-insensitively.
    user_email: i % 3 === 0 ? `User${i}@Example.TEST` : `user${i}@example.test`,
    user_pass: '',
    user_salt: null,
    is_active: i % 97 === 0 ? 0 : 1,
    display_name: `User ${i}`,
    updated_at: null,
  };
  const make = (scheme: string, hash: string, rowSalt: string | null = null, pw = password): GeneratedUser => ({
    row: { ...row, user_pass: hash, user_salt: rowSalt },
    password: pw,
    scheme,
  });
  if (i % 500 === 9) {
    const v = fixture('phpass-portable-P');
    return make('phpass-portable-P', v.hash, null, v.password);
  }
  if (i % 500 === 19) {
    const v = fixture('crypt-sha512');
    return make('crypt-sha512', v.hash, null, v.password);
  }
  if (i % 100 === 29) {
    const b = bcryptHash(i);
    return make('bcrypt-2y', b.hash, null, b.password);
  }
  // The sample monolith's bare digests are its salted schemes with a NULL salt taken as ''.
  switch (i % 6) {
    case 0:
      return make('md5(salt.password)', hex('md5', password));
    case 1:
      return make('md5(salt.password)', hex('md5', salt + password), salt);
    case 2:
      return make('sha1(salt.password)', hex('sha1', password));
    case 3:
      return make('sha1(salt.password)', hex('sha1', salt + password), salt);
    case 4:
      return make('sha256(salt.password)', hex('sha256', password));
    default:
      return make('sha256(salt.password)', hex('sha256', salt + password), salt);
  }
}

/**
 * `count` legacy users, ids 1..count. About one row in 250 is broken, with the reason the
 * migration must give: no login, an invalid e-mail, an e-mail an older row already has (in
 * another case), or a hash no scheme recognises.
 */
export function generateUsers(count: number): GeneratedUser[] {
  const users: GeneratedUser[] = [];
  // Empty, tab and newline are distinct under the monolith's unique utf8mb4_unicode_ci login.
  const blankLogins = ['', '\t', '\n'];
  const invalidEmails = ['no-at-sign.example.test', 'user@', 'two words@example.test', '@example.test', 'a@b@example.test'];
  const badHashes = ['garbage!', '$9$abcdefghijklmnop', 'abcd1234', 'a'.repeat(33), '   '];
  let broken = 0;
  for (let i = 1; i <= count; i++) {
    const user = goodUser(i);
    if (i % 250 === 125 && i > 1) {
      const kind = broken++ % 4;
      if (kind === 0 && blankLogins.length) {
        const login = blankLogins.shift()!;
        user.row = { ...user.row, user_login: login, user_email: login === '\n' ? '  ' : '' };
        user.deadLetter = 'no_login';
      } else if (kind === 1 || kind === 0) {
        user.row = { ...user.row, user_email: invalidEmails[broken % invalidEmails.length]!.replace('user', `user${i}`) };
        user.deadLetter = 'invalid_email';
      } else if (kind === 2) {
        // The previous row is always a good one here: its address, shouted.
        const older = users[users.length - 1]!;
        user.row = { ...user.row, user_email: older.row.user_email.toUpperCase() };
        user.deadLetter = 'email_taken';
      } else {
        user.row = { ...user.row, user_pass: badHashes[broken % badHashes.length]!, user_salt: null };
        user.deadLetter = 'unrecognised_hash';
      }
    }
    users.push(user);
  }
  return users;
}

export async function insertLegacyUsers(knex: Knex, users: readonly GeneratedUser[]): Promise<void> {
  // 500: SQLite's limit on the terms of the compound SELECT knex inserts several rows with.
  for (let i = 0; i < users.length; i += 500) await knex('users').insert(users.slice(i, i + 500).map((u) => u.row));
}

export const IMPORT_SECRET = 'test-etl-idp-internal-secret-0123456789abcdef';

/** The idp the migration imports into, and the ETL's own store. */
export interface ImportTarget extends TestDatabase {
  /** The ETL's store (dead letters, checkpoints), migrated. */
  etl: Knex;
  /** runMigration's `idp` and `etl`. */
  target: { idp: IdpImportClient; etl: Knex };
  /** The migrate command's environment for this idp and store. */
  env: Record<string, string>;
  idp: TestIdp;
}

/**
 * A fresh idp store, migrated as the idp migrates it, with a real idp serving its import port,
 * and a fresh ETL store of the same kind. `drop()` stops the idp and drops both stores.
 */
export async function createIdpStore(kind: 'sqlite' | 'mysql' = 'mysql'): Promise<ImportTarget> {
  const db = await createDatabaseOfKind(kind, 'idm_etl_idp');
  const store = await createDatabaseOfKind(kind, 'idm_etl_store');
  try {
    await migrate(db.knex, idpMigrations);
    await migrateEtlStore(store.knex);
    const idp = await startTestIdp({ storage: { db: kind, redis: false }, database: db, env: { IDP_INTERNAL_SECRET: IMPORT_SECRET } });
    const client = createIdpImportClient({ baseUrl: idp.url, secret: IMPORT_SECRET });
    return {
      ...db,
      etl: store.knex,
      target: { idp: client, etl: store.knex },
      env: { IDP_INTERNAL_URL: idp.url, IDP_INTERNAL_SECRET: IMPORT_SECRET, LEGACY_ETL_DATABASE_URL: store.url },
      idp,
      async drop() {
        await idp.stop();
        await Promise.all([db.drop(), store.drop()]);
      },
    };
  } catch (error) {
    await Promise.all([db.drop(), store.drop()]);
    throw error;
  }
}

export const TEST_POLICY = { iterations: 1000, keyLength: 32, saltLength: 16 };

/** The cheapest wrapping allowed: the format and the code paths are those of the default. */
export const TEST_WRAP_ITERATIONS = 1000;

/**
 * The idp's just-in-time login over the idp store. `adapterUrl`: a running legacy-adapter for
 * users the idp does not know yet; by default none answers (only imported users can log in).
 */
export function loginServiceFor(idp: Knex, adapterUrl = 'http://127.0.0.1:9') {
  const logger = createLogger('etl-test', 'silent');
  const users = createUserStore(idp, { logger });
  const login = createLoginService({
    users,
    legacy: createLegacyAdapterClient({ baseUrl: adapterUrl, secret: ADAPTER_SECRET, timeoutMs: 5000 }),
    policy: TEST_POLICY,
    logger,
  });
  return { login, users };
}

export interface CliRun {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** The migrate command as ops run it: its own process, configured by environment. */
export function spawnMigrate(args: string[], env: Record<string, string>): { child: ReturnType<typeof spawn>; done: Promise<CliRun> } {
  return spawnEtlCommand('legacy-adapter/cli/migrate.ts', args, env);
}

/** One of the batch migration's commands (legacy-adapter/cli/), in its own process. */
export function spawnEtlCommand(script: string, args: string[], env: Record<string, string>): { child: ReturnType<typeof spawn>; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
      LEGACY_MAPPING_FILE: MAPPING_FILE,
      LEGACY_WRAP_ITERATIONS: String(TEST_WRAP_ITERATIONS),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((resolve) => child.once('exit', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr })));
  return { child, done };
}

/** A wrapped hash without its random salt and key: two wraps of one legacy hash compare equal. */
export const wrappedShape = (hash: unknown): unknown =>
  typeof hash === 'string' ? hash.replace(/^(\$wrapped-pbkdf2-sha256\$[^$]+)\$[^$]+\$[^$]+\$/, '$1$*$*$') : hash;

/** Everything the migration decides about the idp and its dead letters, keyed by legacy id: for comparing two runs. */
export async function idpState(target: ImportTarget): Promise<{ users: Record<string, unknown>[]; deadLetters: Record<string, unknown>[] }> {
  const users = (await target
    .knex('users')
    .select(
      'legacy_id',
      'username',
      'username_normalized',
      'email',
      'email_normalized',
      'name',
      'active',
      'password_hash',
      'password_salt',
      'password_scheme',
      'password_candidates',
      'password_encodings',
      'legacy_fingerprint',
    )
    .orderBy('legacy_id')) as Record<string, unknown>[];
  const deadLetters = (await target
    .etl('legacy_etl_dead_letters')
    .select('source', 'legacy_id', 'reason', 'detail')
    .orderBy(['source', 'legacy_id'])) as Record<string, unknown>[];
  return { users: users.map((u) => ({ ...u, active: Number(u.active), password_hash: wrappedShape(u.password_hash) })), deadLetters };
}
