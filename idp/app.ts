import express from 'express';
import { createDatabase, databaseCheck, migrate } from '../lib/db.ts';
import { createRedis, redisCheck } from '../lib/redis.ts';
import { startService, type RunningService } from '../lib/service.ts';
import { compileTrust } from '../lib/trust-proxy.ts';
import { closeIfBodyUnread } from '../lib/unread-body.ts';
import type { Express } from 'express';
import type Provider from 'oidc-provider';
import type { IdpConfig } from './config.ts';
import { mountAccount } from './account/index.ts';
import { createDualWriteMetrics, createOutbox, createRelay, type Relay } from './dual-write/index.ts';
import { createLegacyAdapterClient } from './legacy/client.ts';
import { createLoginMetrics, createLoginService, type LoginService } from './login/index.ts';
import { createLegacySessionLogin } from './login/legacy-session.ts';
import { loginCheckRouter } from './login/login-check-route.ts';
import { legacyIdentityRouter } from './bridge/legacy-identity-route.ts';
import { logoutSource, mountInteractions, postLogoutSuccessSource, renderError } from './interactions/index.ts';
import { createOidc, mountProvider, type Oidc } from './oidc/index.ts';
import { redisGate } from './redis-gate.ts';
import { idpMigrations } from './store/migrations/index.ts';
import { createLoginThrottle, throttlePolicyFromConfig } from './throttle/index.ts';
import { createUserStore } from './users/store.ts';

/** Test seams: replace the interaction routes, or get hold of the provider in-process. */
export interface IdpHooks {
  mountInteractions?(app: Express, provider: Provider, deps: { login: LoginService }): void;
  onOidc?(oidc: Oidc): void;
}

