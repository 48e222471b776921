// The two gauges every outbox shows on a dashboard: how many rows wait, and how long the oldest
// has waited. Both are read at scrape time, from one query per scrape.
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
import type { PendingStats } from './table.ts';

export interface BacklogGauges {
  /** The outbox, as the warning says it ("the mail outbox"). */
  what: string;
  backlog: { name: string; help: string };
  oldest: { name: string; help: string };
  stats(): Promise<PendingStats>;
  logger?: Logger;
}

export function registerBacklogGauges(registry: Registry, options: BacklogGauges): void {
  if (registry.getSingleMetric(options.backlog.name)) return;
  // The registry collects both gauges concurrently: they share the query in flight.
  let inFlight: Promise<PendingStats | undefined> | undefined;
  const stats = (): Promise<PendingStats | undefined> =>
    (inFlight ??= options
      .stats()
      .catch((error: unknown) => {
        // A scrape must not fail because the database hiccupped: the gauges keep their last value.
        options.logger?.warn({ err: error }, `cannot read ${options.what} for metrics`);
        return undefined;
      })
      .finally(() => {
        inFlight = undefined;
      }));
  new Gauge({
    ...options.backlog,
    registers: [registry],
    async collect() {
      const s = await stats();
      if (s) this.set(s.backlog);
    },
  });
  new Gauge({
    ...options.oldest,
    registers: [registry],
    async collect() {
      const s = await stats();
      if (s) this.set(s.oldestPendingAt === null ? 0 : Math.max(0, (Date.now() - s.oldestPendingAt) / 1000));
    },
  });
}
