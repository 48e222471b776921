import { Counter, Histogram, type Registry } from 'prom-client';

export interface PasswordVerifyMetrics {
  verifyDuration: Histogram<'scheme'>;
  unreadableHashes: Counter<'code'>;
}

/**
 * The two password-verification metrics every service that checks hashes exposes (the idp for
 * its own store, the legacy-adapter for the legacy table): one definition, so both keep the same
 * buckets and reasons and a dashboard can put them side by side.
 */
export function createPasswordVerifyMetrics(
  registry: Registry,
  names: { verifyDuration: string; unreadableHashes: string; where: string },
): PasswordVerifyMetrics {
  return {
    verifyDuration: new Histogram({
      name: names.verifyDuration,
      help: `Time to verify one ${names.where} password hash, by scheme`,
      labelNames: ['scheme'] as const,
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    unreadableHashes: new Counter({
      name: names.unreadableHashes,
      help: `${names.where} hashes no scheme can verify, by code (empty, unrecognised, malformed, cost-limit, missing-salt, unsupported)`,
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
}
