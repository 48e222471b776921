// The one-off pass over users already copied (issue 15): wraps every cheap legacy hash still in
// the idp's store in PBKDF2, batch by batch, resumable like the migration itself. It reads and
// writes only the idp's own tables, never the legacy database.
import { performance } from 'node:perf_hooks';
import { toUser } from '../users/store.ts';
import type { Knex } from '../../lib/db.ts';
import { checkWrapIterations, WEAK_SCHEMES, WRAPPED_SCHEME, wrapLegacyHashes } from '../../lib/passwords/index.ts';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from '../../lib/checkpoints.ts';
import { wrapInputOf, wrappedColumns } from '../../lib/passwords/wrap-record.ts';

/** Its row in the idp's legacy_migration_checkpoints (migration 021; '@' keeps it apart from rows an older batch migration left there). */
export const WRAP_CHECKPOINT = '@wrap-weak-hashes';
export const WRAP_CHECKPOINT_TABLE = 'legacy_migration_checkpoints';

export const DEFAULT_WRAP_BATCH_SIZE = 1000;
export const MAX_WRAP_BATCH_SIZE = 10_000;

export interface WrapCounts {
  /** Users read (every user, weak or not: the pass walks the primary key). */
  read: number;
  wrapped: number;
  /** Weak hashes left as they were: a login replaced them meanwhile, or they cannot be wrapped. */
  skipped: number;
}

export interface WrapPassOptions {
  idp: Knex;
  iterations: number;
  batchSize?: number;
  /** Read at most this many users in this run; the checkpoint lets the next run go on. */
  limit?: number;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

export interface WrapPassReport {
  iterations: number;
  batchSize: number;
  resumedAfter: string | null;
  complete: boolean;
  stopped: boolean;
  /** The whole pass, a killed run before this one included. */
  counts: WrapCounts;
  /** Weak hashes in the store after the run, by scheme (the target is none). */
  weakRemaining: Record<string, number>;
  thisRun: { read: number; batches: number; durationMs: number; rowsPerSecond: number; wrappedPerSecond: number };
}

const emptyWrapCounts = (): WrapCounts => ({ read: 0, wrapped: 0, skipped: 0 });

function parseWrapCounts(text: string): WrapCounts {
  const counts = emptyWrapCounts();
  try {
    const saved = JSON.parse(text) as Partial<Record<keyof WrapCounts, unknown>>;
    for (const key of ['read', 'wrapped', 'skipped'] as const) if (Number.isFinite(Number(saved[key]))) counts[key] = Number(saved[key]);
  } catch {
    // An unreadable row starts the counts afresh; the position is what matters.
  }
  return counts;
}

/** Where the pass got to (for tests and ops looking on). */
export function loadWrapCheckpoint(idp: Knex): Promise<Checkpoint<WrapCounts> | undefined> {
  return loadCheckpoint(idp, WRAP_CHECKPOINT_TABLE, WRAP_CHECKPOINT, parseWrapCounts);
}

/** Users whose stored hash is of a cheap legacy scheme, by scheme: what the pass has left to do. */
export async function countWeakHashes(db: Knex): Promise<Record<string, number>> {
  const rows = (await db('users')
    .select('password_scheme')
    .count({ n: '*' })
    .whereIn('password_scheme', [...WEAK_SCHEMES])
    .whereNotNull('password_hash')
    .groupBy('password_scheme')) as { password_scheme: string; n: number | string }[];
  return Object.fromEntries(rows.map((r) => [r.password_scheme, Number(r.n)]));
}

/**
 * Walks the users table by primary key (each batch one range read, so a batch costs the same at
 * the end of ten million rows as at the start), wraps the weak hashes of a batch on every core,
 * and writes them with a compare-and-set on the old hash (a login that upgraded the user
 * meanwhile wins), in one transaction with the checkpoint.
 */
export async function runWrapPass(options: WrapPassOptions): Promise<WrapPassReport> {
  const { idp, signal, log = () => undefined } = options;
  const iterations = checkWrapIterations(options.iterations);
  const batchSize = options.batchSize ?? DEFAULT_WRAP_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_WRAP_BATCH_SIZE)
    throw new RangeError(`batch size must be an integer from 1 to ${MAX_WRAP_BATCH_SIZE}`);
  const limit = options.limit ?? Infinity;
  const started = performance.now();

