import type { ReadinessCheck } from '../../lib/health.ts';

export interface SwapResult {
  /** False when `expected` was given and the stored flag no longer matched it. */
  swapped: boolean;
  /** The raw stored value before the swap (undefined: there was none). */
  previous: string | undefined;
}

/**
 * Where route flags live. Values are raw JSON text: validating them is the flag table's job,
 * because a store shared with other replicas (and other versions) may hold anything.
 */
export interface FlagStore {
  readonly kind: 'redis' | 'memory';
  readAll(): Promise<Map<string, string>>;
  read(route: string): Promise<string | undefined>;
  /**
   * Replaces a route's flag and tells every replica. With `expected`, only if the stored value
   * still is `expected.raw` (or missing, when `expected.orMissing`): a compare-and-set.
   */
  swap(route: string, next: string, expected?: { raw: string; orMissing: boolean }): Promise<SwapResult>;
  /** Called with a route name whenever any replica changed that route's flag. */
  onChange(listener: (route: string) => void): void;
  /** Whether the store answers, for the dependency gauge; never readiness (flags are served from memory). */
  probes: ReadinessCheck[];
  close(): Promise<void>;
}
