import type { Knex } from '../../lib/db.ts';
import { parseStoredFlag, type FlagState } from '../flags/state.ts';

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  via: string;
  route: string;
  from: FlagState | null;
  to: FlagState | null;
  reason: string;
}

export interface NewAuditEntry {
  at: Date;
  actor: string;
  via: string;
  route: string;
  from: string;
  to: string;
  reason: string;
}

interface Row {
  id: number;
  at_ms: number | string;
  actor: string;
  via: string;
  route: string;
  from_state: string;
  to_state: string;
  reason: string;
}

const state = (raw: string) => {
  const parsed = parseStoredFlag(raw);
  return parsed.ok ? parsed.state : null;
};

/** Who changed which route from what to what, when and why: append-only, in the database. */
export function createAuditLog(knex: Knex) {
  return {
    async record(entry: NewAuditEntry, trx: Knex | Knex.Transaction = knex): Promise<void> {
      await trx('gateway_audit').insert({
        at_ms: entry.at.getTime(),
        actor: entry.actor,
        via: entry.via,
        route: entry.route,
        from_state: entry.from,
        to_state: entry.to,
        reason: entry.reason,
      });
    },
    /**
     * The state each route was last audited into (raw, as the flag store holds it): the record
     * of intent that a flag store which lost or changed its flags is restored from.
     */
    async latest(route?: string): Promise<Map<string, string>> {
      const newest = knex('gateway_audit').max({ id: 'id' }).groupBy('route');
      if (route !== undefined) newest.where('route', route);
      const rows = (await knex('gateway_audit').select('route', 'to_state').whereIn('id', newest)) as Array<Pick<Row, 'route' | 'to_state'>>;
      return new Map(rows.map((r) => [r.route, r.to_state]));
    },
    async list(options: { route?: string; limit?: number; beforeId?: number } = {}): Promise<AuditEntry[]> {
      const query = knex<Row>('gateway_audit')
        .orderBy('id', 'desc')
        .limit(options.limit ?? 50);
      if (options.route) query.where('route', options.route);
      if (options.beforeId) query.where('id', '<', options.beforeId);
      const rows = (await query) as Row[];
      return rows.map((r) => ({
        id: Number(r.id),
        at: new Date(Number(r.at_ms)).toISOString(),
        actor: r.actor,
        via: r.via,
        route: r.route,
        from: state(r.from_state),
        to: state(r.to_state),
        reason: r.reason,
      }));
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
