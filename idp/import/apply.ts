// Applies one import request to the idp's store: looks up the users the batch could collide
// with, plans (plan.ts), wraps what will be written (wrap.ts) and writes the batch in one
// transaction; a batch that fails on a row's data is redone row by row, so one bad row is
// refused and the others land. Idempotent: a batch sent again (the ETL's retry after a lost
// answer, or a resumed pass) gets its receipt's answer back (migration 060), or else finds its
// users already there and changes nothing.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ImportResult, ImportUser } from '../../contracts/idp-import.ts';
import type { Knex } from '../../lib/db.ts';
import { describeDatabaseError } from '../../lib/safe-error.ts';
import { findDualWriteFingerprints, findUsersForImport, insertLegacyUsers, updateLegacyUser } from './batch.ts';
import { importKeysOf, planImport, type ImportPlan } from './plan.ts';
import { wrapPlanHashes } from './wrap.ts';

/** Attempts at a user whose idp row keeps changing under us (logins) before it is refused. */
const CONCURRENT_ATTEMPTS = 3;

/** A login rehashed the password between our read and our write: re-read and decide again. */
export class ConcurrentChangeError extends Error {
  readonly legacyId: string;
  constructor(legacyId: string) {
    super(`the idp user of legacy id ${legacyId} changed while being imported`);
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

/** True when the error is the fault of a row's data (refuse the row); false for anything that should fail the request. */
export function isRowError(error: unknown): boolean {
  if (error instanceof ConcurrentChangeError) return true;
  const e = error as DriverError;
  if (typeof e.sqlState === 'string' && /^2[23]/.test(e.sqlState)) return true;
  if (typeof e.errno === 'number' && ROW_ERRNOS.has(e.errno)) return true;
  return typeof e.code === 'string' && /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/.test(e.code);
}

/** Writes the plan inside `trx`: updates first (they may free login keys), then the inserts. */
async function writePlan(trx: Knex.Transaction, plan: ImportPlan): Promise<void> {
  for (const update of plan.updates) {
    if (!(await updateLegacyUser(trx, update.userId, update.expectedHash, update.change))) throw new ConcurrentChangeError(update.legacyId);
  }
  await insertLegacyUsers(trx, plan.inserts);
}

export interface ImportOptions {
  dryRun: boolean;
  wrapIterations: number;
  receipt?: { pass: string; batch: string };
}

const RECEIPTS = 'import_receipts';

// A receipt's answer is rewritten with every batch: a batch of 1,000 answers is some 70 kB of
// JSON (700 MB of writes over ten million users), deflated about 4 kB. Stored as this prefix and
// base64; an answer without it is plain JSON, as an idp before this one stored it.
const DEFLATED = 'deflate:';

function encodeReceiptAnswer(outcome: ImportOutcome): string {
  return DEFLATED + deflateRawSync(JSON.stringify(outcome), { level: 1 }).toString('base64');
}

export function decodeReceiptAnswer(stored: string): ImportOutcome {
  const json = stored.startsWith(DEFLATED) ? inflateRawSync(Buffer.from(stored.slice(DEFLATED.length), 'base64')).toString('utf8') : stored;
  return JSON.parse(json) as ImportOutcome;
}

async function findReceipt(knex: Knex, receipt: { pass: string; batch: string }): Promise<ImportOutcome | undefined> {
  const row = (await knex(RECEIPTS).where({ pass: receipt.pass, batch: receipt.batch }).first('answer')) as { answer: string } | undefined;
  return row ? decodeReceiptAnswer(row.answer) : undefined;
}

async function saveReceipt(db: Knex | Knex.Transaction, receipt: { pass: string; batch: string }, outcome: ImportOutcome): Promise<void> {
  await db(RECEIPTS)
    .insert({ pass: receipt.pass, batch: receipt.batch, answer: encodeReceiptAnswer(outcome), updated_at: Date.now() })
    .onConflict('pass')
    .merge(['batch', 'answer', 'updated_at']);
}

export interface ImportOutcome {
  results: ImportResult[];
  /** Why the batch was redone row by row (values withheld), else null. */
  retriedRowByRow: string | null;
}

export async function importUsers(knex: Knex, users: readonly ImportUser[], options: ImportOptions): Promise<ImportOutcome> {
  // A dry run writes nothing, so it spends no PBKDF2 on hashes it would not store.
  const planFor = async (batch: readonly ImportUser[]) => {
    const existing = await findUsersForImport(knex, importKeysOf(batch));
    const plan = planImport(
      batch,
      existing,
      await findDualWriteFingerprints(
        knex,
        existing.map((u) => u.id),
      ),
    );
    return options.dryRun ? plan : wrapPlanHashes(plan, options.wrapIterations);
  };
  const { receipt } = options;
  if (!options.dryRun && receipt) {
    const done = await findReceipt(knex, receipt);
    if (done) return done;
  }
  const plan = await planFor(users);
  if (options.dryRun) return { results: plan.results, retriedRowByRow: null };
  try {
    const outcome: ImportOutcome = { results: plan.results, retriedRowByRow: null };
    await knex.transaction(async (trx) => {
      await writePlan(trx, plan);
      if (receipt) await saveReceipt(trx, receipt, outcome);
    });
    return outcome;
  } catch (error) {
    if (!isRowError(error)) throw error;
    const why = describeDatabaseError(error);
    const results: ImportResult[] = [];
    for (const user of users) results.push(await importOne(user));
    const outcome: ImportOutcome = { results, retriedRowByRow: why };
    // After the rows, not with them: killed in between, a resent batch is planned again (its
    // rows then count as unchanged), which only this rare path allows.
    if (receipt) await saveReceipt(knex, receipt, outcome);
    return outcome;
  }

  /** One user in its own transaction: the fallback when its batch could not be written whole. */
  async function importOne(user: ImportUser): Promise<ImportResult> {
    for (let attempt = 0; attempt < CONCURRENT_ATTEMPTS; attempt++) {
      const single = await planFor([user]);
      try {
        await knex.transaction((trx) => writePlan(trx, single));
        return single.results[0]!;
      } catch (error) {
        if (!isRowError(error)) throw error;
        if (error instanceof ConcurrentChangeError) continue;
        return { legacyId: user.legacyId, ok: false, reason: 'write_failed', detail: describeDatabaseError(error) };
      }
    }
    return { legacyId: user.legacyId, ok: false, reason: 'concurrent_change', detail: 'the idp user kept changing (concurrent logins)' };
  }
}
