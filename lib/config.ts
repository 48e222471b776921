import { z } from 'zod';
import { parseTrustProxy } from './trust-proxy.ts';
import { DEFAULT_WORKER_QUEUE_DEPTH } from './passwords/limits.ts';
import { phpSessionName } from '../contracts/legacy-session-cookie.ts';
import { DEFAULT_WRAP_ITERATIONS } from './passwords/wrap.ts';

/** Thrown when the environment does not describe a runnable service; lists every problem at once. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const nodeEnv = z.enum(['development', 'test', 'production']).default('development');
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export const host = z.string().min(1).default('127.0.0.1');
export const milliseconds = (fallback: number) => z.coerce.number().int().min(0).max(3_600_000).default(fallback);
export const boolFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
export const httpUrl = z.url({ protocol: /^https?$/ });
export const databaseUrl = z.string().refine((v) => /^(sqlite:|mysql:\/\/|mariadb:\/\/)/.test(v), 'must start with sqlite:, mysql:// or mariadb://');
export const redisUrl = z
  .string()
  .refine((v) => /^rediss?:\/\//.test(v), 'must start with redis:// or rediss://')
  .optional()
  .transform((v) => v || undefined);

/** What docs/configuration.md and .env.example say about a variable (npm run docs:config writes both). */
export interface VariableDoc {
  /** What it does, for an operator: markdown (inline code in backticks). */
  description: string;
  /** The default as an operator should read it, where the schema has none or it is derived from another variable. */
  default?: string;
  /** Never printed, never committed; secret() variables are marked without it. */
  secret?: boolean;
  /** Why a production deployment must set it, where the service starts without it but would be wrong. */
  production?: string;
}

export const variableDocs = z.registry<VariableDoc>();

/**
 * `schema` with its documentation: a copy, so that a schema several variables share (a port, a
 * host) can be described once per variable; the copy keeps what the original was registered with
 * (secret()'s development default), since zod registries inherit from a clone's parent.
 */
export function variable<T extends z.ZodType>(schema: T, description: string, more: Omit<VariableDoc, 'description'> = {}): T {
  const copy = schema.clone();
  variableDocs.add(copy, { description, ...more });
  return copy;
}

/** Variables every service reads. */
export const commonEnv = {
  NODE_ENV: variable(nodeEnv, '`development`, `test` or `production`; `production` refuses development secrets and short ones.', {
    production: 'set to `production`',
  }),
  LOG_LEVEL: variable(logLevel, 'pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`; logs are JSON lines with `reqId`.'),
  HOST: variable(host, 'Address the public listener listens on (`0.0.0.0` in a container).'),
  OPS_HOST: variable(
    host,
    'Address of the ops listener (`/metrics`, `/readyz`): loopback unless a prober or scraper elsewhere must reach it (`0.0.0.0` where a kubelet or Prometheus reaches the pod IP), never behind the public load balancer.',
  ),
  SHUTDOWN_GRACE_MS: variable(milliseconds(10_000), 'On SIGTERM, time in-flight requests get to finish; past it they are cut and the exit code is 1.'),
  SHUTDOWN_DELAY_MS: variable(milliseconds(0), 'On SIGTERM, time to answer not-ready before closing the listener (so a load balancer stops sending first).'),
  /** Checked here (lib/trust-proxy.ts), so a bad value stops every service at start. */
  TRUST_PROXY: variable(
    z
      .string()
      .default('loopback')
      .superRefine((value, ctx) => {
        const parsed = parseTrustProxy(value);
        if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.problem });
      }),
    'Whose `X-Forwarded-*` are believed: `true`, `false`, `loopback`, `linklocal`, `uniquelocal`, addresses and CIDRs, comma-separated (from other peers they are replaced); anything else stops the start (exit 78). Name exactly the proxies in front of the service.',
    { production: 'name the load balancer (compose and the Kubernetes overlay require it)' },
  ),
};

const secrets = z.registry<{ devDefault: string; minLength: number }>();

/**
 * A secret that has a development default. In production the default (or anything short)
 * is refused, so a forgotten variable can never ship a value that is in the repository.
 */
export function secret(devDefault: string, minLength = 32) {
  const schema = z.string().default(devDefault);
  schema.register(secrets, { devDefault, minLength });
  return schema;
}

/** What secret() registered `schema` with (its development default, its least length in production), or undefined. */
export function secretOf(schema: z.ZodType): { devDefault: string; minLength: number } | undefined {
  return secrets.get(schema);
}

/** Why `value` cannot be a production secret, or undefined; for secrets outside the registry too (lists of old keys). */
export function productionSecretProblem(name: string, value: string, devDefault: string, minLength = 32): string | undefined {
  if (value === devDefault) return `${name}: the development default cannot be used in production; set a random value (openssl rand -base64 32)`;
  if (value.length < minLength) return `${name}: must be at least ${minLength} characters in production (got ${value.length})`;
  return undefined;
}

