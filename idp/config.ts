import { z } from 'zod';
import {
  boolFlag,
  commonEnv,
  ConfigError,
  databaseUrl,
  httpUrl,
  idpInternalSecret,
  legacyAdapterSecret,
  legacySessionName,
  loadConfig,
  milliseconds,
  passwordWorkerQueueMax,
  port,
  previousSecretProblems,
  previousSecrets,
  redisUrl,
  secret,
  variable,
} from '../lib/config.ts';

const CLIENT_SECRET_KEY_DEV_DEFAULT = 'dev-only-idp-client-secret-hmac-key-change-me';
const KEY_ENCRYPTION_KEY_DEV_DEFAULT = 'dev-only-idp-key-encryption-key-change-me';

export const idpEnv = {
  ...commonEnv,
  IDP_PORT: variable(port(3001), 'Port of the public listener (the gateway forwards to it).'),
  IDP_OPS_PORT: variable(port(3101), 'Port of the ops listener: `/metrics`, `/readyz` (`/healthz` too); `0`: any free port.'),
  IDP_ISSUER: variable(httpUrl.default('http://localhost:3000'), "The public issuer URL: the gateway's origin, where users reach the idp.", {
    production: 'the public https origin',
  }),
  DATABASE_URL: variable(databaseUrl.default('sqlite:./data/idp.sqlite'), '`sqlite:<file>`, `sqlite::memory:` or `mysql://user:pass@host:3306/db`.', {
    secret: true,
    production: 'a shared database when there is more than one replica',
  }),
  IDP_DATABASE_TIMEOUT_MS: variable(
    milliseconds(5_000),
    "MySQL: the longest one statement, a new connection or a free pool slot may take (migrations excepted); past it the request is answered 503 with `Retry-After` (temporarily unavailable) and a statement's connection is closed, never reused. Keep it well under the gateway's `UPSTREAM_TIMEOUT_MS`.",
  ),
  DB_MIGRATE_ON_START: variable(boolFlag(true), 'Apply the database migrations at start (else run `idm migrate db`).'),
  REDIS_URL: variable(
    redisUrl,
    '`redis://host:6379/0`; unset means in-process stores (one replica only). While Redis is unreachable the idp answers everything that needs it with 503 and `Retry-After` at once (discovery and `/jwks` stay up), logs the outage once, and recovers by itself; a Redis command fails after 2 s.',
    { secret: true, default: 'unset', production: 'required with more than one replica' },
  ),
  REDIS_KEY_PREFIX: variable(z.string().default('idm:'), 'Prefix of every Redis key.'),
  LEGACY_ADAPTER_URL: variable(httpUrl.default('http://127.0.0.1:3002'), "The legacy-adapter's internal API."),
  LEGACY_ADAPTER_SECRET: legacyAdapterSecret,
  LEGACY_ADAPTER_TIMEOUT_MS: variable(
    milliseconds(5_000),
    'How long a login waits for the legacy-adapter: the login page then answers 503 "temporarily unavailable" (never "incorrect password") and the attempt is not counted by the throttle.',
  ),
  PBKDF2_ITERATIONS: variable(
    z.coerce.number().int().min(1).max(10_000_000).default(600_000),
    'PBKDF2-HMAC-SHA256 iterations of new hashes (OWASP: 600000); weaker stored hashes are rehashed at login. Production refuses fewer than 100000.',
  ),
  PASSWORD_WORKER_QUEUE_MAX: variable(
    passwordWorkerQueueMax,
    'Password hashing jobs that may wait for a thread (login, password change); one more is answered "temporarily unavailable" (503 with `Retry-After`, not counted by the throttle, `result="busy"` in `idp_logins_total` and `idp_password_changes_total`), never a wrong password.',
  ),
  IDP_INTERNAL_SECRET: idpInternalSecret,
  IDP_ADMIN_TOKEN: variable(
    z.string().min(32, 'at least 32 characters (openssl rand -base64 32)').optional(),
    'Bearer token of the admin endpoint `POST /internal/v1/users/<sub>/sessions/end` (`idm sessions end`); never given to the gateway. Unset: the endpoint refuses every call (401), so there is no default that could ship.',
    { secret: true, default: 'unset (endpoint off)' },
  ),
  IDP_DUAL_WRITE: variable(
    boolFlag(true),
    'Password changes of users with a legacy id are written back to the legacy site (idp/dual-write); `false` writes no outbox events and runs no relay.',
  ),
  IDP_DUAL_WRITE_BCRYPT_COST: variable(
    z.coerce.number().int().min(4).max(15).default(10),
    "Cost (4 to 15) of the `$2y$` bcrypt hashes written for the legacy site (PHP's default: 10).",
  ),
  IDP_DUAL_WRITE_POLL_MS: variable(
    z.coerce.number().int().min(50).max(3_600_000).default(1_000),
    "How often each replica's relay looks for due outbox events (a change on the same replica wakes it at once).",
  ),
  IDP_DUAL_WRITE_RETRY_BASE_MS: variable(
    z.coerce.number().int().min(1).max(3_600_000).default(1_000),
    'First retry delay of a failed relay; it doubles per failed attempt (up to 20 % jitter).',
  ),
  IDP_DUAL_WRITE_RETRY_MAX_MS: variable(
    milliseconds(300_000),
    'Cap of that delay: a pending event is retried at least this often; at least `IDP_DUAL_WRITE_RETRY_BASE_MS`.',
  ),
  IDP_DUAL_WRITE_MAX_ATTEMPTS: variable(
    z.coerce.number().int().min(1).max(1_000_000).default(20),
    'Failed attempts after which an outbox event is given up (`dead`); only failures particular to the event count: outages (unreachable, timeout, 502/503/504), `mapping_cannot_write` and a refused adapter secret never do.',
  ),
  IDP_DUAL_WRITE_RETENTION_DAYS: variable(
    z.coerce.number().int().min(1).max(36_500).default(30),
    'Relayed and dead outbox rows are deleted this many days after they settled (by each relay, at most hourly, in batches of 500).',
  ),
  IDP_INTERACTION_SECRET: variable(
    secret('dev-only-idp-interaction-secret-change-me'),
    'Key of the per-interaction CSRF tokens on the login and consent forms; the same on every replica.',
  ),
  IDP_FORGOT_PASSWORD_URL: variable(
    httpUrl.optional(),
    'An override: "Forgot password?" on the login page leads there instead of the idp\'s own reset page (`/interaction/password-reset`).',
    { default: "unset (the idp's own page)" },
  ),
  IDP_PASSWORD_RESET_TTL: variable(seconds(1_800, 60, 86_400), 'Seconds a password reset link works (once).'),
  IDP_PASSWORD_RESET_SECRET: variable(
    z
      .string()
      .min(32, 'must be at least 32 characters')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    'HMAC key of the stored reset tokens (a key of its own can be rotated alone); the same on every replica. Changing it voids the links in flight.',
    { secret: true, default: 'derived from `IDP_INTERACTION_SECRET`' },
  ),
  IDP_PASSWORD_RESET_ACCOUNT_FREE_REQUESTS: variable(
    z.coerce.number().int().min(1).max(1000).default(3),
    'Reset requests per account (as typed, and as resolved) within `IDP_LOGIN_THROTTLE_WINDOW_MS` before they are delayed as failed logins are; per address as `IDP_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS`. A throttled request gets the same page and no mail.',
  ),
  SMTP_URL: variable(
    z
      .string()
      .refine((v) => v === '' || /^smtps?:\/\/[^\s]+$/.test(v), 'must start with smtp:// or smtps://')
      .optional()
      .transform((v) => v || undefined),
    '`smtp://user:pass@host:587` (STARTTLS when the server offers it; `?requireTLS=true` insists) or `smtps://user:pass@host:465` (TLS). Unset: every message is written as an `.eml` file in `IDP_MAIL_DIR` and, outside production, reset links are logged (a link is a credential).',
    { secret: true, default: 'unset (.eml files)', production: 'the mail relay' },
  ),
  MAIL_FROM: variable(z.string().min(3).max(320).default('Sign-in <no-reply@localhost>'), "The `From:` of the idp's mail."),
  IDP_MAIL_TEMPLATES_DIR: variable(
    z
      .string()
      .optional()
      .transform((v) => v || undefined),
    'A directory of replacement templates: `<name>.txt` (first line `Subject: ...`) and `<name>.html` for `password-reset` ({{name}}, {{link}}, {{minutes}}) and `password-reset-done` ({{name}}); values are HTML-escaped in `.html`; read at start.',
    { default: '`idp/mail/templates`' },
  ),
  IDP_MAIL_DIR: variable(z.string().min(1).default('data/mail'), 'Where messages are written, as `.eml` files, without `SMTP_URL`.'),
  IDP_MAIL_POLL_MS: variable(
    z.coerce.number().int().min(50).max(3_600_000).default(1_000),
    'The mail worker looks for due messages this often (a new one is sent at once).',
  ),
  IDP_MAIL_RETRY_BASE_MS: variable(z.coerce.number().int().min(1).max(3_600_000).default(1_000), 'First retry delay of a failed send; it doubles per attempt.'),
  IDP_MAIL_RETRY_MAX_MS: variable(
    milliseconds(300_000),
    'Cap of that delay (a message is retried until the server takes it); at least `IDP_MAIL_RETRY_BASE_MS`.',
  ),
  IDP_MAIL_RETENTION_DAYS: variable(
    z.coerce.number().int().min(1).max(36_500).default(30),
    'Sent and rejected `mail_outbox` rows (bodies, recipient and subject erased at sending) are deleted this many days later.',
  ),
  IDP_MAIL_TIMEOUT_MS: variable(milliseconds(10_000), "One SMTP step's deadline (connect, greeting, each reply)."),
  IDP_ACCEPT_LEGACY_SESSION: variable(
    boolFlag(true),
    "A sign-in with no idp session accepts the monolith's live PHP session as the login, once (amr `legacy_session`); `false` always shows the password page.",
  ),
  LEGACY_SESSION_NAME: variable(
    legacySessionName,
    "Deprecated here: the idp reads the monolith's session cookie by the name the legacy-adapter announces (the mapping's `session.cookie.name`, `GET /internal/v1/legacy-sessions/cookie`); this name is used only while an adapter from before that contract announces none.",
  ),
  IDP_LOGIN_THROTTLE_WINDOW_MS: variable(
    milliseconds(900_000),
    'Failed logins are counted per account and per client address, and forgotten this long after the last one.',
  ),
  IDP_LOGIN_THROTTLE_ACCOUNT_FREE_ATTEMPTS: variable(
    z.coerce.number().int().min(1).max(1000).default(5),
    "Attempts per account in the window before delays start, counted twice over: per identifier as typed (case and accents folded; existing or not) and per account the login resolved to (so `alice`, `álice` and alice's e-mail address share one count).",
  ),
  IDP_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS: variable(
    z.coerce.number().int().min(1).max(100_000).default(20),
    'The same per client address (`req.ip` as `TRUST_PROXY` allows; IPv6 per /64).',
  ),
  IDP_LOGIN_THROTTLE_NETWORK_FREE_ATTEMPTS: variable(
    z.coerce.number().int().min(1).max(1_000_000).default(100),
    'The same per IPv6 /48, on top of the per-/64 count: a host holding a /56 or more cannot rotate through its /64s.',
  ),
  IDP_LOGIN_THROTTLE_BASE_DELAY_MS: variable(milliseconds(1_000), 'The first delay; it doubles with each further attempt.'),
  IDP_LOGIN_THROTTLE_MAX_DELAY_MS: variable(milliseconds(900_000), 'Cap of the delay (one attempt per this long: the lockout window); at most the window.'),
  IDP_CLIENTS_FILE: variable(
    z.string().min(1).default('idp/clients.yaml'),
    'The clients operators declare (YAML); a bad file stops the start naming the client and the field.',
  ),
  IDP_RESOURCES_FILE: variable(z.string().min(1).default('idp/resources.yaml'), 'The APIs tokens are issued for: audience, scopes, who may introspect (YAML).'),
  IDP_REGISTRATION_ENABLED: variable(boolFlag(true), 'Dynamic client registration (RFC 7591) at `POST /reg`.'),
  IDP_REGISTRATION_ACCESS_TOKEN: variable(
    secret('dev-only-idp-registration-access-token'),
    'The initial access token `POST /reg` needs (`Authorization: Bearer ...`).',
  ),
  IDP_REGISTRATION_SCOPES: variable(
    z
      .string()
      .regex(/^[^\s]+( [^\s]+)*$/, 'space-separated scopes')
      .default('openid profile email offline_access'),
    'Scopes a registered client may ask for (and gets by default), space-separated; API scopes are given in the clients file only.',
  ),
  IDP_CLIENT_SECRET_KEY: variable(
    secret(CLIENT_SECRET_KEY_DEV_DEFAULT),
    'HMAC-SHA256 key of stored client secrets; new hashes use it. Change it only by a rotation (`IDP_CLIENT_SECRET_KEYS_PREVIOUS`), or every client secret stops working.',
  ),
  IDP_CLIENT_SECRET_KEYS_PREVIOUS: variable(
    previousSecrets,
    'Comma-separated former `IDP_CLIENT_SECRET_KEY` values whose hashes still verify (they make none); each must pass the production checks the current key does.',
    { secret: true, default: 'none' },
  ),
  IDP_KEY_ENCRYPTION_KEY: variable(
    secret(KEY_ENCRYPTION_KEY_DEV_DEFAULT),
    "Encrypts the signing keys' private halves in the database (AES-256-GCM); a key it cannot open stops the idp (exit 78).",
  ),
  IDP_KEY_ENCRYPTION_KEYS_PREVIOUS: variable(
    previousSecrets,
    'Comma-separated former `IDP_KEY_ENCRYPTION_KEY` values, read only, while `idm keys reencrypt` rotates it.',
    { secret: true, default: 'none' },
  ),
  IDP_COOKIE_KEYS: variable(
    secret('dev-only-idp-cookie-key-change-me-please'),
    "Comma-separated keys signing the provider's cookies: the first signs, all verify (rotate by prepending).",
  ),
  IDP_PKCE_REQUIRED_FOR_CONFIDENTIAL: variable(
    boolFlag(true),
    "PKCE for confidential web clients too (a client's `pkce_required` overrides it); public and native clients always need it.",
  ),
  IDP_ALLOW_HTTP_LOOPBACK_WEB_REDIRECTS: variable(
    boolFlag(false),
    'Development only: web clients may use `http://localhost` redirect URIs (never implicit ones). Production refuses it.',
  ),
  IDP_KEYS_POLL_SECONDS: variable(seconds(10, 1, 3600), 'How often each replica re-reads the signing keys (a rotation reaches every replica within this).'),
  IDP_TTL_ACCESS_TOKEN: variable(seconds(600, 30, 86_400), "Seconds; access tokens from a user's grant (a resource's `access_token_ttl` wins)."),
  IDP_TTL_CLIENT_CREDENTIALS: variable(seconds(600, 30, 86_400), "Seconds; client-credentials access tokens (a resource's `access_token_ttl` wins)."),
  IDP_TTL_AUTHORIZATION_CODE: variable(seconds(60, 10, 600), 'Seconds an authorization code is valid.'),
  IDP_TTL_ID_TOKEN: variable(seconds(3600, 60, 86_400), 'Seconds an ID token is valid.'),
  IDP_TTL_REFRESH_TOKEN: variable(seconds(14 * 86_400, 60, 365 * 86_400), 'Seconds a refresh token is valid (14 days); each use rotates it.'),
  IDP_TTL_SESSION: variable(seconds(14 * 86_400, 60, 365 * 86_400), 'Seconds a sign-in session lives.'),
  IDP_TTL_LEGACY_SESSION: variable(
    seconds(1_440, 60, 365 * 86_400),
    "Seconds a sign-in session that only a legacy PHP session vouched for lives (amr `legacy_session`): keep it at the monolith's session lifetime, so that a stolen PHP session id buys no more than itself.",
  ),
  IDP_TTL_GRANT: variable(seconds(14 * 86_400, 60, 365 * 86_400), 'Seconds the consent a grant records lasts.'),
  IDP_TTL_INTERACTION: variable(seconds(3600, 60, 86_400), 'Seconds a login or consent page stays valid.'),
};

