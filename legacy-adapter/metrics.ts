import { Counter, Histogram, type Registry } from 'prom-client';
import { createPasswordVerifyMetrics } from '../lib/password-metrics.ts';

export interface AdapterMetrics {
  authentications: Counter<'result' | 'scheme'>;
  lookups: Counter<'kind' | 'result'>;
  verifyDuration: Histogram<'scheme'>;
  unreadableHashes: Counter<'code'>;
  passwordWrites: Counter<'result'>;
  dummyVerifies: Counter<'scheme'>;
}

/** The legacy-adapter's own metrics, on the service registry (GET /metrics). */
export function createAdapterMetrics(registry: Registry): AdapterMetrics {
  return {
    authentications: new Counter({
      name: 'legacy_adapter_authentications_total',
      help: 'Legacy logins checked, by result (success, wrong_password, not_found, inactive, unreadable_hash, empty_password, unavailable, busy) and legacy scheme',
      labelNames: ['result', 'scheme'] as const,
      registers: [registry],
    }),
    lookups: new Counter({
      name: 'legacy_adapter_lookups_total',
      help: 'Legacy user look-ups (for password reset), by kind (login, email) and result (found, not_found, unavailable)',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    passwordWrites: new Counter({
      name: 'legacy_adapter_password_writes_total',
      help: 'Dual-write password writes into the legacy table, by result (applied; duplicate, stale: no-ops; not_found, cannot_write, unavailable)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    dummyVerifies: new Counter({
      name: 'legacy_adapter_dummy_verifies_total',
      help: "Logins that matched no legacy row and spent a real row's verify instead (so they take as long as a wrong password), by the scheme spent",
      labelNames: ['scheme'] as const,
      registers: [registry],
    }),
    ...createPasswordVerifyMetrics(registry, {
      verifyDuration: 'legacy_adapter_verify_duration_seconds',
      unreadableHashes: 'legacy_adapter_unreadable_hashes_total',
      where: 'legacy',
    }),
  };
}