/** Former values of a rotated secret, comma-separated: they still read or verify, and make nothing new. */
export const previousSecrets = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
  );

/** In production a former value must be as strong as the current one: it still opens what it made. */
export function previousSecretProblems(name: string, values: readonly string[], devDefault: string): string[] {
  return values.map((value, i) => productionSecretProblem(`${name}[${i}]`, value, devDefault)).filter((p): p is string => p !== undefined);
}

function describeIssue(issue: z.core.$ZodIssue, env: Record<string, string | undefined>): string {
  const name = issue.path.join('.') || '(environment)';
  const raw = issue.path.length === 1 ? env[String(issue.path[0])] : undefined;
  // A URL's password (DATABASE_URL, REDIS_URL, SMTP_URL) is a secret whatever the variable is called.
  const shown =
    raw === undefined
      ? 'it is not set'
      : /SECRET|PASSWORD|TOKEN|KEY/.test(name)
        ? 'got a value of length ' + raw.length
        : `got ${JSON.stringify(raw.replace(/(\/\/[^/@\s]*?:)[^@\s]*@/, '$1***@'))}`;
  return `${name}: ${issue.message} (${shown})`;
}

/** Parses the environment with `shape`; throws ConfigError naming each bad variable. */
export function loadConfig<S extends z.ZodRawShape>(shape: S, env: Record<string, string | undefined> = process.env): z.infer<z.ZodObject<S>> {
  // Empty strings mean "unset": that is how compose files and shells usually say it.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const result = z.object(shape).safeParse(cleaned);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => describeIssue(i, env)));
  const config = result.data as Record<string, unknown>;
  if (config.NODE_ENV === 'production') {
    const problems: string[] = [];
    for (const [name, schema] of Object.entries(shape)) {
      const meta = secretOf(schema as z.ZodType);
      if (!meta) continue;
      const problem = productionSecretProblem(name, String(config[name] ?? ''), meta.devDefault, meta.minLength);
      if (problem) problems.push(problem);
    }
    if (problems.length) throw new ConfigError(problems);
  }
  return config as z.infer<z.ZodObject<S>>;
}

/** PASSWORD_WORKER_QUEUE_MAX: jobs that may wait for a password worker thread (lib/passwords/workers/pool.ts). */
export const passwordWorkerQueueMax = variable(
  z.coerce.number().int().min(0).max(100_000).default(DEFAULT_WORKER_QUEUE_DEPTH),
  'Slow-hash jobs (sha-crypt, md5-crypt, phpass) that may wait for a password worker thread, and the same depth in front of libuv\'s pool (bcrypt, argon2, PBKDF2); one more is answered 503 "busy, try again" (`Retry-After`), never a wrong password (lib/passwords/README.md).',
);

/** The bearer secret the idp presents to the legacy-adapter's internal API (both read the same variable). */
export const legacyAdapterSecret = variable(
  secret('dev-only-legacy-adapter-secret-change-me'),
  "Bearer token of the legacy-adapter's internal API (password verification, imports, dual-write), which the idp presents.",
);

/** The bearer secret of the idp's internal endpoints (the gateway's shadow login checks present it). */
export const idpInternalSecret = variable(
  secret('dev-only-idp-internal-secret-change-me'),
  "Bearer token of the idp's internal endpoints (`POST /internal/v1/login-check`, which the gateway's shadow mode calls).",
);

/** The bearer secret of the legacy-adapter's session endpoints, which the gateway's session bridge presents (both read the same variable). */
export const legacySessionBridgeSecret = variable(
  secret('dev-only-legacy-session-bridge-secret-change-me'),
  "Bearer token of the legacy-adapter's `/internal/v1/sessions`, which the gateway's session bridge presents; not `LEGACY_ADAPTER_SECRET`, which also verifies passwords.",
);

/** The monolith's session cookie name (legacy-php's LEGACY_SESSION_NAME). */
export const legacySessionName = phpSessionName.default('PHPSESSID');

/** Idle seconds before PHP counts a session dead (session.gc_maxlifetime, the phpredis TTL): the adapter writes sessions with it, the gateway keeps which idp session made them as long. */
export const legacySessionLifetime = z.coerce.number().int().min(60).max(31_536_000).default(1440);

/** Read by the batch migration (legacy-adapter/etl) and by the idp's wrap pass (idp/cli/wrap-hashes.ts). */
export const legacyWrapIterations = variable(
  z.coerce
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 1000 && n <= 10_000_000), 'must be 0 (no wrapping) or from 1000 to 10000000')
    .default(DEFAULT_WRAP_ITERATIONS),
  'PBKDF2 iterations the batch migration (`idm migrate users`) wraps cheap legacy hashes (digests, DES and md5 crypt, phpass) with as it copies them, and `idm wrap-hashes` wraps rows copied before; `0` copies them unwrapped (not advised). One PBKDF2 per copied row: see "Wrapped legacy hashes" in lib/passwords/README.md for the count chosen.',
);
