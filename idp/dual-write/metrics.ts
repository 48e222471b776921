import { LEGACY_ADAPTER_ERRORS } from '../../contracts/legacy-adapter-api.ts';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
import { counter } from '../../lib/metrics.ts';
import { registerBacklogGauges } from '../outbox/metrics.ts';
import type { DeadReason, OutboxStats } from './outbox.ts';

export interface DualWriteMetrics {
  written(): void;
  relayed(result: 'applied' | 'duplicate' | 'stale'): void;
  failed(reason: string): void;
  dead(reason: DeadReason): void;
  pruned(rows: number): void;
}

export interface DualWriteMetricsOptions {
  stats(): Promise<OutboxStats>;
  logger?: Logger;
}

/** The dual-write metrics on the idp's registry (GET /metrics); the gauges read the outbox at scrape time. */
export function createDualWriteMetrics(registry: Registry, options: DualWriteMetricsOptions): DualWriteMetrics {
  const written = counter(
    registry,
    'idp_dual_write_events_written_total',
    'Outbox events written for the legacy site (password changes of users with a legacy id)',
  );
  const relayed = counter(
    registry,
    'idp_dual_write_events_relayed_total',
    'Outbox events the legacy-adapter settled, by result (applied; duplicate: applied before; stale: a newer event was applied)',
    ['result'] as const,
  );
  const failed = counter(
    registry,
    'idp_dual_write_attempts_failed_total',
    'Relay attempts that failed and will be retried, by reason (timeout, unreachable, http_<status>:<adapter error>)',
    ['reason'] as const,
  );
  const dead = counter(
    registry,
    'idp_dual_write_events_dead_total',
    'Outbox events given up, never to reach the legacy site, by reason (legacy_user_not_found, max_attempts)',
    ['reason'] as const,
  );
  // Zero from the start, so the alert's increase() sees the first dead event.
  for (const reason of [LEGACY_ADAPTER_ERRORS.legacyUserNotFound, 'max_attempts'] satisfies DeadReason[]) dead.inc({ reason }, 0);
  const pruned = counter(registry, 'idp_dual_write_rows_pruned_total', 'Settled (relayed or dead) outbox rows deleted after IDP_DUAL_WRITE_RETENTION_DAYS');

  registerBacklogGauges(registry, {
    what: 'the dual-write outbox',
    backlog: { name: 'idp_dual_write_backlog', help: 'Outbox events not yet relayed to the legacy site' },
    oldest: { name: 'idp_dual_write_lag_seconds', help: 'Age of the oldest outbox event not yet relayed (0 when none is pending)' },
    ...options,
  });
  return {
    written: () => written.inc(),
    relayed: (result) => relayed.inc({ result }),
    failed: (reason) => failed.inc({ reason }),
    dead: (reason) => dead.inc({ reason }),
    pruned: (rows) => pruned.inc(rows),
  };
}