function seconds(fallback: number, min: number, max: number) {
  return z.coerce.number().int().min(min).max(max).default(fallback);
}

export type IdpConfig = ReturnType<typeof loadIdpConfig>;

export function loadIdpConfig(env: Record<string, string | undefined> = process.env) {
  const config = loadConfig(idpEnv, env);
  // Tests lower the cost to stay fast; production must not ship that by accident.
  if (config.NODE_ENV === 'production' && config.PBKDF2_ITERATIONS < 100_000) {
    throw new ConfigError([`PBKDF2_ITERATIONS: must be at least 100000 in production (got ${config.PBKDF2_ITERATIONS}); OWASP recommends 600000`]);
  }
  if (config.NODE_ENV === 'production') {
    const problems = [
      ...previousSecretProblems('IDP_CLIENT_SECRET_KEYS_PREVIOUS', config.IDP_CLIENT_SECRET_KEYS_PREVIOUS, CLIENT_SECRET_KEY_DEV_DEFAULT),
      ...previousSecretProblems('IDP_KEY_ENCRYPTION_KEYS_PREVIOUS', config.IDP_KEY_ENCRYPTION_KEYS_PREVIOUS, KEY_ENCRYPTION_KEY_DEV_DEFAULT),
    ];
    if (problems.length) throw new ConfigError(problems);
  }
  if (config.IDP_DUAL_WRITE_RETRY_MAX_MS < config.IDP_DUAL_WRITE_RETRY_BASE_MS) {
    throw new ConfigError([`IDP_DUAL_WRITE_RETRY_MAX_MS: must be at least IDP_DUAL_WRITE_RETRY_BASE_MS (${config.IDP_DUAL_WRITE_RETRY_BASE_MS})`]);
  }
  if (config.IDP_MAIL_RETRY_MAX_MS < config.IDP_MAIL_RETRY_BASE_MS) {
    throw new ConfigError([`IDP_MAIL_RETRY_MAX_MS: must be at least IDP_MAIL_RETRY_BASE_MS (${config.IDP_MAIL_RETRY_BASE_MS})`]);
  }
  if (config.NODE_ENV === 'production' && config.IDP_ALLOW_HTTP_LOOPBACK_WEB_REDIRECTS) {
    throw new ConfigError(['IDP_ALLOW_HTTP_LOOPBACK_WEB_REDIRECTS: web clients must use https redirect URIs in production (RFC 9700); unset it']);
  }
  return config;
}
