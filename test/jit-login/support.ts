// Shared set-up of the just-in-time login tests: the sample monolith's users table (or the
// forum schema) on a real database, the legacy-adapter as a real HTTP service, the idp store.
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { migrate, type Knex } from '../../lib/db.ts';
import { createLogger } from '../../lib/logger.ts';
import { createLegacyAdapterClient } from '../../idp/legacy/client.ts';
import { createLoginMetrics, createLoginService } from '../../idp/login/index.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { createUserStore } from '../../idp/users/store.ts';
import type { UpgradeHooks } from '../../idp/users/types.ts';
import type { TestDatabase } from '../../scripts/support/databases.ts';
import { ADAPTER_SECRET } from '../support/legacy-adapter.ts';
import type { SpawnedService } from '../../scripts/support/processes.ts';
import { PASSWORD, vector, vectors } from '../../scripts/support/legacy-hashes.ts';
import type { LegacyUserRow } from '../../scripts/seed-legacy-users.ts';
export { createLegacyPhpSchema } from '../support/legacy-php.ts';

export { PASSWORD, vector, vectors };
/** Low on purpose (tests only); one test runs the production default. */
export const TEST_ITERATIONS = 1000;


/** A row of the sample monolith's users table (one definition: the seeding script's). */
export type LegacyRow = LegacyUserRow;

// Every scheme the sample monolith's includes/password.php accepts, as PHP wrote it (fixtures).
// Bare hex rows have a NULL salt, which the monolith concatenates as ''.
const SCHEME_USERS: [string, string][] = [
  ['u_md5', 'md5'],
  ['u_md5salt', 'md5(salt.password)'],
  ['u_sha1', 'sha1'],
  ['u_sha1salt', 'sha1(salt.password)'],
  ['u_sha256', 'sha256'],
  ['u_des', 'crypt-des'],
  ['u_md5crypt', 'crypt-md5'],
  ['u_sha256crypt', 'crypt-sha256'],
  ['u_sha512crypt', 'crypt-sha512'],
  ['u_sha512rounds', 'crypt-sha512-rounds'],
  ['u_bcrypt2y', 'bcrypt-2y'],
  ['u_bcrypt2a', 'bcrypt-2a'],
  ['u_argon2id', 'argon2id'],
  ['u_argon2i', 'argon2i'],
  ['u_phpassP', 'phpass-portable-P'],
  ['u_phpassH', 'phpass-portable-H'],
];

export const schemeUsers: LegacyRow[] = SCHEME_USERS.map(([login, scheme]) => {
  const v = vector(scheme);
  return { user_login: login, user_email: `${login}@example.com`, user_pass: v.hash, user_salt: v.salt, is_active: 1, display_name: `User ${scheme}` };
});

export function legacyRow(login: string, hash: string, extra: Partial<LegacyRow> = {}): LegacyRow {
  return { user_login: login, user_email: `${login}@example.com`, user_pass: hash, user_salt: null, is_active: 1, display_name: login, ...extra };
}


export async function insertLegacyRows(knex: Knex, rows: LegacyRow[]): Promise<void> {
  for (const row of rows) await knex('users').insert(row);
}

export async function legacyIdOf(knex: Knex, login: string): Promise<string> {
  const row = (await knex('users').where('user_login', login).first('user_id')) as { user_id: number } | undefined;
  if (!row) throw new Error(`no legacy row ${login}`);
  return String(row.user_id);
}

export interface LoginRig {
  login: ReturnType<typeof createLoginService>;
  users: ReturnType<typeof createUserStore>;
  registry: Registry;
  metricsText(): Promise<string>;
}

/** The idp's login service over a migrated idp database and an adapter URL, as idp/app.ts builds it. */
export async function createLoginRig(
  idpDb: TestDatabase,
  adapterUrl: string,
  options: { iterations?: number; hooks?: UpgradeHooks; timeoutMs?: number } = {},
): Promise<LoginRig> {
  await migrate(idpDb.knex, idpMigrations);
  const logger = createLogger('idp-test', 'silent');
  const registry = new Registry();
  const users = createUserStore(idpDb.knex, { logger, hooks: options.hooks });
  const login = createLoginService({
    users,
    legacy: createLegacyAdapterClient({ baseUrl: adapterUrl, secret: ADAPTER_SECRET, timeoutMs: options.timeoutMs ?? 5000 }),
    policy: { iterations: options.iterations ?? TEST_ITERATIONS, keyLength: 32, saltLength: 16 },
    metrics: createLoginMetrics(registry, { countByScheme: () => users.countByPasswordScheme(), cacheMs: 0, logger }),
    logger,
    hooks: options.hooks,
  });
  return { login, users, registry, metricsText: () => registry.metrics() };
}

/**
 * A spawned service's output once it has logged `pattern`: its log lines travel through a pipe,
 * so they can arrive after the HTTP answer that followed them. Fails after `timeoutMs`.
 */
export async function outputOnceLogged(service: SpawnedService, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(service.output())) {
    if (Date.now() > deadline) throw new Error(`${pattern} was not logged within ${timeoutMs} ms:\n${service.output()}`);
    await sleep(50);
  }
  return service.output();
}
