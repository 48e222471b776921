import type { Logger } from '../lib/logger.ts';
import type { FlaggedRoute } from './flags/table.ts';
import type { Flipper } from './flips.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { AutoRollback } from './routes/file.ts';
import { safeError } from '../lib/safe-error.ts';

/**
 * Watches the new side of one canary route: answers per second over a sliding window; when
 * enough of them are 5xx, flips the route back to legacy (compare-and-set, so a flip an operator
 * made meanwhile wins) and says why in the audit log.
 */
export class RollbackWatch {
  readonly #route: FlaggedRoute;
  readonly #config: AutoRollback;
  readonly #totals: Int32Array;
  readonly #errors: Int32Array;
  readonly #seconds: Float64Array;
  #triggered = false;

  constructor(route: FlaggedRoute, config: AutoRollback) {
    this.#route = route;
    this.#config = config;
    this.#totals = new Int32Array(config.windowSeconds);
    this.#errors = new Int32Array(config.windowSeconds);
    this.#seconds = new Float64Array(config.windowSeconds).fill(-1);
  }

  /** Forgets the window (the route was flipped: what came before says nothing about the new state). */
  reset(): void {
    this.#totals.fill(0);
    this.#errors.fill(0);
    this.#seconds.fill(-1);
    this.#triggered = false;
  }

  /** Records one new-side answer; returns the reason to roll back, once, when the threshold is passed. */
  observe(status: number, nowMs: number): string | undefined {
    const second = Math.floor(nowMs / 1000);
    const slot = second % this.#config.windowSeconds;
    if (this.#seconds[slot] !== second) {
      this.#seconds[slot] = second;
      this.#totals[slot] = 0;
      this.#errors[slot] = 0;
    }
    this.#totals[slot]! += 1;
    if (status >= 500) this.#errors[slot]! += 1;
    if (status < 500 || this.#triggered) return undefined;
    let total = 0;
    let errors = 0;
    const oldest = second - this.#config.windowSeconds;
    for (let i = 0; i < this.#config.windowSeconds; i++) {
      if (this.#seconds[i]! > oldest) {
        total += this.#totals[i]!;
        errors += this.#errors[i]!;
      }
    }
    if (total < this.#config.minRequests || errors / total <= this.#config.errorRate) return undefined;
    this.#triggered = true;
    const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
    return `new side answered 5xx to ${errors} of ${total} requests (${pct(errors / total)}) in the last ${this.#config.windowSeconds} s, over the ${pct(this.#config.errorRate)} threshold of route "${this.#route.name}"`;
  }
}

export function createAutoRollback(deps: { flip: Flipper; metrics: GatewayMetrics; logger: Logger }) {
  return async function rollBack(route: FlaggedRoute, reason: string): Promise<void> {
    const current = route.flag.state;
    if (current.mode !== 'canary') return;
    try {
      const result = await deps.flip({ route: route.name, to: { mode: 'legacy' }, actor: 'auto-rollback', via: 'auto-rollback', reason, ifCurrently: current });
      if (result.ok) {
        deps.metrics.rolledBack(route.name);
        deps.logger.warn({ route: route.name, reason }, 'automatic rollback to legacy');
      }
    } catch (error) {
      deps.logger.error({ route: route.name, err: safeError(error) }, 'automatic rollback failed; will try again on the next 5xx');
      throw error;
    }
  };
}
