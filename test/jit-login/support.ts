// Shared set-up of the just-in-time login tests: the sample monolith's users table (or the
// forum schema) on a real database, the legacy-adapter as a real HTTP service, the idp store.
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { migrate, type Knex } from '../../lib/db.ts';
import { createLogger } from '../../lib/logger.ts';
import { createLegacyAdapterClient } from '../../idp/adapter-client/client.ts';
import { createPasswordLoginMetrics, createLoginService } from '../../idp/login/index.ts';
import { idpMigrations } from '../../idp/store/migrations/index.ts';
import { createUserStore } from '../../idp/users/store.ts';
import type { UpgradeHooks } from '../../idp/users/types.ts';
import type { TestDatabase } from '../../scripts/support/databases.ts';
import { ADAPTER_SECRET } from '../../scripts/support/legacy-adapter.ts';
import type { SpawnedService } from '../../scripts/support/processes.ts';
import type { LegacyRow } from '../../scripts/support/legacy-users.ts';

/** Low on purpose (tests only); one test runs the production default. */
export const TEST_ITERATIONS = 1000;

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
    metrics: createPasswordLoginMetrics(registry, { countByScheme: () => users.countByPasswordScheme(), cacheMs: 0, logger }),
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
