import type { Logger } from '../../lib/logger.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { describeFlag, parseStoredFlag, sameFlag, type FlagState } from './state.ts';
import type { FlagStore } from './store.ts';
import { safeError } from '../../lib/safe-error.ts';

export type FallbackReason = 'missing' | 'unreadable' | 'unavailable';

export interface EffectiveFlag {
  state: FlagState;
  /**
   * `flag`: from the store; `audit`: the audit log's last state of the route, because the store
   * has none (`reason` missing) or was unreachable at start (`unavailable`); `default`: the route
   * file's default, because of `reason`.
   */
  source: 'flag' | 'audit' | 'default';
  reason?: FallbackReason;
  /** What was wrong with the stored value (unreadable only). */
  problem?: string;
}

export interface FlaggedRoute {
  readonly name: string;
  readonly defaultState: FlagState;
  flag: EffectiveFlag;
}

/** The audit log's last state of each route (raw text, as the store holds flags). */
export type AuditedStates = () => Promise<Map<string, string>>;

/**
 * A route whose stored flag is not what the audit log last recorded: `missing` (the store lost
 * it, e.g. Redis restarted without persistence) or `unaudited` (it holds a state no audited flip
 * chose, or one whose audit row is still being written).
 */
export interface Drift {
  route: string;
  kind: 'missing' | 'unaudited';
}

/**
 * Holds every route's effective flag in memory, so the request path never waits for the store.
 * Fills and refreshes it from the store (at start, on every change notice, and periodically).
 * The audit log is the record of intent: a flag the store lacks is served as the audit log last
 * recorded it (and reported as a drift, to be restored), else the route's default; an unreadable
 * flag falls back to the default.
 */
export class FlagTable {
  readonly #routes: Map<string, FlaggedRoute>;
  readonly #store: FlagStore;
  readonly #logger: Logger;
  readonly #metrics: GatewayMetrics;
  readonly #audited: AuditedStates | undefined;
  readonly #listeners: Array<(route: FlaggedRoute, previous: EffectiveFlag) => void> = [];
  readonly #drifts: Array<(drift: Drift) => void> = [];
  /** The audit log's states as of the last reload that could read it. */
  #intent: Map<string, FlagState> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;
  #loaded = false;

  constructor(routes: FlaggedRoute[], store: FlagStore, logger: Logger, metrics: GatewayMetrics, audited?: AuditedStates) {
    this.#routes = new Map(routes.map((r) => [r.name, r]));
    this.#store = store;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#audited = audited;
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

  /** Called with each route whose stored flag differs from the audit log, at every reload that sees it. */
  onDrift(listener: (drift: Drift) => void): void {
    this.#drifts.push(listener);
  }

  /**
   * Reads every flag and the audit log's states. On a store failure keeps what it has; at start
   * it serves the audit log's states instead (the defaults where it has none). With neither
   * readable at start it serves the defaults, is not ready, and retries every second.
   */
  async reload(): Promise<void> {
    const [stored, audited] = await Promise.allSettled([this.#store.readAll(), this.#readAudited()]);
    if (audited.status === 'fulfilled') this.#intent = audited.value;
    const intent = audited.status === 'fulfilled' ? audited.value : undefined;
    if (stored.status === 'rejected') {
      this.#metrics.reloads.inc({ result: 'failed' });
      this.#logger.warn({ err: safeError(stored.reason) }, 'flag store unavailable: keeping the flags already in memory');
      for (const route of this.#routes.values()) {
        if (this.#loaded) continue;
        const chosen = intent?.get(route.name);
        if (chosen && !sameFlag(chosen, route.defaultState)) this.#apply(route, { state: chosen, source: 'audit', reason: 'unavailable' });
        else this.#apply(route, { state: route.defaultState, source: 'default', reason: 'unavailable' });
      }
      if (intent) this.#loaded = true;
      else this.#retryUntilLoaded();
      return;
    }
    this.#metrics.reloads.inc({ result: 'ok' });
    for (const route of this.#routes.values()) {
      const raw = stored.value.get(route.name);
      this.#apply(route, this.#evaluate(route, raw, intent));
      if (intent) this.#checkDrift(route, raw, intent);
    }
    this.#loaded = true;
  }

  async refresh(name: string): Promise<void> {
    const route = this.#routes.get(name);
    if (!route) return; // a route another version of the route file has; not ours
    try {
      const raw = await this.#store.read(name);
      this.#apply(route, this.#evaluate(route, raw, this.#intent));
      // A notice comes from a flip whose audit row may not be committed yet: only a missing flag
      // is a drift here; the reloads judge the rest.
      if (raw === undefined && this.#intent) this.#checkDrift(route, raw, this.#intent);
    } catch (error) {
      this.#logger.warn({ route: name, err: safeError(error) }, 'could not read a changed flag; the periodic reload will retry');
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
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#retry);
  }

  async #readAudited(): Promise<Map<string, FlagState> | undefined> {
    if (!this.#audited) return undefined;
    const states = new Map<string, FlagState>();
    for (const [route, raw] of await this.#audited()) {
      const parsed = parseStoredFlag(raw);
      if (parsed.ok) states.set(route, parsed.state);
    }
    return states;
  }

  #retryUntilLoaded(): void {
    if (this.#stopped || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.reload();
    }, 1_000);
    this.#retry.unref();
  }

  /**
   * `intent`: the audit log's states, or undefined when it could not be read (then a flag the
   * store lost keeps what this process already serves, rather than a default nobody chose).
   */
  #evaluate(route: FlaggedRoute, raw: string | undefined, intent: Map<string, FlagState> | undefined): EffectiveFlag {
    if (raw === undefined) {
      const chosen = intent?.get(route.name);
      if (chosen && !sameFlag(chosen, route.defaultState)) return { state: chosen, source: 'audit', reason: 'missing' };
      if (!intent && this.#audited && route.flag.source !== 'default') return route.flag;
      return { state: route.defaultState, source: 'default', reason: 'missing' };
    }
    const parsed = parseStoredFlag(raw);
    if (!parsed.ok) return { state: route.defaultState, source: 'default', reason: 'unreadable', problem: parsed.problem };
    return { state: parsed.state, source: 'flag' };
  }

  #checkDrift(route: FlaggedRoute, raw: string | undefined, intent: Map<string, FlagState>): void {
    const chosen = intent.get(route.name) ?? route.defaultState;
    let kind: Drift['kind'] | undefined;
    if (raw === undefined) kind = sameFlag(chosen, route.defaultState) ? undefined : 'missing';
    else {
      const parsed = parseStoredFlag(raw);
      kind = parsed.ok && sameFlag(parsed.state, chosen) ? undefined : 'unaudited';
    }
    if (kind) for (const listener of this.#drifts) listener({ route: route.name, kind });
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
      this.#logger.warn(
        { route: route.name, reason: next.reason, problem: next.problem, using: describeFlag(next.state) },
        `route flag ${next.reason}: using the route's default`,
      );
    }
    if (!sameState) {
      this.#logger.info({ route: route.name, from: describeFlag(previous.state), to: describeFlag(next.state) }, 'route flag applied');
      for (const listener of this.#listeners) listener(route, previous);
    }
  }
}
