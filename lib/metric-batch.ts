import type { Counter, Histogram } from 'prom-client';

/** A counter child as the hot path holds it: one increment, no label lookup. */
export interface CounterHandle {
  inc(): void;
}

/** A histogram child as the hot path holds it. */
export interface HistogramHandle {
  observe(value: number): void;
}

const BATCH = 512;

/**
 * Counts and observations for the hottest paths, handed to their prom-client metrics in batches.
 * prom-client validates and hashes the labels and allocates on every call, even on a cached child;
 * on the gateway's proxy path four such calls a request cost about a sixth of its CPU
 * (docs/PERFORMANCE.md). Here a call is an addition or an array store; the pending values reach
 * prom-client when an array fills and before every scrape (the metrics' `collect` hook calls
 * `flush`), so what /metrics shows is exact.
 */
export class MetricBatch {
  readonly #counters: PendingCount[] = [];
  readonly #histograms: PendingObservations[] = [];

  counter(child: Counter.Internal): CounterHandle {
    const pending = new PendingCount(child);
    this.#counters.push(pending);
    return pending;
  }

  histogram(child: Histogram.Internal<string>): HistogramHandle {
    const pending = new PendingObservations(child);
    this.#histograms.push(pending);
    return pending;
  }

  /** Applies everything pending (idempotent: a second call finds nothing). */
  flush(): void {
    for (const counter of this.#counters) counter.flush();
    for (const histogram of this.#histograms) histogram.flush();
  }
}

class PendingCount implements CounterHandle {
  readonly #child: Counter.Internal;
  #count = 0;

  constructor(child: Counter.Internal) {
    this.#child = child;
  }

  inc(): void {
    this.#count++;
  }

  flush(): void {
    if (this.#count === 0) return;
    const count = this.#count;
    this.#count = 0;
    this.#child.inc(count);
  }
}

class PendingObservations implements HistogramHandle {
  readonly #child: Histogram.Internal<string>;
  readonly #values = new Float64Array(BATCH);
  #length = 0;

  constructor(child: Histogram.Internal<string>) {
    this.#child = child;
  }

  observe(value: number): void {
    this.#values[this.#length++] = value;
    if (this.#length === BATCH) this.flush();
  }

  flush(): void {
    const n = this.#length;
    this.#length = 0;
    for (let i = 0; i < n; i++) this.#child.observe(this.#values[i]!);
  }
}