export async function startIdp(config: IdpConfig, hooks: IdpHooks = {}): Promise<RunningService> {
  return startService('idp', config, { port: config.IDP_PORT, opsPort: config.IDP_OPS_PORT }, async ({ logger, metrics }) => {
    const knex = createDatabase(config.DATABASE_URL);
    if (config.DB_MIGRATE_ON_START) {
      const applied = await migrate(knex, idpMigrations);
      if (applied.length) logger.info({ applied }, 'database migrated');
    }
    // Just-in-time login: the login pages and the internal login-check share this one service.
    const users = createUserStore(knex, { logger });
    const passwordPolicy = { iterations: config.PBKDF2_ITERATIONS, keyLength: 32, saltLength: 16 };
    const legacy = createLegacyAdapterClient({ baseUrl: config.LEGACY_ADAPTER_URL, secret: config.LEGACY_ADAPTER_SECRET, timeoutMs: config.LEGACY_ADAPTER_TIMEOUT_MS });
    const loginService = createLoginService({
      users,
      legacy,
      policy: passwordPolicy,
      metrics: createLoginMetrics(metrics.registry, { countByScheme: () => users.countByPasswordScheme(), logger }),
      logger,
    });
    // Dual-write: password changes of legacy users go back to the legacy site through the outbox.
    let relay: Relay | undefined;
    let dualWriteMetrics: ReturnType<typeof createDualWriteMetrics> | undefined;
    if (config.IDP_DUAL_WRITE) {
      const outbox = createOutbox(knex);
      dualWriteMetrics = createDualWriteMetrics(metrics.registry, { stats: () => outbox.stats(), logger });
      relay = createRelay({
        knex,
        outbox,
        legacy,
        metrics: dualWriteMetrics,
        logger,
        pollMs: config.IDP_DUAL_WRITE_POLL_MS,
        retryBaseMs: config.IDP_DUAL_WRITE_RETRY_BASE_MS,
        retryMaxMs: config.IDP_DUAL_WRITE_RETRY_MAX_MS,
        maxAttempts: config.IDP_DUAL_WRITE_MAX_ATTEMPTS,
        retentionMs: config.IDP_DUAL_WRITE_RETENTION_DAYS * 86_400_000,
        // Longer than any one request to the adapter, so a lease never expires under a live send.
        leaseMs: 2 * config.LEGACY_ADAPTER_TIMEOUT_MS + 5_000,
      });
    }
    const redis = config.REDIS_URL ? createRedis(config.REDIS_URL, { keyPrefix: config.REDIS_KEY_PREFIX, name: 'idp', logger }) : undefined;
    // One throttle for the login form and the password change: both check a password.
    const throttle = createLoginThrottle(throttlePolicyFromConfig(config), redis);
    const app = express();
    app.disable('x-powered-by');
    // The same predicate as the gateway's, so both read TRUST_PROXY alike (express alone takes "true" for an address).
    app.set('trust proxy', compileTrust(config.TRUST_PROXY));
    app.get('/', (_req, res) => {
      res.json({ service: 'idp', issuer: config.IDP_ISSUER });
    });
    app.use('/internal/v1', loginCheckRouter(loginService, config.IDP_INTERNAL_SECRET, logger));
    app.use('/internal/v1', legacyIdentityRouter(users, config.IDP_INTERNAL_SECRET, logger));
    const oidc = await createOidc({
      config,
      knex,
      ...(redis ? { redis } : {}),
      users: loginService,
      async legacyIdentity(sub) {
        const user = await users.findById(sub);
        return user?.active && user.legacyId ? { legacyId: user.legacyId, username: user.username } : undefined;
      },
      logger,
      registry: metrics.registry,
      pages: { renderError, logoutSource, postLogoutSuccessSource },
    });
    hooks.onOidc?.(oidc);
    if (redis) {
      // Everything below needs Redis but discovery, the JWKS and the pages' stylesheet.
      const issuerPath = new URL(config.IDP_ISSUER).pathname.replace(/\/$/, '');
      app.use(redisGate(redis, [`${issuerPath}/.well-known/`, `${issuerPath}/jwks`, '/interaction/static/']));
    }
    // The interaction routes (/interaction/:uid) go before the provider, which answers the rest.
    if (hooks.mountInteractions) hooks.mountInteractions(app, oidc.provider, { login: loginService });
    else {
      mountInteractions(app, oidc.provider, {
        login: loginService,
        users: loginService,
        throttle,
        logger,
        csrfSecret: config.IDP_INTERACTION_SECRET,
        metrics,
        ...(config.IDP_FORGOT_PASSWORD_URL ? { forgotPasswordUrl: config.IDP_FORGOT_PASSWORD_URL } : {}),
        ...(config.IDP_ACCEPT_LEGACY_SESSION ? { legacySession: { login: createLegacySessionLogin({ users, legacy, logger }), cookieName: config.LEGACY_SESSION_NAME, lifetimeSeconds: config.IDP_TTL_LEGACY_SESSION } } : {}),
      });
    }
    mountAccount(app, {
      provider: oidc.provider,
      users,
      throttle,
      policy: passwordPolicy,
      revokeUserGrants: oidc.revokeUserGrants,
      csrfSecret: config.IDP_INTERACTION_SECRET,
      logger,
      registry: metrics.registry,
      ...(relay && dualWriteMetrics
        ? {
            legacyWrite: {
              bcryptCost: config.IDP_DUAL_WRITE_BCRYPT_COST,
              queued: () => {
                dualWriteMetrics.written();
                relay.wake();
              },
            },
          }
        : {}),
    });
    relay?.start();
    mountProvider(app, oidc.provider, config.IDP_ISSUER);
    return {
      // oidc-provider's and express's body parsers answer early at their size limits.
      handler: closeIfBodyUnread(app),
      checks: [databaseCheck(knex), ...(redis ? [redisCheck(redis)] : [])],
      async close() {
        await relay?.stop();
        oidc.close();
        await knex.destroy();
        redis?.disconnect();
      },
    };
  });
}
