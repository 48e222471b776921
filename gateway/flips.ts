import type { Knex } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';
import type { AuditLog } from './audit/store.ts';
import { describeFlag, parseStoredFlag, serializeFlag, type FlagState } from './flags/state.ts';
import type { FlagStore } from './flags/store.ts';
import type { FlagTable } from './flags/table.ts';
import type { GatewayMetrics } from './metrics.ts';
import { safeError } from '../lib/safe-error.ts';

export interface FlipRequest {
  route: string;
  to: FlagState;
  actor: string;
  /** The interface it came through: api, page, auto-rollback. */
  via: string;
  reason: string;
  /** Compare-and-set: flip only if the route is still in this state (the automatic rollback uses it). */
  ifCurrently?: FlagState;
  /** Compare-and-set on the stored text itself (null: no flag stored), for a restore that must not overwrite anything else. */
  ifStored?: string | null;
}

export type FlipResult = { ok: true; route: string; from: FlagState; to: FlagState } | { ok: false; problem: 'unknown_route' | 'changed_meanwhile' };

export class FlagStoreUnavailable extends Error {}

/**
 * The one way a flag changes: swap it in the store (which tells every replica) and write the
 * audit row in the same database transaction, so a flip the audit log does not show is rolled
 * back in the database and refused, and an audit row never describes a flip that did not happen.
 */
export function createFlipper(deps: { knex: Knex; store: FlagStore; table: FlagTable; audit: AuditLog; metrics: GatewayMetrics; logger: Logger }) {
  const { knex, store, table, audit, metrics, logger } = deps;
  return async function flip(request: FlipRequest): Promise<FlipResult> {
    const route = table.get(request.route);
    if (!route) return { ok: false, problem: 'unknown_route' };
    const next = serializeFlag(request.to);
    let from: FlagState = route.defaultState;
    const swapped = await knex
      .transaction(async (trx) => {
        let result;
        try {
          const expected = request.ifCurrently ? serializeFlag(request.ifCurrently) : undefined;
          // A missing flag means the route runs on its default: it "is" that state for a compare-and-set.
          const condition =
            request.ifStored !== undefined
              ? { raw: request.ifStored ?? '', orMissing: request.ifStored === null }
              : expected === undefined
                ? undefined
                : { raw: expected, orMissing: expected === serializeFlag(route.defaultState) };
          result = await store.swap(request.route, next, condition);
        } catch (error) {
          throw new FlagStoreUnavailable((error as Error).message);
        }
        if (!result.swapped) return false;
        const previous = result.previous === undefined ? undefined : parseStoredFlag(result.previous);
        from = previous?.ok ? previous.state : route.defaultState;
        await audit.record(
          { at: new Date(), actor: request.actor, via: request.via, route: request.route, from: serializeFlag(from), to: next, reason: request.reason },
          trx,
        );
        return true;
      })
      .catch(async (error: unknown) => {
        if (error instanceof FlagStoreUnavailable) throw error;
        // The swap happened but the audit row could not be written: put the old flag back.
        metrics.auditFailures.inc();
        logger.error({ route: request.route, err: safeError(error) }, 'audit log write failed: flip undone');
        await store.swap(request.route, serializeFlag(from), { raw: next, orMissing: false }).catch(() => undefined);
        throw error;
      });
    if (!swapped) return { ok: false, problem: 'changed_meanwhile' };
    table.applyWritten(request.route, request.to);
    metrics.flipped(request.route, request.to, request.via);
    logger.info({ route: request.route, from: describeFlag(from), to: describeFlag(request.to), actor: request.actor, via: request.via }, 'route flipped');
    return { ok: true, route: request.route, from, to: request.to };
  };
}

export type Flipper = ReturnType<typeof createFlipper>;
