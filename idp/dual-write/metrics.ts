import { LEGACY_ADAPTER_ERRORS } from '../../contracts/legacy-adapter-api.ts';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
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

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

/** The dual-write metrics on the idp's registry (GET /metrics); the gauges read the outbox at scrape time. */
export function createDualWriteMetrics(registry: Registry, options: DualWriteMetricsOptions): DualWriteMetrics {
  const written =
    existing<Counter>(registry, 'idp_dual_write_events_written_total') ??
    new Counter({
      name: 'idp_dual_write_events_written_total',
      help: 'Outbox events written for the legacy site (password changes of users with a legacy id)',
      registers: [registry],
    });
  const relayed =
    existing<Counter<'result'>>(registry, 'idp_dual_write_events_relayed_total') ??
    new Counter({
      name: 'idp_dual_write_events_relayed_total',
      help: 'Outbox events the legacy-adapter settled, by result (applied; duplicate: applied before; stale: a newer event was applied)',
      labelNames: ['result'] as const,
      registers: [registry],
    });
  const failed =
    existing<Counter<'reason'>>(registry, 'idp_dual_write_attempts_failed_total') ??
    new Counter({
      name: 'idp_dual_write_attempts_failed_total',
      help: 'Relay attempts that failed and will be retried, by reason (timeout, unreachable, http_<status>:<adapter error>)',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
  const dead =
    existing<Counter<'reason'>>(registry, 'idp_dual_write_events_dead_total') ??
    new Counter({
      name: 'idp_dual_write_events_dead_total',
      help: 'Outbox events given up, never to reach the legacy site, by reason (legacy_user_not_found, max_attempts)',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
  // Zero from the start, so the alert's increase() sees the first dead event.
  for (const reason of [LEGACY_ADAPTER_ERRORS.legacyUserNotFound, 'max_attempts'] satisfies DeadReason[]) dead.inc({ reason }, 0);
  const pruned =
    existing<Counter>(registry, 'idp_dual_write_rows_pruned_total') ??
    new Counter({
      name: 'idp_dual_write_rows_pruned_total',
      help: 'Settled (relayed or dead) outbox rows deleted after IDP_DUAL_WRITE_RETENTION_DAYS',
      registers: [registry],
    });

  // One query serves both gauges of a scrape (the registry collects them concurrently).
  let inFlight: Promise<OutboxStats | undefined> | undefined;
  const stats = (): Promise<OutboxStats | undefined> =>
    (inFlight ??= options
      .stats()
      .catch((error: unknown) => {
        // A scrape must not fail because the database hiccupped: the gauges keep their last value.
        options.logger?.warn({ err: error }, 'cannot read the dual-write outbox for metrics');
        return undefined;
      })
      .finally(() => {
        inFlight = undefined;
      }));
  if (!existing(registry, 'idp_dual_write_backlog')) {
    new Gauge({
      name: 'idp_dual_write_backlog',
      help: 'Outbox events not yet relayed to the legacy site',
      registers: [registry],
      async collect() {
        const s = await stats();
        if (s) this.set(s.backlog);
      },
    });
    new Gauge({
      name: 'idp_dual_write_lag_seconds',
      help: 'Age of the oldest outbox event not yet relayed (0 when none is pending)',
      registers: [registry],
      async collect() {
        const s = await stats();
        if (s) this.set(s.oldestPendingAt === null ? 0 : Math.max(0, (Date.now() - s.oldestPendingAt) / 1000));
      },
    });
  }
  return {
    written: () => written.inc(),
    relayed: (result) => relayed.inc({ result }),
    failed: (reason) => failed.inc({ reason }),
    dead: (reason) => dead.inc({ reason }),
    pruned: (rows) => pruned.inc(rows),
  };
}
