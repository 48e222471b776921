import type { Logger } from '../../lib/logger.ts';
import { FlagStoreUnavailable, type Flipper } from '../flips.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { describeFlag, parseStoredFlag, sameFlag, type FlagState } from './state.ts';
import type { FlagStore } from './store.ts';
import type { Drift, FlagTable } from './table.ts';
import { safeError } from '../../lib/safe-error.ts';

/**
 * Puts back, from the audit log, the flags the store lost or holds without an audited flip
 * behind them: a Redis restarted without persistence comes back empty, and every route would
 * otherwise silently return to its default.
 *
 * A restore is a flip (actor `gateway`, via `restore`) with a compare-and-set on the exact text
 * seen in the store, so when several replicas and workers notice at once one of them restores
 * and writes the audit row, and a flip an operator made meanwhile is never overwritten. A missing
 * flag is restored at once. A differing one may be a flip whose audit row is not committed yet
 * (the store is written first, in the flip's transaction), so it is restored only if the store
 * still holds the same text `graceMs` later and the audit log still disagrees.
 */
export function createFlagRestorer(deps: {
  table: FlagTable;
  store: FlagStore;
  audited: (route: string) => Promise<Map<string, string>>;
  flip: Flipper;
  graceMs: number;
  metrics: GatewayMetrics;
  logger: Logger;
}) {
  const { table, store, audited, flip, graceMs, metrics, logger } = deps;
  /** Unaudited text seen per route, and whether `graceMs` has passed since (its re-check timer fired). */
  const suspects = new Map<string, { raw: string; due: boolean; timer: NodeJS.Timeout }>();
  const checking = new Set<string>();
  let stopped = false;

  /** Re-reads the route's stored flag and audited state, and restores the audited one if they still differ. */
  async function check(name: string): Promise<void> {
    const route = table.get(name);
    if (!route || checking.has(name) || stopped) return;
    checking.add(name);
    try {
      const [raw, intent] = await Promise.all([store.read(name), audited(name)]);
      const auditedRaw = intent.get(name);
      const parsedAudit = auditedRaw === undefined ? undefined : parseStoredFlag(auditedRaw);
      // An audit row this version cannot read (a mode it does not know) is not ours to restore.
      if (parsedAudit && !parsedAudit.ok) return;
      const chosen: FlagState = parsedAudit?.ok ? parsedAudit.state : route.defaultState;
      const storedState = raw === undefined ? undefined : parseStoredFlag(raw);
      const agrees = raw === undefined ? sameFlag(chosen, route.defaultState) : storedState?.ok === true && sameFlag(storedState.state, chosen);
      if (agrees) return forget(name);
      if (raw !== undefined) {
        const suspect = suspects.get(name);
        if (!suspect || suspect.raw !== raw) return suspectOf(name, raw);
        if (!suspect.due) return;
      }
      await restore(name, chosen, raw);
    } catch (error) {
      logger.warn({ route: name, err: safeError(error) }, 'could not check a route flag against the audit log; the next reload retries');
    } finally {
      checking.delete(name);
    }
  }

  function suspectOf(name: string, raw: string): void {
    forget(name);
    const suspect = {
      raw,
      due: false,
      timer: setTimeout(() => {
        suspect.due = true;
        void check(name);
      }, graceMs),
    };
    suspect.timer.unref();
    suspects.set(name, suspect);
  }

  function forget(name: string): void {
    const suspect = suspects.get(name);
    if (!suspect) return;
    clearTimeout(suspect.timer);
    suspects.delete(name);
  }

  async function restore(name: string, to: FlagState, seen: string | undefined): Promise<void> {
    const kind: Drift['kind'] = seen === undefined ? 'missing' : 'unaudited';
    forget(name);
    try {
      const result = await flip({
        route: name,
        to,
        actor: 'gateway',
        via: 'restore',
        reason:
          kind === 'missing'
            ? 'the flag store had lost this flag (restarted without persistence?): restored from the audit log'
            : 'the flag store held a state no audited flip chose: restored from the audit log',
        ifStored: seen ?? null,
      });
      // Another replica restored it first, or an operator flipped it meanwhile: either way it is chosen.
      if (!result.ok) return;
      metrics.flagRestored(name, kind);
      // The stored text is not logged: it is outside input.
      logger.error(
        { route: name, drift: kind, restored: describeFlag(to), stored: seen === undefined ? 'nothing' : 'a state with no audit entry' },
        'route flag restored from the audit log',
      );
    } catch (error) {
      if (error instanceof FlagStoreUnavailable)
        logger.warn({ route: name, err: safeError(error) }, 'could not restore a route flag: flag store unavailable; the next reload retries');
      else throw error;
    }
  }

  table.onDrift((drift) => void check(drift.route));
  return {
    stop() {
      stopped = true;
      for (const name of [...suspects.keys()]) forget(name);
    },
  };
}
