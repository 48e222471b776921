import { Counter, Histogram, type Registry } from 'prom-client';

export interface AdapterMetrics {
  authentications: Counter<'result' | 'scheme'>;
  lookups: Counter<'kind' | 'result'>;
  verifyDuration: Histogram<'scheme'>;
  unreadableHashes: Counter<'code'>;
}

/** The legacy-adapter's own metrics, on the service registry (GET /metrics). */
export function createAdapterMetrics(registry: Registry): AdapterMetrics {
  return {
    authentications: new Counter({
      name: 'legacy_adapter_authentications_total',
      help: 'Legacy logins checked, by result (success, wrong_password, not_found, inactive, unreadable_hash, empty_password, unavailable) and legacy scheme',
      labelNames: ['result', 'scheme'] as const,
      registers: [registry],
    }),
    lookups: new Counter({
      name: 'legacy_adapter_lookups_total',
      help: 'Legacy user look-ups (for password reset), by kind (login, email) and result (found, not_found, unavailable)',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    verifyDuration: new Histogram({
      name: 'legacy_adapter_verify_duration_seconds',
      help: 'Time to verify one legacy password hash, by scheme',
      labelNames: ['scheme'] as const,
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    unreadableHashes: new Counter({
      name: 'legacy_adapter_unreadable_hashes_total',
      help: 'Legacy rows whose hash no scheme can verify (empty, unrecognised, malformed, cost-limit, missing-salt, unsupported)',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
}
