import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
import { createPasswordVerifyMetrics } from '../../lib/password-metrics.ts';
import { WEAK_SCHEMES } from '../../lib/passwords/index.ts';

/** How one password check of the login service ended (a label of idp_logins_total); the login form counts its submissions apart (interactions/login-form-metrics.ts). */
export type PasswordLoginOutcome =
  | 'success'
  | 'wrong_password'
  | 'unknown_user'
  | 'inactive'
  | 'unreadable_hash'
  | 'legacy_unavailable'
  /** Every password hashing thread busy and the queue full: not decided, try again. */
  | 'busy'
  | 'invalid_input'
  | 'error';

export interface PasswordLoginMetrics {
  logins: Counter<'result' | 'scheme' | 'source' | 'dry_run'>;
  upgrades: Counter<'from_scheme' | 'result'>;
  legacyLookups: Counter<'result'>;
  verifyDuration: Histogram<'scheme'>;
  unreadableHashes: Counter<'code'>;
}

export interface PasswordLoginMetricsOptions {
  /** Users per stored scheme; read on scrape, at most every `cacheMs`. */
  countByScheme(): Promise<Map<string, number>>;
  cacheMs?: number;
  logger?: Logger;
}

/** The idp's login metrics, on the service registry (GET /metrics). */
export function createPasswordLoginMetrics(registry: Registry, options: PasswordLoginMetricsOptions): PasswordLoginMetrics {
  const cacheMs = options.cacheMs ?? 15_000;
  let cached: { at: number; counts: Map<string, number> } | undefined;
  // One count serves both gauges; a scrape must not fail because the database hiccupped, so
  // the last figures are kept (undefined only before the first success).
  async function counts(): Promise<Map<string, number> | undefined> {
    if (!cached || Date.now() - cached.at >= cacheMs) {
      try {
        cached = { at: Date.now(), counts: await options.countByScheme() };
      } catch (error) {
        options.logger?.warn({ err: error }, 'cannot count users by password scheme');
      }
    }
    return cached?.counts;
  }
  new Gauge({
    name: 'idp_users_by_password_scheme',
    help: 'Users in the idp store per stored password scheme: every scheme but pbkdf2-sha256 is a user still to migrate',
    labelNames: ['scheme'] as const,
    registers: [registry],
    async collect() {
      const current = await counts();
      if (!current) return;
      this.reset();
      for (const [scheme, count] of current) this.set({ scheme }, count);
    },
  });
  new Gauge({
    name: 'idp_users_weak_password_hashes',
    help: 'Users whose stored hash is still a cheap legacy one (digests, DES and md5 crypt, phpass), neither wrapped in PBKDF2 nor upgraded: the target is 0 after npm run wrap:hashes',
    registers: [registry],
    async collect() {
      const current = await counts();
      if (current) this.set(WEAK_SCHEMES.reduce((sum, scheme) => sum + (current.get(scheme) ?? 0), 0));
    },
  });
  return {
    logins: new Counter({
      name: 'idp_logins_total',
      help: 'Password logins, by result, stored scheme, source (idp store or legacy) and dry_run (shadow checks)',
      labelNames: ['result', 'scheme', 'source', 'dry_run'] as const,
      registers: [registry],
    }),
    upgrades: new Counter({
      name: 'idp_password_upgrades_total',
      help: 'Hashes moved to PBKDF2 at login, by the scheme they came from and result (upgraded, imported, lost_race, failed)',
      labelNames: ['from_scheme', 'result'] as const,
      registers: [registry],
    }),
    legacyLookups: new Counter({
      name: 'idp_legacy_lookups_total',
      help: 'Logins the idp asked the legacy-adapter about, by result (found, rejected, unavailable)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    ...createPasswordVerifyMetrics(registry, {
      verifyDuration: 'idp_password_verify_duration_seconds',
      unreadableHashes: 'idp_unreadable_hashes_total',
      where: 'stored',
    }),
  };
}
