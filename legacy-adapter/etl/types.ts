export const DEFAULT_BATCH_SIZE = 1000;
export const MAX_BATCH_SIZE = 10_000;

/** Why a legacy row was not copied. The first four are the row's own fault; the rest the target's. */
export const DEAD_LETTER_REASONS = [
  'no_login',
  'invalid_email',
  'email_taken',
  'username_taken',
  'unrecognised_hash',
  'write_failed',
  'concurrent_change',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface DeadLetter {
  legacyId: string;
  reason: DeadLetterReason;
  /** Safe to show and store: never a hash, salt or password. */
  detail: string | null;
}

/**
 * What a pass did, row by row. Each row read lands in exactly one of: inserted, updated,
 * unchanged, alreadyUpgraded, or a dead-letter reason.
 * - updated: the idp row was written because the legacy row changed (profile, active flag, or
 *   its password since the fingerprint the idp recorded).
 * - unchanged: the idp row still holds the legacy hash and nothing changed.
 * - alreadyUpgraded: the idp rehashed the password at a login and the legacy password did not
 *   change since, so the PBKDF2 hash was kept.
 * Besides: wrapped, of the inserted and updated rows, those whose cheap legacy hash was stored
 * wrapped in PBKDF2 (lib/passwords, "Wrapped legacy hashes").
 */
export interface MigrationCounts {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  alreadyUpgraded: number;
  wrapped: number;
  deadLettered: Record<DeadLetterReason, number>;
}

export function emptyCounts(): MigrationCounts {
  return {
    read: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    alreadyUpgraded: 0,
    wrapped: 0,
    deadLettered: Object.fromEntries(DEAD_LETTER_REASONS.map((r) => [r, 0])) as Record<DeadLetterReason, number>,
  };
}

export function addCounts(into: MigrationCounts, more: MigrationCounts): void {
  into.read += more.read;
  into.inserted += more.inserted;
  into.updated += more.updated;
  into.unchanged += more.unchanged;
  into.alreadyUpgraded += more.alreadyUpgraded;
  into.wrapped += more.wrapped;
  for (const reason of DEAD_LETTER_REASONS) into.deadLettered[reason] += more.deadLettered[reason];
}

export function totalDeadLettered(counts: MigrationCounts): number {
  return DEAD_LETTER_REASONS.reduce((sum, reason) => sum + counts.deadLettered[reason], 0);
}

/** Reads counts saved by an older or newer version leniently: unknown keys dropped, missing ones zero. */
export function parseCounts(text: string): MigrationCounts {
  const counts = emptyCounts();
  let saved: Partial<MigrationCounts> & { deadLettered?: Record<string, unknown> };
  try {
    saved = JSON.parse(text) as typeof saved;
  } catch {
    return counts;
  }
  for (const key of ['read', 'inserted', 'updated', 'unchanged', 'alreadyUpgraded', 'wrapped'] as const) {
    const value = Number(saved[key]);
    if (Number.isFinite(value)) counts[key] = value;
  }
  for (const reason of DEAD_LETTER_REASONS) {
    const value = Number(saved.deadLettered?.[reason]);
    if (Number.isFinite(value)) counts.deadLettered[reason] = value;
  }
  return counts;
}
