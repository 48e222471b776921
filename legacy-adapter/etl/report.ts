import type { MigrationReport } from './engine.ts';
import { formatDuration } from './progress.ts';
import { DEAD_LETTER_REASONS } from './types.ts';

const number = new Intl.NumberFormat('en-US');

/** The final report for a person (the CLI prints JSON with --json). */
export function formatMigrationReport(report: MigrationReport): string {
  const { counts } = report;
  const state = report.complete ? 'complete' : report.stopped ? 'stopped (run again to resume)' : 'partial (run again to go on)';
  const pass = report.mode === 'delta' ? `delta pass, rows changed since ${report.changedSince}` : 'full pass';
  const lines = [`migrate ${report.source}: ${state}, ${pass}${report.dryRun ? ', DRY RUN: nothing was written' : ''}`];
  if (report.resumedAfter !== null) lines.push(`  resumed after legacy id ${report.resumedAfter}`);
  const row = (label: string, value: number) => lines.push(`  ${label.padEnd(20)}${number.format(value).padStart(12)}`);
  row('read', counts.read);
  row('inserted', counts.inserted);
  row('updated', counts.updated);
  row('unchanged', counts.unchanged);
  row('already upgraded', counts.alreadyUpgraded);
  row('wrapped (PBKDF2)', counts.wrapped);
  row('dead-lettered', report.deadLetteredTotal);
  for (const reason of DEAD_LETTER_REASONS) if (counts.deadLettered[reason] > 0) row(`  ${reason}`, counts.deadLettered[reason]);
  const run = report.thisRun;
  lines.push(
    `  this run: ${number.format(run.read)} rows in ${formatDuration(run.durationMs / 1000)} (${number.format(run.rowsPerSecond)} rows/s), ${run.batches} batches of up to ${report.batchSize}, ${run.batchesRetriedRowByRow} retried row by row, peak memory ${report.peakMemoryMb} MB`,
  );
  if (run.msPerBatch.start !== null) lines.push(`  time per batch: ${run.msPerBatch.start} ms at the start, ${run.msPerBatch.end} ms at the end of this run`);
  if (report.lastId !== null) lines.push(`  last legacy id done: ${report.lastId}`);
  if (report.deadLettersOutstanding !== null && report.deadLettersOutstanding > 0) {
    lines.push(`  ${number.format(report.deadLettersOutstanding)} rows of ${report.source} wait in legacy_migration_dead_letters (with their reasons)`);
  }
  return `${lines.join('\n')}\n`;
}
