import { pino, type DestinationStream, type Logger } from 'pino';
import { safeError } from './safe-error.ts';

export type { Logger };

/**
 * Every path that could carry a credential is censored at the logger, so a careless
 * `log.info({ body })` cannot leak one.
 */
const redactPaths = [
  'password',
  '*.password',
  'newPassword',
  '*.newPassword',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'hash',
  '*.hash',
  'salt',
  '*.salt',
  'access_token',
  '*.access_token',
  'refresh_token',
  '*.refresh_token',
  'id_token',
  '*.id_token',
  'client_secret',
  '*.client_secret',
  'code',
  '*.code',
  'code_verifier',
  '*.code_verifier',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-admin-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
];

// Errors keep only fields that cannot hold a bound value (lib/safe-error.ts): pino's own
// serializer would copy every enumerable property, mysql2's `sql` with its bindings included.
const serializeError = (value: unknown): unknown => (value instanceof Error ? safeError(value) : value);

/** The same for errors nested anywhere in a log object, where no serializer looks. */
function withSafeErrors(value: unknown, depth = 0): unknown {
  if (value instanceof Error) return safeError(value);
  if (typeof value !== 'object' || value === null || depth > 4) return value;
  if (Array.isArray(value)) return value.some((v) => typeof v === 'object' && v !== null) ? value.map((v) => withSafeErrors(v, depth + 1)) : value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, inner] of Object.entries(value)) {
    const safe = withSafeErrors(inner, depth + 1);
    if (safe !== inner) (copy ??= { ...value })[key] = safe;
  }
  return copy ?? value;
}

// `*.code` hides authorization codes; an error's code (ER_DUP_ENTRY, ECONNREFUSED) is what an
// operator needs, and the error serializer only ever writes one of those there.
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;
const ERROR_KEYS = new Set(['err', 'error', 'cause']);
function censor(value: unknown, path: string[]): unknown {
  const isErrorCode = path.length === 2 && path[1] === 'code' && ERROR_KEYS.has(path[0] ?? '');
  return isErrorCode && (typeof value === 'number' || (typeof value === 'string' && ERROR_CODE.test(value))) ? value : '[redacted]';
}

/** `destination` defaults to stdout; tests pass a stream to read what was logged. */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths, censor },
    serializers: { err: serializeError, error: serializeError, cause: serializeError },
    formatters: { log: (object: Record<string, unknown>) => withSafeErrors(object) as Record<string, unknown> },
  };
  return destination ? pino(options, destination) : pino(options);
}
