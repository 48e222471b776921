// The batched metric handles must end up exactly where prom-client's own calls would: the same
// exposition text for the same counts and observations, whenever /metrics is read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { MetricBatch } from '../../lib/metric-batch.ts';

function pair(batched: boolean) {
  const registry = new Registry();
  const batch = new MetricBatch();
  const collect = batched ? () => batch.flush() : undefined;
  const counter = new Counter({ name: 'c_total', help: 'c', labelNames: ['route'] as const, registers: [registry], collect });
  const histogram = new Histogram({
    name: 'h_seconds',
    help: 'h',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.01, 0.1, 1],
    registers: [registry],
    collect,
  });
  const count = batched ? batch.counter(counter.labels('a')) : counter.labels('a');
  const observe = batched ? batch.histogram(histogram.labels('a')) : histogram.labels('a');
  return { registry, inc: () => count.inc(), observe: (v: number) => observe.observe(v) };
}

test('batched counts and observations read the same as direct prom-client calls, at any moment', async () => {
  const direct = pair(false);
  const batched = pair(true);
  // More observations than one batch holds, and scrapes in between (some with nothing pending).
  const values = Array.from({ length: 1_300 }, (_, i) => ((i * 7919) % 1000) / 700);
  for (const [i, v] of values.entries()) {
    for (const side of [direct, batched]) {
      side.inc();
      side.observe(v);
    }
    if (i % 389 === 0 || i === values.length - 1) {
      assert.equal(await batched.registry.metrics(), await direct.registry.metrics(), `after ${i + 1} observations`);
      assert.equal(await batched.registry.metrics(), await direct.registry.metrics(), 'a second scrape changes nothing');
    }
  }
  assert.match(await batched.registry.metrics(), /c_total\{route="a"\} 1300/);
  assert.match(await batched.registry.metrics(), /h_seconds_count\{route="a"\} 1300/);
});

test('a batch with nothing pending leaves the metric at zero, and flush is idempotent', async () => {
  const batched = pair(true);
  assert.match(await batched.registry.metrics(), /# TYPE c_total counter/);
  assert.doesNotMatch(await batched.registry.metrics(), /c_total\{route="a"\} [1-9]/);
  batched.inc();
  assert.match(await batched.registry.metrics(), /c_total\{route="a"\} 1\n/);
  assert.match(await batched.registry.metrics(), /c_total\{route="a"\} 1\n/);
});
