// The batch migration: reads the legacy user table through the schema mapping, batch by batch,
// and hands each batch to the idp's bulk-import port (contracts/idp-import.ts), which decides and
// writes. Resumable (checkpoints and dead letters in the ETL's own store), in memory bounded by
// the batch size.
import { performance } from 'node:perf_hooks';
import type { ImportUser } from '../../contracts/idp-import.ts';
import type { Knex } from '../../lib/db.ts';
import { checkWrapIterations, DEFAULT_WRAP_ITERATIONS } from '../../lib/passwords/index.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';
import { checkpointName, loadCheckpoint, saveCheckpoint, type EtlCheckpoint } from './checkpoint.ts';
import { countDeadLetters, recordDeadLetters, resolveDeadLetters } from './dead-letters.ts';
import type { IdpImportClient } from './idp-import-client.ts';
import { prepareRow, type PlanContext, type Prepared } from './prepare.ts';
import type { ProgressReporter } from './progress.ts';
import { createLegacyReader, type KeysetStart, type LegacyBatch } from './reader.ts';
import { addCounts, DEFAULT_BATCH_SIZE, emptyCounts, MAX_BATCH_SIZE, totalDeadLettered, type DeadLetter, type MigrationCounts } from './types.ts';

/** How many batches at each end of a run msPerBatch averages over. */
const BATCH_WINDOW = 20;

export interface MigrateOptions {
  /** The legacy database (read only, never in a transaction). */
  legacy: Knex;
  /** The idp's bulk-import port. */
  idp: IdpImportClient;
  /** The ETL's own store (dead letters, checkpoints), migrated (migrations/). */
  etl: Knex;
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

interface ReadBatch {
  /** Rows asked for: fewer came back at the end of the table. */
  size: number;
  batch: LegacyBatch;
  prepared: Prepared[];
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
  const { legacy, idp, etl, mapping, fingerprintKey, progress, signal, log = () => undefined } = options;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE)
    throw new RangeError(`batch size must be an integer from 1 to ${MAX_BATCH_SIZE}`);
  const dryRun = options.dryRun === true;
  const wrapIterations = options.wrapIterations ?? DEFAULT_WRAP_ITERATIONS;
  if (wrapIterations !== 0) checkWrapIterations(wrapIterations);
  const limit = options.limit ?? Infinity;
  const source = mapping.table;
  const context: PlanContext = { mapping, fingerprintKey };
  const reader = createLegacyReader(legacy, mapping, { changedSince: options.changedSince });
  const started = performance.now();

  const checkpoint: EtlCheckpoint = {
    name: checkpointName(source, options.changedSince),
    state: 'running',
    lastId: null,
    counts: emptyCounts(),
    startedAt: Date.now(),
    pendingSize: null,
  };
  let start: KeysetStart = null;
  let resumedAfter: string | null = null;
  // A batch the idp may have committed before the last run died: read the same rows again.
  let firstSize: number | null = null;
  if (options.fromId !== undefined) {
    start = { from: options.fromId };
  } else if (!dryRun) {
    const saved = await loadCheckpoint(etl, checkpoint.name);
    if (saved?.state === 'running') {
      Object.assign(checkpoint, { lastId: saved.lastId, counts: saved.counts, startedAt: saved.startedAt });
      resumedAfter = saved.lastId;
      if (saved.lastId !== null) start = { after: saved.lastId };
      firstSize = saved.pendingSize;
      log('info', `resuming the pass started ${new Date(saved.startedAt).toISOString()} after legacy id ${saved.lastId ?? '(none)'}`);
    }
  }
  // Only a table that already has dead letters can have some to resolve as rows now land.
  const resolve = !dryRun && (await countDeadLetters(etl, source)) > 0;
  const total = Math.min(await reader.count(start), limit);

  let read = 0;
  let batches = 0;
  let retried = 0;
  let complete = false;

  /** Reads a batch and validates it; asks the idp nothing. */
  async function readNext(from: KeysetStart, size: number): Promise<ReadBatch> {
    const batch = await reader.read(from, size);
    return { size, batch, prepared: batch.rows.map((row) => prepareRow(row, context)) };
  }

