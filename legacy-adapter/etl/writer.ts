// Applies a batch plan to the idp's store in one transaction; a batch that fails is retried
// row by row so that one bad row is dead-lettered and the others land.
import { insertLegacyUsers, updateLegacyUser } from '../../idp/import/batch.ts';
import type { Knex } from '../../lib/db.ts';
import { safeError } from '../../lib/safe-error.ts';
import { recordDeadLetters, resolveDeadLetters } from './dead-letters.ts';
import type { BatchPlan } from './plan.ts';

/** A login rehashed the password between our read and our write: re-read and decide again. */
export class ConcurrentChangeError extends Error {
  readonly legacyId: string;
  constructor(legacyId: string) {
    super(`the idp user of legacy id ${legacyId} changed while being migrated`);
    this.name = 'ConcurrentChangeError';
    this.legacyId = legacyId;
  }
}

interface DriverError {
  code?: string;
  errno?: number;
  sqlState?: string;
}

// MySQL/MariaDB errors about the data of a row, not about the connection or the server: too long,
// wrong value, duplicate key, NOT NULL, CHECK and foreign key violations.
const ROW_ERRNOS = new Set([1048, 1062, 1216, 1217, 1264, 1265, 1292, 1366, 1406, 1451, 1452, 3819, 4025]);

/** True when the error is the fault of a row's data (dead-letter it); false for anything that should stop the run. */
export function isRowError(error: unknown): boolean {
  if (error instanceof ConcurrentChangeError) return true;
  const e = error as DriverError;
  if (typeof e.sqlState === 'string' && /^2[23]/.test(e.sqlState)) return true;
  if (typeof e.errno === 'number' && ROW_ERRNOS.has(e.errno)) return true;
  return typeof e.code === 'string' && /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/.test(e.code);
}

/**
 * The driver's own message with its values withheld (lib/safe-error.ts): a duplicate entry
 * names the value, and the statement could carry a hash.
 */
export function describeDatabaseError(error: unknown): string {
  const { code, message } = safeError(error);
  return `${code ?? 'error'}: ${message}`.slice(0, 255);
}

export interface WriteOptions {
  source: string;
  /** Delete old dead letters of the rows that now land (only needed when the table had some). */
  resolve: boolean;
}

/** Writes the plan inside `trx`: updates first (they may free login keys), then the inserts, then the dead letters. */
export async function writePlan(trx: Knex.Transaction, plan: BatchPlan, options: WriteOptions): Promise<void> {
  for (const update of plan.updates) {
    if (!(await updateLegacyUser(trx, update.userId, update.expectedHash, update.change))) throw new ConcurrentChangeError(update.legacyId);
  }
  await insertLegacyUsers(trx, plan.inserts);
  await recordDeadLetters(trx, options.source, plan.deadLetters);
  if (options.resolve) await resolveDeadLetters(trx, options.source, plan.settled);
}
