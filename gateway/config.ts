import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError, commonEnv, databaseUrl, httpUrl, idpInternalSecret, loadConfig, milliseconds, port, redisUrl, secret } from '../lib/config.ts';
import { relyingPartyEnv } from './rp/config.ts';

export const gatewayEnv = {
  ...commonEnv,
  GATEWAY_PORT: port(3000),
  /** The ops listener: /metrics and /readyz (0: any free port). */
  GATEWAY_OPS_PORT: port(3100),
  LEGACY_UPSTREAM_URL: httpUrl.default('http://127.0.0.1:8080'),
  LEGACY_HEALTH_PATH: z.string().startsWith('/').default('/'),
  IDP_UPSTREAM_URL: httpUrl.default('http://127.0.0.1:3001'),
  UPSTREAM_TIMEOUT_MS: milliseconds(30_000),
  GATEWAY_ADMIN_TOKEN: secret('dev-only-gateway-admin-token-change-me'),
  DATABASE_URL: databaseUrl.default('sqlite:./data/gateway.sqlite'),
  REDIS_URL: redisUrl,
  REDIS_KEY_PREFIX: z.string().default('idm:'),
  /** The route table (YAML); relative paths are resolved against the working directory. */
  GATEWAY_ROUTES_FILE: z.string().min(1).default('gateway/routes.yaml'),
  /** How often the upstreams, database and Redis are probed for gateway_dependency_up (never readiness); 0: never. */
  GATEWAY_DEPENDENCY_PROBE_MS: z.coerce.number().int().min(0).max(3_600_000).default(5_000),
  /**
   * A stored flag that differs from the audit log is put back to the audited state if it still
   * differs this much later (a flip's audit row is committed just after its store write).
   */
  GATEWAY_FLAG_UNAUDITED_GRACE_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  /** Safety net under pub/sub: every replica re-reads all flags this often. */
  GATEWAY_FLAG_RELOAD_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(30_000),
  GATEWAY_SHADOW_TIMEOUT_MS: milliseconds(2_000),
  GATEWAY_SHADOW_MAX_IN_FLIGHT: z.coerce.number().int().min(0).max(10_000).default(64),
  /** Largest request body copied to the shadow side (login forms are far smaller). */
  GATEWAY_SHADOW_MAX_BODY_BYTES: z.coerce.number().int().min(0).max(1_048_576).default(16_384),
  /**
   * Shadow login checks (each a full password hash on the idp) per second over all clients; past
   * it they are shed and counted. Fractions allowed (0.5: one every two seconds).
   */
  GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND: z.coerce.number().positive().max(10_000).default(2),
  /** Shadow login checks one client address may cause per minute; past it they are counted as throttled. */
  GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(6),
  /** Bearer secret for the idp's internal API (login-check in shadow mode); the idp reads the same variable. */
  IDP_INTERNAL_SECRET: idpInternalSecret,
  /** The idp's public issuer (the gateway's own URL); the idp reads the same variable. */
  IDP_ISSUER: httpUrl.default('http://localhost:3000'),
  /** `iss` of the access tokens the gateway accepts; unset means IDP_ISSUER. */
  GATEWAY_TOKEN_ISSUER: httpUrl.optional(),
  /** `aud` of admin access tokens: the gateway admin resource in the idp's resources file. */
  GATEWAY_ADMIN_AUDIENCE: httpUrl.default('http://localhost:3000/admin'),
  GATEWAY_ADMIN_SCOPE: z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'one scope: printable ASCII without spaces').default('gateway:admin'),
  /**
   * Gateway processes on this machine, sharing its port (node:cluster): a number, or `auto` for
   * one per CPU. More than one needs REDIS_URL, so that every process sees the same flags.
   */
  GATEWAY_WORKERS: z.string().trim().regex(/^(auto|[1-9][0-9]?)$/, 'a number of processes from 1 to 99, or auto (one per CPU)').default('1'),
  /** Allowed clock skew, in seconds, on access tokens' exp/nbf. */
  GATEWAY_TOKEN_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(30),
  /** Least time between two fetches of the idp's JWKS: a token with an unknown `kid` (a key rotation) refetches no sooner. */
  GATEWAY_JWKS_COOLDOWN_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Verified access tokens kept in memory per process (least recently used out first); 0: none. */
  GATEWAY_TOKEN_CACHE_SIZE: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
  /** Seconds an introspection answer for an opaque token is reused (never past the token's exp); 0: ask every time. */
  GATEWAY_INTROSPECTION_CACHE_S: z.coerce.number().int().min(0).max(300).default(30),
  ...relyingPartyEnv,
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env) {
  const config = loadConfig(gatewayEnv, env);
  const workers = config.GATEWAY_WORKERS === 'auto' ? availableParallelism() : Number(config.GATEWAY_WORKERS);
  if (workers > 1 && !config.REDIS_URL) {
    throw new ConfigError([`GATEWAY_WORKERS=${config.GATEWAY_WORKERS} needs REDIS_URL: each worker would otherwise keep its own flags, and a flip would reach only one of them`]);
  }
  return { ...config, GATEWAY_WORKERS: workers, GATEWAY_TOKEN_ISSUER: config.GATEWAY_TOKEN_ISSUER ?? config.IDP_ISSUER };
}