  const checkpoint: Checkpoint<WrapCounts> = { name: WRAP_CHECKPOINT, state: 'running', lastId: null, counts: emptyWrapCounts(), startedAt: Date.now() };
  const saved = await loadCheckpoint(idp, WRAP_CHECKPOINT_TABLE, WRAP_CHECKPOINT, parseWrapCounts);
  const resumedAfter = saved?.state === 'running' ? saved.lastId : null;
  if (saved?.state === 'running') {
    Object.assign(checkpoint, { lastId: saved.lastId, counts: saved.counts, startedAt: saved.startedAt });
    log(`resuming the pass started ${new Date(saved.startedAt).toISOString()} after user ${saved.lastId ?? '(none)'}`);
  }

  let read = 0;
  let batches = 0;
  let wrappedThisRun = 0;
  let complete = false;
  while (!signal?.aborted) {
    const size = Math.min(batchSize, limit - read);
    if (size <= 0) break;
    const query = idp('users').select('id', 'password_hash', 'password_scheme', 'password_candidates', 'password_salt').orderBy('id').limit(size);
    if (checkpoint.lastId !== null) query.where('id', '>', checkpoint.lastId);
    const users = ((await query) as Record<string, unknown>[]).map(toUser);
    if (users.length === 0) {
      complete = true;
      break;
    }
    const weak = users.filter((u) => u.passwordHash !== null && u.passwordScheme !== null && WEAK_SCHEMES.includes(u.passwordScheme));
    const hashes = await wrapLegacyHashes(
      weak.map((u) =>
        wrapInputOf({
          passwordHash: u.passwordHash ?? '',
          passwordScheme: u.passwordScheme ?? '',
          passwordCandidates: u.passwordCandidates,
          passwordSalt: u.passwordSalt,
        }),
      ),
      iterations,
    );
    const lastId = users[users.length - 1]?.id ?? checkpoint.lastId;
    const counts = { ...checkpoint.counts, read: checkpoint.counts.read + users.length };
    await idp.transaction(async (trx) => {
      for (const [i, user] of weak.entries()) {
        const hash = hashes[i];
        const columns = hash ? wrappedColumns(hash) : null;
        const changed = columns
          ? await trx('users')
              .where({ id: user.id, password_hash: user.passwordHash })
              .update({ password_hash: columns.passwordHash, password_scheme: WRAPPED_SCHEME, password_candidates: null })
          : 0;
        if (changed > 0) counts.wrapped++;
        else counts.skipped++;
      }
      await saveCheckpoint(trx, WRAP_CHECKPOINT_TABLE, { ...checkpoint, lastId, counts });
    });
    wrappedThisRun += counts.wrapped - checkpoint.counts.wrapped;
    Object.assign(checkpoint, { lastId, counts });
    read += users.length;
    batches++;
    if (users.length < size) {
      complete = true;
      break;
    }
  }
  if (complete) {
    checkpoint.state = 'done';
    await saveCheckpoint(idp, WRAP_CHECKPOINT_TABLE, checkpoint);
  }
  const durationMs = performance.now() - started;
  const perSecond = (n: number) => (durationMs > 0 ? Math.round(n / (durationMs / 1000)) : 0);
  return {
    iterations,
    batchSize,
    resumedAfter,
    complete,
    stopped: !complete && signal?.aborted === true,
    counts: checkpoint.counts,
    weakRemaining: await countWeakHashes(idp),
    thisRun: { read, batches, durationMs: Math.round(durationMs), rowsPerSecond: perSecond(read), wrappedPerSecond: perSecond(wrappedThisRun) },
  };
}
