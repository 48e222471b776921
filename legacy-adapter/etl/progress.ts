// Progress of a pass for a person or a log: a redrawn bar with rows per second and time left
// when attached to a terminal, a plain line every few seconds otherwise.
import { totalDeadLettered, type MigrationCounts } from './types.ts';

export interface ProgressSnapshot {
  /** Rows read by this process. */
  read: number;
  /** Rows this process is expected to read (COUNT at the start, capped by --limit); null if unknown. */
  total: number | null;
  elapsedMs: number;
  /** Totals of the whole pass (a resumed pass includes what ran before). */
  counts: MigrationCounts;
}

export interface ProgressReporter {
  update(snapshot: ProgressSnapshot): void;
  /** Clears the bar, so the report starts on a clean line. */
  finish(): void;
}

interface Writable {
  write(text: string): unknown;
}

const number = new Intl.NumberFormat('en-US');

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

function figures(snapshot: ProgressSnapshot) {
  const seconds = snapshot.elapsedMs / 1000;
  const rate = seconds > 0 ? snapshot.read / seconds : 0;
  const left = snapshot.total === null ? null : Math.max(0, snapshot.total - snapshot.read);
  const eta = left === null || rate === 0 ? Number.NaN : left / rate;
  return { rate, eta };
}

/** `tty`: draw a bar on `terminal`; else write a line to `log` at most every `intervalMs`. */
export function createProgressReporter(options: { tty: boolean; terminal: Writable; log: Writable; intervalMs?: number }): ProgressReporter {
  const { tty, terminal, log } = options;
  const intervalMs = options.intervalMs ?? (tty ? 100 : 10_000);
  let last = -Infinity;
  let drawn = false;
  return {
    update(snapshot) {
      const now = snapshot.elapsedMs;
      const done = snapshot.total !== null && snapshot.read >= snapshot.total;
      if (now - last < intervalMs && !done) return;
      last = now;
      const { rate, eta } = figures(snapshot);
      const dead = totalDeadLettered(snapshot.counts);
      if (tty) {
        const fraction = snapshot.total ? Math.min(1, snapshot.read / snapshot.total) : 0;
        const width = 30;
        const filled = Math.round(fraction * width);
        const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
        const of = snapshot.total === null ? '' : `/${number.format(snapshot.total)}`;
        terminal.write(
          `\r\x1b[2K${bar} ${(fraction * 100).toFixed(1)}% ${number.format(snapshot.read)}${of} rows  ${number.format(Math.round(rate))} rows/s  ETA ${formatDuration(eta)}  dead-lettered ${number.format(dead)}`,
        );
        drawn = true;
      } else {
        const of = snapshot.total === null ? '' : ` of ${number.format(snapshot.total)}`;
        log.write(
          `migrate: ${number.format(snapshot.read)}${of} rows read, ${number.format(Math.round(rate))} rows/s, ETA ${formatDuration(eta)}; ` +
            `inserted ${snapshot.counts.inserted}, updated ${snapshot.counts.updated}, dead-lettered ${dead}\n`,
        );
      }
    },
    finish() {
      if (drawn) terminal.write('\r\x1b[2K');
    },
  };
}
