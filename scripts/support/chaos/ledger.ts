// The chaos test's books: the faults it injected (when each began and ended) and every operation
// of the load, each judged ok, failed-as-expected (a clean answer a fault explains), failed
// unexpectedly, or hung (no answer within the agent's deadline).
import { Hung, NoAnswer, type Answer } from './agent.ts';
import { StepFailed, summary } from './flows.ts';

export type Kind =
  'page view' | 'sign-in' | 'password change' | 'flip' | 'app sign-in' | 'token refresh' | 'api call' | 'restart' | 'key rotation' | 'migration delta';
export type Outcome = 'ok' | 'expected' | 'unexpected' | 'hung';

export interface Fault {
  name: string;
  start: number;
  end?: number;
  /** The fault erased stored state (a Redis restart without persistence): sessions and interactions are gone. */
  dataLoss: boolean;
}

/** Clean failures: the gateway's own JSON errors, a page that says to try again, or a 503 with Retry-After. */
const OUTAGE_ERRORS = new Set(['bad_gateway', 'gateway_timeout', 'flag_store_unavailable', 'service_unavailable', 'unavailable']);
const OUTAGE_PAGE = /<title>[^<]*(try again|unavailable)[^<]*<\/title>/i;
/** What a browser sees when the state its sign-in or session lived in is gone. */
const STATE_GONE_PAGE = /<title>(This sign-in has expired|Sign-in expired|Sign-in failed|Sign in first)<\/title>/;
const WRONG_PASSWORD = /incorrect/i;

function cleanOutageAnswer(answer: Answer): boolean {
  if (![502, 503, 504].includes(answer.status)) return false;
  if (OUTAGE_PAGE.test(answer.body) || (answer.status === 503 && answer.retryAfter !== undefined)) return true;
  try {
    return OUTAGE_ERRORS.has(String((JSON.parse(answer.body) as { error?: unknown }).error));
  } catch {
    return false;
  }
}

const COLUMNS = ['sent', 'ok', 'failed-as-expected', 'failed-unexpectedly', 'hung'];
const width = (heading: string) => Math.max(heading.length, 6) + 2;

export class Ledger {
  readonly faults: Fault[] = [];
  readonly #counts = new Map<Kind, Record<'sent' | Outcome, number>>();
  /** Why each operation failed, with how often. */
  readonly #causes = new Map<string, number>();
  readonly #graceMs: number;

  /** `graceMs`: how long after a fault ends its effects may still explain a failure (reconnects, restarts). */
  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  begin(name: string, dataLoss = false): Fault {
    const fault = { name, start: Date.now(), dataLoss };
    this.faults.push(fault);
    return fault;
  }

  end(fault: Fault): void {
    fault.end = Date.now();
  }

  /** The latest fault active (or just over) at some moment of [start, end]. */
  #overlapping(start: number, end: number, dataLoss: boolean): Fault | undefined {
    return this.faults.findLast((f) => (!dataLoss || f.dataLoss) && f.start <= end && (f.end ?? Infinity) + this.#graceMs >= start);
  }

  /**
   * Judges a failed operation. `since`: when the state the operation relies on was made (the
   * sign-in of the session a password change uses); a data-loss fault since then explains it
   * finding that state gone.
   */
  judge(error: unknown, start: number, end: number, since = start): { outcome: Outcome; why: string } {
    if (error instanceof Hung) return { outcome: 'hung', why: error.message };
    if (error instanceof NoAnswer) return { outcome: 'unexpected', why: error.message };
    if (!(error instanceof StepFailed)) return { outcome: 'unexpected', why: `test error: ${(error as Error).message}` };
    const { answer, step } = error;
    const during = this.#overlapping(start, end, false);
    // Ids in paths (interactions, resumed authorizations) left out, so that like failures add up.
    const path = answer.path.split('?')[0]!.replace(/\/[A-Za-z0-9_-]{20,}/g, '/:id');
    const why = `${step} (${path}): HTTP ${answer.status} ${summary(answer)} ${during ? `during "${during.name}"` : 'with no fault'}`;
    if (answer.status === 401 && step === 'POST login' && WRONG_PASSWORD.test(answer.body))
      return { outcome: 'unexpected', why: `${why}: a correct password refused` };
    const explained = cleanOutageAnswer(answer) ? during : STATE_GONE_PAGE.test(answer.body) ? this.#overlapping(since, end, true) : undefined;
    return { outcome: explained ? 'expected' : 'unexpected', why };
  }

  /** Runs one operation of the load and books its outcome. */
  async run(kind: Kind, operation: () => Promise<void>, since?: number): Promise<{ outcome: Outcome; error?: unknown }> {
    const start = Date.now();
    const counts = this.#countsOf(kind);
    counts.sent++;
    try {
      await operation();
      counts.ok++;
      return { outcome: 'ok' };
    } catch (error) {
      const { outcome, why } = this.judge(error, start, Date.now(), since);
      counts[outcome]++;
      const cause = `${kind} ${outcome}: ${why}`;
      this.#causes.set(cause, (this.#causes.get(cause) ?? 0) + 1);
      return { outcome, error };
    }
  }

  #countsOf(kind: Kind) {
    let counts = this.#counts.get(kind);
    if (!counts) this.#counts.set(kind, (counts = { sent: 0, ok: 0, expected: 0, unexpected: 0, hung: 0 }));
    return counts;
  }

  total(outcome: 'sent' | Outcome, kind?: Kind): number {
    return [...this.#counts].filter(([k]) => kind === undefined || k === kind).reduce((sum, [, c]) => sum + c[outcome], 0);
  }

  /** The causes of failures judged `outcome`, with their counts. */
  causes(outcome: Exclude<Outcome, 'ok'>): string[] {
    return [...this.#causes].filter(([cause]) => cause.includes(` ${outcome}: `)).map(([cause, n]) => `${n} x ${cause}`);
  }

  report(): string {
    const rows = [...this.#counts].map(
      ([kind, c]) => `  ${kind.padEnd(16)} ${[c.sent, c.ok, c.expected, c.unexpected, c.hung].map((n, i) => String(n).padStart(width(COLUMNS[i]!))).join('')}`,
    );
    const faults = this.faults.map((f) => `  ${f.name}: ${((f.end ?? Date.now()) - f.start) / 1000} s`);
    return [
      `  ${'kind'.padEnd(16)} ${COLUMNS.map((h) => h.padStart(width(h))).join('')}`,
      ...rows,
      'faults:',
      ...faults,
      ...(['expected', 'unexpected', 'hung'] as const).flatMap((outcome) => {
        const causes = this.causes(outcome);
        return causes.length ? [`${outcome}, by cause:`, ...causes.map((c) => `  ${c}`)] : [];
      }),
    ].join('\n');
  }
}
