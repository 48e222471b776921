import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MetricBatch, type CounterHandle, type HistogramHandle } from './metric-batch.ts';

export interface HttpMetrics {
  registry: Registry;
  /** Records one finished request under a low-cardinality route label. */
  observe(req: IncomingMessage, res: ServerResponse, route: string, seconds: number): void;
  /** The same, from the values themselves. */
  record(route: string, method: string, status: number, seconds: number): void;
}

export function createMetrics(service: string): HttpMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const batch = new MetricBatch();
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
    collect: () => batch.flush(),
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
    collect: () => batch.flush(),
  });
  // Per route, method and status: a counter and a histogram handle, looked up without building a key.
  const children = new Map<string, Map<string, Map<number, { count: CounterHandle; time: HistogramHandle }>>>();
  function record(route: string, method: string, status: number, seconds: number): void {
    let byMethod = children.get(route);
    if (!byMethod) children.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (!child) {
      const labels = { route, method, status: String(status) };
      byStatus.set(status, (child = { count: batch.counter(requests.labels(labels)), time: batch.histogram(duration.labels(labels)) }));
    }
    child.count.inc();
    child.time.observe(seconds);
  }
  return {
    registry,
    record,
    observe(req, res, route, seconds) {
      record(route, req.method ?? 'GET', res.statusCode, seconds);
    },
  };
}

/** The counter of that name on the registry, made if it is not there yet: a service's parts may be mounted more than once on one registry (tests). */
export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}
