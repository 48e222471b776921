import type { ReadinessCheck } from '../lib/health.ts';

/** Readiness of another HTTP service: any answer below 500 from `url` within the timeout. */
export function upstreamCheck(name: string, url: string, timeoutMs = 2_000): ReadinessCheck {
  return {
    name,
    async check() {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      await res.body?.cancel();
      if (res.status >= 500) throw new Error(`answered ${res.status}`);
    },
  };
}
