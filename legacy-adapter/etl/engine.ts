// The batch migration: copies the legacy user table into the idp's store through the schema
// mapping, batch by batch, resumable, in memory bounded by the batch size.
import { performance } from 'node:perf_hooks';
import { findUsersForImport } from '../../idp/import/batch.ts';
import type { Knex } from '../../lib/db.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';
import { checkpointName, loadCheckpoint, saveCheckpoint, type Checkpoint } from '../../lib/checkpoints.ts';
import { countDeadLetters, recordDeadLetters } from './dead-letters.ts';
import { importKeysOf, planBatch, prepareRow, type BatchPlan, type PlanContext, type Prepared } from './plan.ts';
import type { ProgressReporter } from './progress.ts';
import { createLegacyReader, type KeysetStart, type LegacyBatch } from './reader.ts';
import { addCounts, DEFAULT_BATCH_SIZE, emptyCounts, MAX_BATCH_SIZE, totalDeadLettered, type MigrationCounts } from './types.ts';
import { ConcurrentChangeError, describeDatabaseError, isRowError, writePlan } from './writer.ts';
import { wrapPlanHashes } from './wrap-plan.ts';
import { checkWrapIterations, DEFAULT_WRAP_ITERATIONS } from '../../lib/passwords/index.ts';

/** How many batches at each end of a run msPerBatch averages over. */
const BATCH_WINDOW = 20;

/** Attempts at a row whose idp user keeps changing under us (logins) before it is dead-lettered. */
const CONCURRENT_ATTEMPTS = 3;

export interface MigrateOptions {
  /** The legacy database (read only, never in a transaction). */
  legacy: Knex;
  /** The idp's database, migrated (idp/store/migrations). */
  idp: Knex;
  mapping: LegacyMapping;
  /** The key the legacy-adapter fingerprints legacy hashes with (directory/fingerprint.ts). */
  fingerprintKey: string;
  batchSize?: number;
  /** Read and validate everything, look the idp up, write nothing (no users, dead letters or checkpoint). */
  dryRun?: boolean;
  /** Start at this legacy id (inclusive) instead of resuming from the checkpoint. */
  fromId?: string;
  /** Read at most this many rows in this run; the checkpoint lets the next run go on. */
  limit?: number;
  /** Delta pass: only rows whose mapped updatedAt is at or after this instant. */
  changedSince?: Date;
  /**
   * PBKDF2 iterations the cheap legacy hashes are wrapped with as they are written (per row,
   * LEGACY_WRAP_ITERATIONS); 0 copies them as they are. Default DEFAULT_WRAP_ITERATIONS.
   */
  wrapIterations?: number;
  progress?: ProgressReporter;
  /** Aborting stops the pass after the batch in flight (checkpointed, resumable). */
  signal?: AbortSignal;
  log?: (level: 'info' | 'warn', message: string) => void;
}

interface PlannedBatch {
  /** Rows asked for: fewer came back at the end of the table. */
  size: number;
  batch: LegacyBatch;
  prepared: Prepared[];
  plan: BatchPlan;
}

export interface MigrationReport {
  source: string;
  mode: 'full' | 'delta';
  dryRun: boolean;
  changedSince: string | null;
  batchSize: number;
  fromId: string | null;
  /** The checkpoint this run resumed after (a pass killed or limited before), else null. */
  resumedAfter: string | null;
  /** The last legacy id done. */
  lastId: string | null;
  /** The pass reached the end of the table (else it was limited or stopped: run again to go on). */
  complete: boolean;
  stopped: boolean;
  /** The whole pass, including what a killed run before this one did. */
  counts: MigrationCounts;
  deadLetteredTotal: number;
  thisRun: {
    read: number;
    batches: number;
    batchesRetriedRowByRow: number;
    durationMs: number;
    rowsPerSecond: number;
    /**
     * Mean milliseconds per batch (between one batch's commit and the next's) over the first and
     * the last BATCH_WINDOW batches of this run: a run that slows as the table grows shows it here.
     */
    msPerBatch: { start: number | null; end: number | null };
  };
  /** Entries in the dead-letter table for this source after the run (older passes included). */
  deadLettersOutstanding: number | null;
  peakMemoryMb: number;
}