  /**
   * Hands the valid rows to the idp; records what it and the validation refused; moves the
   * checkpoint, with the size of the batch that goes next (`nextSize`, already being read).
   */
  async function importBatch({ size, batch, prepared }: ReadBatch, nextSize: number | null): Promise<void> {
    const lastId = String(batch.lastId);
    const users: ImportUser[] = [];
    const deadLetters: DeadLetter[] = [];
    const counts = emptyCounts();
    counts.read = prepared.length;
    for (const item of prepared) {
      if (item.ok) users.push(item.row.user);
      else {
        deadLetters.push(item.deadLetter);
        counts.deadLettered[item.deadLetter.reason]++;
      }
    }
    const settled: string[] = [];
    if (users.length > 0) {
      // The batch is named by the pass and where it starts and how many rows it reads, which a
      // resumed pass reproduces (pendingSize), so the idp can tell a batch sent again.
      const receipt = { pass: `${checkpoint.name}@${checkpoint.startedAt}`, batch: `after=${checkpoint.lastId ?? ''};rows=${size}` };
      const answer = await idp.importUsers({ users, dryRun, wrapIterations, ...(dryRun ? {} : { receipt }) });
      if (answer.results.length !== users.length) throw new Error(`the idp answered ${answer.results.length} results for ${users.length} users`);
      if (answer.retriedRowByRow !== null) {
        retried++;
        log(
          'warn',
          `batch after legacy id ${checkpoint.lastId ?? '(start)'} failed (${answer.retriedRowByRow}); retrying its ${prepared.length} rows one by one`,
        );
      }
      for (const result of answer.results) {
        if (!result.ok) {
          deadLetters.push({ legacyId: result.legacyId, reason: result.reason, detail: result.detail });
          counts.deadLettered[result.reason]++;
          continue;
        }
        settled.push(result.legacyId);
        if (result.wrapped) counts.wrapped++;
        if (result.outcome === 'inserted') counts.inserted++;
        else if (result.outcome === 'updated') counts.updated++;
        else if (result.outcome === 'already_upgraded') counts.alreadyUpgraded++;
        else counts.unchanged++;
      }
    }
    addCounts(checkpoint.counts, counts);
    checkpoint.lastId = lastId;
    if (dryRun) return;
    // The idp committed the batch; its dead letters and the checkpoint commit together here. Killed
    // in between, the batch is sent again and the idp answers from its receipt.
    await etl.transaction(async (trx) => {
      await recordDeadLetters(trx, source, deadLetters);
      if (resolve) await resolveDeadLetters(trx, source, settled);
      // The next batch's size rides on this commit rather than on a write of its own before each
      // request: one commit per batch fewer in the ETL's store, the same key for a resent batch.
      await saveCheckpoint(trx, { ...checkpoint, pendingSize: nextSize });
    });
  }

  /** Rows the batch after `read` rows asks for; 0 at the limit. */
  const sizeOfNext = () => Math.max(0, Math.min(firstSize ?? batchSize, limit - read));
  const next = (from: KeysetStart): Promise<ReadBatch> | null => {
    const size = sizeOfNext();
    firstSize = null;
    if (size <= 0) return null;
    const pending = readNext(from, size);
    // Awaited below; until then a failure must not count as unhandled.
    pending.catch(() => undefined);
    return pending;
  };

  // A two-stage pipeline: batch N+1 is read and validated while the idp imports batch N, so the
  // legacy database, this process and the idp work at the same time. The idp takes the batches
  // one after the other, so each is decided against everything before it.
  const firstBatches: number[] = [];
  const lastBatches: number[] = [];
  // The first batch's size, before it is sent (a resent batch must read the same rows); each
  // batch's commit then names the size of the one after it.
  if (!dryRun) await saveCheckpoint(etl, { ...checkpoint, pendingSize: sizeOfNext() || null });
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
    const nextSize = endOfTable || signal?.aborted ? 0 : sizeOfNext();
    pending = nextSize > 0 ? next({ after: current.batch.lastId }) : null;
    await importBatch(current, nextSize || null);
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
    await saveCheckpoint(etl, checkpoint);
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
    thisRun: {
      read,
      batches,
      batchesRetriedRowByRow: retried,
      durationMs: Math.round(durationMs),
      rowsPerSecond: durationMs > 0 ? Math.round(read / (durationMs / 1000)) : 0,
      msPerBatch: { start: mean(firstBatches), end: mean(lastBatches) },
    },
    deadLettersOutstanding: dryRun ? null : await countDeadLetters(etl, source),
    peakMemoryMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

const mean = (values: readonly number[]): number | null => (values.length ? Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10) / 10 : null);
