import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError, commonEnv, databaseUrl, httpUrl, idpInternalSecret, loadConfig, milliseconds, port, redisUrl, secret, variable } from '../lib/config.ts';
import { relyingPartyEnv } from './signin/config.ts';

export const gatewayEnv = {
  ...commonEnv,
  GATEWAY_PORT: variable(port(3000), 'Port of the public listener.'),
  GATEWAY_OPS_PORT: variable(port(3100), 'Port of the ops listener: `/metrics`, `/readyz` (`/healthz` too); `0`: any free port.'),
  LEGACY_UPSTREAM_URL: variable(httpUrl.default('http://127.0.0.1:8080'), 'The legacy PHP monolith, where routes not flipped go.', {
    production: "the monolith's address",
  }),
  LEGACY_HEALTH_PATH: variable(
    z.string().startsWith('/').default('/'),
    'Path of the monolith probed in the background for `gateway_dependency_up{dependency="legacy"}` (not readiness).',
  ),
  IDP_UPSTREAM_URL: variable(httpUrl.default('http://127.0.0.1:3001'), 'The idp, where flipped routes go.', { production: "the idp's address" }),
  UPSTREAM_TIMEOUT_MS: variable(milliseconds(30_000), 'How long an upstream may take to answer; past it the gateway answers 504.'),
  GATEWAY_ALLOWED_HOSTS: variable(
    z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((h) => h.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/, 'a host name or address, with an optional :port'))),
    "Comma-separated `Host` values the gateway serves (`site.example`, `site.example:8443`; no port: any port); any other `Host` is answered 421 and reaches no upstream, so a monolith that builds links from `Host` never builds them for a client's choice. Empty: every `Host`.",
    { production: 'the public host names of the site' },
  ),
  GATEWAY_ADMIN_TOKEN: variable(secret('dev-only-gateway-admin-token-change-me'), 'Bearer token of the admin API, the routes CLI and the admin page.'),
  DATABASE_URL: variable(
    databaseUrl.default('sqlite:./data/gateway.sqlite'),
    "The gateway's database (route flags' audit log): `sqlite:<file>`, `sqlite::memory:` or `mysql://user:pass@host:3306/db`.",
    { secret: true, production: 'a shared database when there is more than one replica' },
  ),
  GATEWAY_DATABASE_TIMEOUT_MS: variable(
    milliseconds(5_000),
    "MySQL: the longest one statement, a new connection or a free pool slot of the gateway's database may take (migrations excepted); past it a flip is refused with 503 `audit_log_unavailable` and undone, and the connection is closed, never reused.",
  ),
  REDIS_URL: variable(
    redisUrl,
    '`redis://host:6379/0`: route flags shared by every replica and process (pub/sub pushes a flip); unset: flags in-process (one process only).',
    { secret: true, default: 'unset' },
  ),
  REDIS_KEY_PREFIX: variable(z.string().default('idm:'), 'Prefix of every Redis key.'),
  GATEWAY_ROUTES_FILE: variable(
    z.string().min(1).default('gateway/routes.yaml'),
    'The route table (YAML), relative to the working directory; a bad file stops the start (exit 78) naming the route and the problem.',
  ),
  GATEWAY_DEPENDENCY_PROBE_MS: variable(
    z.coerce.number().int().min(0).max(3_600_000).default(5_000),
    'How often the monolith, the idp, the legacy-adapter, the database and Redis are probed for `gateway_dependency_up{dependency}` (alert `GatewayDependencyDown`); none of them is part of readiness; `0`: never.',
  ),
  GATEWAY_FLAG_UNAUDITED_GRACE_MS: variable(
    z.coerce.number().int().min(100).max(3_600_000).default(10_000),
    "A stored flag that differs from the audit log's last state is put back to that state if it still differs this much later (a flip's audit row is committed just after its store write, so this must outlast that transaction).",
  ),
  GATEWAY_FLAG_RELOAD_MS: variable(
    z.coerce.number().int().min(1_000).max(3_600_000).default(30_000),
    'Every replica re-reads all flags this often: the safety net under Redis pub/sub.',
  ),
  GATEWAY_SHADOW_TIMEOUT_MS: variable(milliseconds(2_000), 'Total time a shadow copy (or login check) may take; past it, it counts as `error`.'),
  GATEWAY_SHADOW_MAX_IN_FLIGHT: variable(
    z.coerce.number().int().min(0).max(10_000).default(64),
    'Shadow copies in flight at once; past it they are dropped (and counted).',
  ),
  GATEWAY_SHADOW_MAX_BODY_BYTES: variable(
    z.coerce.number().int().min(0).max(1_048_576).default(16_384),
    'Largest request body copied to the shadow side (login forms are far smaller); bigger ones are not shadowed.',
  ),
  GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND: variable(
    z.coerce.number().positive().max(10_000).default(2),
    'Shadow login checks (each a full password hash on the idp) per second over all clients, per gateway process (the idp sees up to this times the processes); fractions allowed (`0.5`: one every two seconds). Past it they are shed (`result="shed"`).',
  ),
  GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE: variable(
    z.coerce.number().int().min(1).max(10_000).default(6),
    'Shadow login checks one client address (`X-Forwarded-For` as `TRUST_PROXY` allows; IPv6 per /64) may cause per minute, per gateway process; past it they count as `result="throttled"`.',
  ),
  IDP_INTERNAL_SECRET: variable(
    idpInternalSecret,
    "Bearer token the gateway presents to the idp's login check (shadow mode); the idp reads the same variable.",
  ),
  IDP_ISSUER: variable(httpUrl.default('http://localhost:3000'), "The idp's public issuer (the gateway's own URL); the idp reads the same variable.", {
    production: 'the public https origin',
  }),
  GATEWAY_TOKEN_ISSUER: variable(
    httpUrl.optional(),
    '`iss` of the idp access tokens the gateway accepts (admin API, API routes, canary stickiness); their keys come from `IDP_UPSTREAM_URL/jwks`.',
    { default: '`IDP_ISSUER`' },
  ),
  GATEWAY_ADMIN_AUDIENCE: variable(
    httpUrl.default('http://localhost:3000/admin'),
    "`aud` an admin access token must have: the gateway admin resource in the idp's resources file.",
  ),
  GATEWAY_ADMIN_SCOPE: variable(
    z
      .string()
      .regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'one scope: printable ASCII without spaces')
      .default('gateway:admin'),
    'Scope an access token needs for the admin API and the routes CLI.',
  ),
  GATEWAY_WORKERS: variable(
    z
      .string()
      .trim()
      .regex(/^(auto|[1-9][0-9]?)$/, 'a number of processes from 1 to 99, or auto (one per CPU)')
      .default('1'),
    'Gateway processes on this machine sharing its port (node:cluster): a number, or `auto` for one per CPU. More than one needs `REDIS_URL`, so that every process sees the same flags (the start refuses otherwise). The primary replaces a worker that dies and passes SIGTERM on; `/metrics` and the admin traffic figures are the sum over workers. compose uses `auto`; in Kubernetes keep `1` and let the autoscaler add pods.',
  ),
  GATEWAY_TOKEN_CLOCK_TOLERANCE_S: variable(
    z.coerce.number().int().min(0).max(300).default(30),
    "Seconds of clock skew allowed on access tokens' `exp` and `nbf`.",
  ),
  GATEWAY_JWKS_COOLDOWN_MS: variable(
    z.coerce.number().int().min(100).max(600_000).default(30_000),
    "Least time between two fetches of the idp's JWKS: a token with an unknown `kid` (a key rotation) refetches no sooner.",
  ),
  GATEWAY_TOKEN_CACHE_SIZE: variable(
    z.coerce.number().int().min(0).max(1_000_000).default(10_000),
    'Verified access tokens kept in memory per process (least recently used out first); `0`: none.',
  ),
  GATEWAY_INTROSPECTION_CACHE_S: variable(
    z.coerce.number().int().min(0).max(300).default(30),
    "Seconds an introspection answer for an opaque token is reused (never past the token's `exp`); `0`: ask every time.",
  ),
  ...relyingPartyEnv,
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env) {
  const config = loadConfig(gatewayEnv, env);
  const workers = config.GATEWAY_WORKERS === 'auto' ? availableParallelism() : Number(config.GATEWAY_WORKERS);
  if (workers > 1 && !config.REDIS_URL) {
    throw new ConfigError([
      `GATEWAY_WORKERS=${config.GATEWAY_WORKERS} needs REDIS_URL: each worker would otherwise keep its own flags, and a flip would reach only one of them`,
    ]);
  }
  return { ...config, GATEWAY_WORKERS: workers, GATEWAY_TOKEN_ISSUER: config.GATEWAY_TOKEN_ISSUER ?? config.IDP_ISSUER };
}
