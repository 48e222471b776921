// What of an error may be logged. Database errors carry the values they were given: mysql2's
// `sql` is the statement with every binding written in, `sqlMessage` quotes the duplicate
// entry, knex's timeout errors carry `bindings`. A dual-write binds a bcrypt hash, an import a
// legacy hash, a look-up an e-mail: so only fields that cannot hold a value pass.

/** An error as logs may show it. */
export interface SafeError {
  name: string;
  message: string;
  code?: string | number;
  errno?: number;
  sqlState?: string;
  /** Stack frames only: the first line of `stack` repeats the message as it was. */
  stack?: string;
  cause?: SafeError;
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  sqlMessage?: unknown;
  stack?: unknown;
  cause?: unknown;
}

// A quoted string right after one of these words names a table, a column, a key or the like
// (MySQL: "Data too long for column 'x'", "Duplicate entry '…' for key 'y'"), which helps
// whoever reads the log; every other quoted string may be a value and is withheld.
const NAMES = /\b(?:table|column|field|index|constraint|database|for key)\s*$/i;
const QUOTED = /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g;

/** The message with every quoted string withheld except those that name a schema object. */
export function withholdValues(message: string): string {
  return message.replace(QUOTED, (quoted, offset: number) => (NAMES.test(message.slice(Math.max(0, offset - 20), offset)) ? quoted : '(value withheld)'));
}

/**
 * The driver's own words: mysql2's `sqlMessage`, else what follows knex's "<statement> - "
 * prefix (knex writes the statement into the message; only its placeholders, with
 * compileSqlOnError off, but a raw statement can hold literals too).
 */
function driverMessage(e: ErrorLike): string {
  if (typeof e.sqlMessage === 'string') return e.sqlMessage;
  const message = typeof e.message === 'string' ? e.message : '';
  const cut = message.lastIndexOf(' - ');
  return cut === -1 ? message : message.slice(cut + 3);
}

const MAX_CAUSES = 3;

/** The loggable part of anything thrown. */
export function safeError(error: unknown, depth = 0): SafeError {
  if (typeof error !== 'object' || error === null) return { name: typeof error, message: '(not an Error)' };
  const e = error as ErrorLike;
  const safe: SafeError = {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: withholdValues(driverMessage(e)).slice(0, 500),
  };
  if (typeof e.code === 'string' || typeof e.code === 'number') safe.code = e.code;
  if (typeof e.errno === 'number') safe.errno = e.errno;
  if (typeof e.sqlState === 'string') safe.sqlState = e.sqlState;
  if (typeof e.stack === 'string') {
    const frames = e.stack.split('\n').filter((line) => /^\s+at /.test(line));
    if (frames.length) safe.stack = frames.join('\n');
  }
  if (e.cause !== undefined && depth < MAX_CAUSES) safe.cause = safeError(e.cause, depth + 1);
  return safe;
}

/**
 * One line for a command's output or a dead letter: the driver's code and own message with its
 * values withheld (a duplicate entry names the value, and a statement could carry a hash).
 */
export function describeDatabaseError(error: unknown): string {
  const { code, message } = safeError(error);
  return `${code ?? 'error'}: ${message}`.slice(0, 255);
}