export async function runMigration(options: MigrateOptions): Promise<MigrationReport> {
  const { legacy, idp, mapping, fingerprintKey, progress, signal, log = () => undefined } = options;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) throw new RangeError(`batch size must be an integer from 1 to ${MAX_BATCH_SIZE}`);
  const dryRun = options.dryRun === true;
  const wrapIterations = options.wrapIterations ?? DEFAULT_WRAP_ITERATIONS;
  if (wrapIterations !== 0) checkWrapIterations(wrapIterations);
  const limit = options.limit ?? Infinity;
  const source = mapping.table;
  const context: PlanContext = { mapping, fingerprintKey };
  const reader = createLegacyReader(legacy, mapping, { changedSince: options.changedSince });
  const started = performance.now();

  const checkpoint: Checkpoint = { name: checkpointName(source, options.changedSince), state: 'running', lastId: null, counts: emptyCounts(), startedAt: Date.now() };
  let start: KeysetStart = null;
  let resumedAfter: string | null = null;
  if (options.fromId !== undefined) {
    start = { from: options.fromId };
  } else if (!dryRun) {
    const saved = await loadCheckpoint(idp, checkpoint.name);
    if (saved?.state === 'running') {
      Object.assign(checkpoint, { lastId: saved.lastId, counts: saved.counts, startedAt: saved.startedAt });
      resumedAfter = saved.lastId;
      if (saved.lastId !== null) start = { after: saved.lastId };
      log('info', `resuming the pass started ${new Date(saved.startedAt).toISOString()} after legacy id ${saved.lastId ?? '(none)'}`);
    }
  }
  // Only a table that already has dead letters can have some to resolve as rows now land.
  const resolve = !dryRun && (await countDeadLetters(idp, source)) > 0;
  const total = Math.min(await reader.count(start), limit);

  let read = 0;
  let batches = 0;
  let retried = 0;
  let complete = false;

  // A dry run writes nothing, so it spends no PBKDF2 on hashes it would not store.
  async function planOf(prepared: readonly Prepared[]) {
    const plan = planBatch(prepared, await findUsersForImport(idp, importKeysOf(prepared)));
    return dryRun ? plan : wrapPlanHashes(plan, wrapIterations);
  }

  /** One row in its own transaction: the fallback when its batch could not be written whole. */
  async function migrateOne(item: Prepared): Promise<MigrationCounts> {
    const legacyId = item.ok ? item.row.legacyId : item.deadLetter.legacyId;
    let lastProblem = '';
    for (let attempt = 0; attempt < CONCURRENT_ATTEMPTS; attempt++) {
      const plan = await planOf([item]);
      try {
        await idp.transaction((trx) => writePlan(trx, plan, { source, resolve: true }));
        return plan.counts;
      } catch (error) {
        if (!isRowError(error)) throw error;
        if (error instanceof ConcurrentChangeError) {
          lastProblem = 'the idp user kept changing (concurrent logins)';
          continue;
        }
        return deadLetterOne(legacyId, 'write_failed', describeDatabaseError(error));
      }
    }
    return deadLetterOne(legacyId, 'concurrent_change', lastProblem);
  }

  async function deadLetterOne(legacyId: string, reason: 'write_failed' | 'concurrent_change', detail: string): Promise<MigrationCounts> {
    await recordDeadLetters(idp, source, [{ legacyId, reason, detail }]);
    const counts = emptyCounts();
    counts.read = 1;
    counts.deadLettered[reason] = 1;
    return counts;
  }

  /** Reads a batch and decides what to do with it; writes nothing. */
  async function planNext(from: KeysetStart, size: number): Promise<PlannedBatch> {
    const batch = await reader.read(from, size);
    const prepared = batch.rows.map((row) => prepareRow(row, context));
    return { size, batch, prepared, plan: await planOf(prepared) };
  }

  async function writeBatch({ batch, prepared, plan }: PlannedBatch): Promise<void> {
    const lastId = String(batch.lastId);
    if (dryRun) {
      addCounts(checkpoint.counts, plan.counts);
      checkpoint.lastId = lastId;
      return;
    }
    const after = emptyCounts();
    addCounts(after, checkpoint.counts);
    addCounts(after, plan.counts);
    try {
      await idp.transaction(async (trx) => {
        await writePlan(trx, plan, { source, resolve });
        // The checkpoint commits with the batch: killed before, the batch is redone; after, it is not.
        await saveCheckpoint(trx, { ...checkpoint, lastId, counts: after });
      });
      Object.assign(checkpoint, { lastId, counts: after });
      return;
    } catch (error) {
      if (!isRowError(error)) throw error;
      retried++;
      log('warn', `batch after legacy id ${checkpoint.lastId ?? '(start)'} failed (${describeDatabaseError(error)}); retrying its ${prepared.length} rows one by one`);
    }
    const counts = emptyCounts();
    for (const item of prepared) addCounts(counts, await migrateOne(item));
    addCounts(checkpoint.counts, counts);
    checkpoint.lastId = lastId;
    await saveCheckpoint(idp, checkpoint);
  }

  const next = (from: KeysetStart): Promise<PlannedBatch> | null => {
    const size = Math.min(batchSize, limit - read);
    if (size <= 0) return null;
    const pending = planNext(from, size);
    // Awaited below; until then a failure must not count as unhandled.
    pending.catch(() => undefined);
    return pending;
  };

  // A two-stage pipeline: batch N+1 is read, validated and looked up while batch N is written,
  // so the legacy database, this process and the idp's database work at the same time. A login
  // key that batch N takes is unseen by N+1's look-up; the unique index refuses the insert, and
  // the row-by-row retry then sees it: correct, only slower, and rare.
  const firstBatches: number[] = [];
  const lastBatches: number[] = [];
  let lastCommit = performance.now();
  let pending = next(start);
  while (pending) {
    const current = await pending;
    if (current.batch.rows.length === 0) {
      complete = true;
      break;
    }
    read += current.batch.rows.length;
    const endOfTable = current.batch.rows.length < current.size;
    pending = endOfTable || signal?.aborted ? null : next({ after: current.batch.lastId });
    await writeBatch(current);
    batches++;
    const now = performance.now();
    if (firstBatches.length < BATCH_WINDOW) firstBatches.push(now - lastCommit);
    lastBatches.push(now - lastCommit);
    if (lastBatches.length > BATCH_WINDOW) lastBatches.shift();
    lastCommit = now;
    progress?.update({ read, total, elapsedMs: performance.now() - started, counts: checkpoint.counts });
    if (endOfTable) complete = true;
    if (signal?.aborted) break;
  }
  await pending?.catch(() => undefined);
  const stopped = !complete && signal?.aborted === true;
  if (!dryRun && complete) {
    checkpoint.state = 'done';
    await saveCheckpoint(idp, checkpoint);
  }
  const durationMs = performance.now() - started;
  progress?.update({ read, total: read, elapsedMs: durationMs, counts: checkpoint.counts });
  progress?.finish();
  return {
    source,
    mode: options.changedSince ? 'delta' : 'full',
    dryRun,
    changedSince: options.changedSince?.toISOString() ?? null,
    batchSize,
    fromId: options.fromId ?? null,
    resumedAfter,
    lastId: checkpoint.lastId,
    complete,
    stopped,
    counts: checkpoint.counts,
    deadLetteredTotal: totalDeadLettered(checkpoint.counts),
    thisRun: { read, batches, batchesRetriedRowByRow: retried, durationMs: Math.round(durationMs), rowsPerSecond: durationMs > 0 ? Math.round(read / (durationMs / 1000)) : 0, msPerBatch: { start: mean(firstBatches), end: mean(lastBatches) } },
    deadLettersOutstanding: dryRun ? null : await countDeadLetters(idp, source),
    peakMemoryMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

const mean = (values: readonly number[]): number | null => (values.length ? Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10) / 10 : null);
