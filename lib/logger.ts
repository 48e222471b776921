import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Every path that could carry a credential is censored at the logger, so a careless
 * `log.info({ body })` cannot leak one.
 */
const redactPaths = [
  'password', '*.password', 'newPassword', '*.newPassword',
  'secret', '*.secret', 'token', '*.token', 'hash', '*.hash', 'salt', '*.salt',
  'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'id_token', '*.id_token',
  'client_secret', '*.client_secret', 'code', '*.code', 'code_verifier', '*.code_verifier',
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-admin-token"]',
  'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie',
];

export function createLogger(service: string, level: string): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths, censor: '[redacted]' },
  });
}
