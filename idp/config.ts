import { z } from 'zod';
import { boolFlag, commonEnv, ConfigError, databaseUrl, httpUrl, idpInternalSecret, legacyAdapterSecret, legacySessionName, loadConfig, milliseconds, passwordWorkerQueueMax, port, previousSecretProblems, previousSecrets, redisUrl, secret } from '../lib/config.ts';

const CLIENT_SECRET_KEY_DEV_DEFAULT = 'dev-only-idp-client-secret-hmac-key-change-me';
const KEY_ENCRYPTION_KEY_DEV_DEFAULT = 'dev-only-idp-key-encryption-key-change-me';

export const idpEnv = {
  ...commonEnv,
  IDP_PORT: port(3001),
  /** The ops listener: /metrics and /readyz (0: any free port). */
  IDP_OPS_PORT: port(3101),
  IDP_ISSUER: httpUrl.default('http://localhost:3000'),
  DATABASE_URL: databaseUrl.default('sqlite:./data/idp.sqlite'),
  DB_MIGRATE_ON_START: boolFlag(true),
  REDIS_URL: redisUrl,
  REDIS_KEY_PREFIX: z.string().default('idm:'),
  LEGACY_ADAPTER_URL: httpUrl.default('http://127.0.0.1:3002'),
  LEGACY_ADAPTER_SECRET: legacyAdapterSecret,
  /** How long a login waits for the legacy-adapter before failing as unavailable. */
  LEGACY_ADAPTER_TIMEOUT_MS: milliseconds(5_000),
  /** PBKDF2-HMAC-SHA256 iterations of new hashes; older ones are rehashed at login. OWASP: 600000. */
  PBKDF2_ITERATIONS: z.coerce.number().int().min(1).max(10_000_000).default(600_000),
  /** Password hashing jobs that may wait for a thread (login, password change); one more is answered "unavailable, try again" (503). */
  PASSWORD_WORKER_QUEUE_MAX: passwordWorkerQueueMax,
  IDP_INTERNAL_SECRET: idpInternalSecret,
  /**
   * Bearer secret of the admin endpoint (POST /internal/v1/users/<sub>/sessions/end, `node
   * idp/cli/sessions.ts`); the gateway never holds it. Unset: the endpoint is off (no default
   * that could ship), so deployments that do not use it need nothing new.
   */
  IDP_ADMIN_TOKEN: z.string().min(32, 'at least 32 characters (openssl rand -base64 32)').optional(),
  // Dual-write of password changes back to the legacy site (idp/dual-write).
  IDP_DUAL_WRITE: boolFlag(true),
  /** bcrypt cost of the $2y$ hashes written for the legacy site (PHP's default: 10). */
  IDP_DUAL_WRITE_BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(10),
  IDP_DUAL_WRITE_POLL_MS: z.coerce.number().int().min(50).max(3_600_000).default(1_000),
  IDP_DUAL_WRITE_RETRY_BASE_MS: z.coerce.number().int().min(1).max(3_600_000).default(1_000),
  IDP_DUAL_WRITE_RETRY_MAX_MS: milliseconds(300_000),
  /** Failed attempts after which an event is given up (dead); mapping_cannot_write and a refused secret never count. */
  IDP_DUAL_WRITE_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1_000_000).default(20),
  /** Relayed and dead outbox rows are deleted this many days after they settled. */
  IDP_DUAL_WRITE_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(30),
  // Login pages (idp/interactions) and failed-login throttling (idp/throttle).
  IDP_INTERACTION_SECRET: secret('dev-only-idp-interaction-secret-change-me'),
  IDP_FORGOT_PASSWORD_URL: httpUrl.optional(),
  // Password reset by e-mail (idp/reset) and the idp's mail (idp/mail).
  /** How long a reset link works, in seconds (default 30 minutes). */
  IDP_PASSWORD_RESET_TTL: seconds(1_800, 60, 86_400),
  /** HMAC key of the stored reset tokens; unset: derived from IDP_INTERACTION_SECRET (a key of its own can be rotated alone). */
  IDP_PASSWORD_RESET_SECRET: z.string().min(32, 'must be at least 32 characters').optional().or(z.literal('').transform(() => undefined)),
  /** Reset requests per account (as typed, and as resolved) within IDP_LOGIN_THROTTLE_WINDOW_MS before they are delayed; per address as the login. */
  IDP_PASSWORD_RESET_ACCOUNT_FREE_REQUESTS: z.coerce.number().int().min(1).max(1000).default(3),
  /** smtp://user:pass@host:587 (STARTTLS when offered; add ?requireTLS=true to insist) or smtps://host:465 (TLS). Unset: .eml files in IDP_MAIL_DIR. */
  SMTP_URL: z
    .string()
    .refine((v) => v === '' || /^smtps?:\/\/[^\s]+$/.test(v), 'must start with smtp:// or smtps://')
    .optional()
    .transform((v) => v || undefined),
  MAIL_FROM: z.string().min(3).max(320).default('Sign-in <no-reply@localhost>'),
  /** A directory of replacement mail templates (idp/mail/templates has the defaults and their placeholders). */
  IDP_MAIL_TEMPLATES_DIR: z.string().optional().transform((v) => v || undefined),
  /** Without SMTP_URL, each message is written here as an .eml file. */
  IDP_MAIL_DIR: z.string().min(1).default('data/mail'),
  IDP_MAIL_POLL_MS: z.coerce.number().int().min(50).max(3_600_000).default(1_000),
  IDP_MAIL_RETRY_BASE_MS: z.coerce.number().int().min(1).max(3_600_000).default(1_000),
  IDP_MAIL_RETRY_MAX_MS: milliseconds(300_000),
  /** Sent and rejected rows of the mail outbox (bodies and recipient already erased) are deleted this many days later. */
  IDP_MAIL_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(30),
  /** One SMTP conversation's deadline (connect, greeting, each reply). */
  IDP_MAIL_TIMEOUT_MS: milliseconds(10_000),
  /** A sign-in with no idp session accepts the monolith's live PHP session as the login (once; amr legacy_session). */
  IDP_ACCEPT_LEGACY_SESSION: boolFlag(true),
  /** The monolith's session cookie, which reaches the idp because the gateway serves both on one origin. */
  LEGACY_SESSION_NAME: legacySessionName,
  IDP_LOGIN_THROTTLE_WINDOW_MS: milliseconds(900_000),
  IDP_LOGIN_THROTTLE_ACCOUNT_FREE_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(5),
  IDP_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS: z.coerce.number().int().min(1).max(100_000).default(20),
  /** Per IPv6 /48, on top of the per-/64 count: a host holding a /56 or more rotates through /64s. */
  IDP_LOGIN_THROTTLE_NETWORK_FREE_ATTEMPTS: z.coerce.number().int().min(1).max(1_000_000).default(100),
  IDP_LOGIN_THROTTLE_BASE_DELAY_MS: milliseconds(1_000),
  IDP_LOGIN_THROTTLE_MAX_DELAY_MS: milliseconds(900_000),
  // OpenID Connect provider (idp/oidc).
  IDP_CLIENTS_FILE: z.string().min(1).default('idp/clients.yaml'),
  IDP_RESOURCES_FILE: z.string().min(1).default('idp/resources.yaml'),
  IDP_REGISTRATION_ENABLED: boolFlag(true),
  /** Initial access token of dynamic client registration (RFC 7591): the bearer token to POST /reg. */
  IDP_REGISTRATION_ACCESS_TOKEN: secret('dev-only-idp-registration-access-token'),
  IDP_REGISTRATION_SCOPES: z.string().regex(/^[^\s]+( [^\s]+)*$/, 'space-separated scopes').default('openid profile email offline_access'),
  /** HMAC key of new client secret hashes; IDP_CLIENT_SECRET_KEYS_PREVIOUS still verify older ones. */
  IDP_CLIENT_SECRET_KEY: secret(CLIENT_SECRET_KEY_DEV_DEFAULT),
  /** Comma-separated keys of a rotation: they verify hashes they made, and make none. */
  IDP_CLIENT_SECRET_KEYS_PREVIOUS: previousSecrets,
  /** Key-encryption key of the signing keys' private halves in the database (idp/oidc/keys/key-encryption.ts). */
  IDP_KEY_ENCRYPTION_KEY: secret(KEY_ENCRYPTION_KEY_DEV_DEFAULT),
  /** Comma-separated former IDP_KEY_ENCRYPTION_KEY values, read-only, while `keys.ts reencrypt` rotates. */
  IDP_KEY_ENCRYPTION_KEYS_PREVIOUS: previousSecrets,
  /** Comma-separated; the first signs cookies, all verify (rotate by prepending). */
  IDP_COOKIE_KEYS: secret('dev-only-idp-cookie-key-change-me-please'),
  IDP_PKCE_REQUIRED_FOR_CONFIDENTIAL: boolFlag(true),
  /** Development only: web clients may use http://localhost redirect URIs. Refused in production. */
  IDP_ALLOW_HTTP_LOOPBACK_WEB_REDIRECTS: boolFlag(false),
  IDP_KEYS_POLL_SECONDS: seconds(10, 1, 3600),
  IDP_TTL_ACCESS_TOKEN: seconds(600, 30, 86_400),
  IDP_TTL_CLIENT_CREDENTIALS: seconds(600, 30, 86_400),
  IDP_TTL_AUTHORIZATION_CODE: seconds(60, 10, 600),
  IDP_TTL_ID_TOKEN: seconds(3600, 60, 86_400),
  IDP_TTL_REFRESH_TOKEN: seconds(14 * 86_400, 60, 365 * 86_400),
  IDP_TTL_SESSION: seconds(14 * 86_400, 60, 365 * 86_400),
  /** A sign-in session that only a legacy PHP session vouched for lives no longer than that one would: the monolith's session lifetime. */
  IDP_TTL_LEGACY_SESSION: seconds(1_440, 60, 365 * 86_400),
  IDP_TTL_GRANT: seconds(14 * 86_400, 60, 365 * 86_400),
  IDP_TTL_INTERACTION: seconds(3600, 60, 86_400),
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
