import type { Logger } from '../../lib/logger.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { describeFlag, parseStoredFlag, sameFlag, type FlagState } from './state.ts';
import type { FlagStore } from './store.ts';

export type FallbackReason = 'missing' | 'unreadable' | 'unavailable';

export interface EffectiveFlag {
  state: FlagState;
  /** `flag`: from the store; `default`: the route file's default, because of `reason`. */
  source: 'flag' | 'default';
  reason?: FallbackReason;
  /** What was wrong with the stored value (unreadable only). */
  problem?: string;
}

export interface FlaggedRoute {
  readonly name: string;
  readonly defaultState: FlagState;
  flag: EffectiveFlag;
}

/**
 * Holds every route's effective flag in memory, so the request path never waits for the store.
 * Fills and refreshes it from the store (at start, on every change notice, and periodically),
 * and falls back to each route's default when its flag is missing or unreadable.
 */
export class FlagTable {
  readonly #routes: Map<string, FlaggedRoute>;
  readonly #store: FlagStore;
  readonly #logger: Logger;
  readonly #metrics: GatewayMetrics;
  readonly #listeners: Array<(route: FlaggedRoute, previous: EffectiveFlag) => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #loaded = false;

  constructor(routes: FlaggedRoute[], store: FlagStore, logger: Logger, metrics: GatewayMetrics) {
    this.#routes = new Map(routes.map((r) => [r.name, r]));
    this.#store = store;
    this.#logger = logger;
    this.#metrics = metrics;
    for (const route of routes) metrics.flagState(route.name, route.flag.state, route.flag.source === 'default');
    store.onChange((name) => {
      if (name === '*') void this.reload();
      else void this.refresh(name);
    });
  }

  get(name: string): FlaggedRoute | undefined {
    return this.#routes.get(name);
  }

  all(): FlaggedRoute[] {
    return [...this.#routes.values()];
  }

  /** Whether every route's flag has been read from the store at least once (or deliberately set to its default, the store being down at start). */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Readiness: this process knows what to serve. Costs no I/O. */
  readinessCheck() {
    return {
      name: 'flags',
      check: async () => {
        if (!this.#loaded) throw new Error('route flags not loaded yet');
      },
    };
  }

  /** Called after a route's effective flag changed (not for no-op refreshes). */
  onApplied(listener: (route: FlaggedRoute, previous: EffectiveFlag) => void): void {
    this.#listeners.push(listener);
  }

  /** Reads every flag; on a store failure keeps what it has (or the defaults, at start). */
  async reload(): Promise<void> {
    let stored: Map<string, string>;
    try {
      stored = await this.#store.readAll();
    } catch (error) {
      this.#metrics.reloads.inc({ result: 'failed' });
      this.#logger.warn({ err: { message: (error as Error).message } }, 'flag store unavailable: keeping the flags already in memory');
      for (const route of this.#routes.values()) {
        if (route.flag.source === 'default' && route.flag.reason === undefined) this.#apply(route, { state: route.defaultState, source: 'default', reason: 'unavailable' });
      }
      this.#loaded = true;
      return;
    }
    this.#metrics.reloads.inc({ result: 'ok' });
    for (const route of this.#routes.values()) this.#apply(route, this.#evaluate(route, stored.get(route.name)));
    this.#loaded = true;
  }

  async refresh(name: string): Promise<void> {
    const route = this.#routes.get(name);
    if (!route) return; // a route another version of the route file has; not ours
    try {
      this.#apply(route, this.#evaluate(route, await this.#store.read(name)));
    } catch (error) {
      this.#logger.warn({ route: name, err: { message: (error as Error).message } }, 'could not read a changed flag; the periodic reload will retry');
    }
  }

  /** Applies a state this replica has just written (no need to wait for its own notice). */
  applyWritten(name: string, state: FlagState): void {
    const route = this.#routes.get(name);
    if (route) this.#apply(route, { state, source: 'flag' });
  }

  startPeriodicReload(everyMs: number): void {
    this.#timer = setInterval(() => void this.reload(), everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #evaluate(route: FlaggedRoute, raw: string | undefined): EffectiveFlag {
    if (raw === undefined) return { state: route.defaultState, source: 'default', reason: 'missing' };
    const parsed = parseStoredFlag(raw);
    if (!parsed.ok) return { state: route.defaultState, source: 'default', reason: 'unreadable', problem: parsed.problem };
    return { state: parsed.state, source: 'flag' };
  }

  #apply(route: FlaggedRoute, next: EffectiveFlag): void {
    const previous = route.flag;
    const sameState = sameFlag(previous.state, next.state);
    if (sameState && previous.source === next.source && previous.reason === next.reason && previous.problem === next.problem) return;
    route.flag = next;
    this.#metrics.flagState(route.name, next.state, next.source === 'default');
    if (next.source === 'default' && next.reason) {
      this.#metrics.fellBack(route.name, next.reason);
      // The stored text is not logged: it is only ever a flag, but it is outside input.
      this.#logger.warn({ route: route.name, reason: next.reason, problem: next.problem, using: describeFlag(next.state) }, `route flag ${next.reason}: using the route's default`);
    }
    if (!sameState) {
      this.#logger.info({ route: route.name, from: describeFlag(previous.state), to: describeFlag(next.state) }, 'route flag applied');
      for (const listener of this.#listeners) listener(route, previous);
    }
  }
}
