import { createHmac } from 'node:crypto';
import express from 'express';
import { databaseCheck, openServiceDatabase } from '../lib/db.ts';
import { configurePasswordWorkers } from '../lib/passwords/index.ts';
import { createRedis, redisCheck } from '../lib/redis.ts';
import { startService, type RunningService } from '../lib/service.ts';
import { compileTrust } from '../lib/trust-proxy.ts';
import { closeIfBodyUnread } from '../lib/unread-body.ts';
import type { Express } from 'express';
import type Provider from 'oidc-provider';
import type { IdpConfig } from './config.ts';
import { createPasswordChangeMetrics, createPendingRevocations, createRevocationRetrier, mountAccount } from './account/index.ts';
import { IDP_INTERNAL_API_BASE } from '../contracts/idp-internal-api.ts';
import { endSessionsRouter } from './account/end-sessions-route.ts';
import { createDualWriteMetrics, createOutbox, createRelay, type Relay } from './dual-write/index.ts';
import { createLegacyAdapterClient } from './adapter-client/client.ts';
import { legacySessionCookieName } from './adapter-client/session-cookie-name.ts';
import { createPasswordLoginMetrics, createLoginService, type LoginService } from './login/index.ts';
import { createLegacySessionLogin } from './login/legacy-session.ts';
import { loginCheckRouter } from './login/login-check-route.ts';
import { legacyIdentityRouter } from './bridge/legacy-identity-route.ts';
import { importRouter } from './import/route.ts';
import { logoutSource, mountInteractions, postLogoutSuccessSource, renderError, unavailable } from './interactions/index.ts';
import { createOidc, mountProvider, type Oidc } from './oidc/index.ts';
import { redisGate } from './redis-gate.ts';
import { idpMigrations } from './store/migrations/index.ts';
import { createLoginThrottle, createMemoryThrottle, createRedisThrottle, throttlePolicyFromConfig } from './throttle/index.ts';
import { createMailer, createMailMetrics, createMailOutbox, createMailTransport, loadMailTemplates } from './mail/index.ts';
import { createResetMetrics, createResetTokens, mountReset, RESET_PATH } from './reset/index.ts';
import { createUserStore } from './users/store.ts';

/** Test seams: replace the interaction routes, or get hold of the provider in-process. */
export interface IdpHooks {
  mountInteractions?(app: Express, provider: Provider, deps: { login: LoginService }): void;
  onOidc?(oidc: Oidc): void;
  /** The express app once every route is mounted (a test walks them). */
  onApp?(app: Express): void;
}

export async function startIdp(config: IdpConfig, hooks: IdpHooks = {}): Promise<RunningService> {
  return startService('idp', config, { port: config.IDP_PORT, opsPort: config.IDP_OPS_PORT }, async ({ logger, metrics }) => {
    // Every statement on a request path has a deadline shorter than the gateway's (the caller's).
    const { knex, applied } = await openServiceDatabase(
      config.DATABASE_URL,
      config.IDP_DATABASE_TIMEOUT_MS,
      config.DB_MIGRATE_ON_START ? { list: idpMigrations } : undefined,
    );
    if (applied.length) logger.info({ applied }, 'database migrated');
    // Just-in-time login: the login pages and the internal login-check share this one service.
    const users = createUserStore(knex, { logger });
    configurePasswordWorkers({ maxQueue: config.PASSWORD_WORKER_QUEUE_MAX });
    const passwordPolicy = { iterations: config.PBKDF2_ITERATIONS, keyLength: 32, saltLength: 16 };
    const legacy = createLegacyAdapterClient({
      baseUrl: config.LEGACY_ADAPTER_URL,
      secret: config.LEGACY_ADAPTER_SECRET,
      timeoutMs: config.LEGACY_ADAPTER_TIMEOUT_MS,
    });
    const loginService = createLoginService({
      users,
      legacy,
      policy: passwordPolicy,
      metrics: createPasswordLoginMetrics(metrics.registry, { countByScheme: () => users.countByPasswordScheme(), logger }),
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
    // The idp's mail (password reset): stored first, sent by a worker, retried while SMTP is away.
    const mailOutbox = createMailOutbox(knex);
    const mailTransport = createMailTransport({ smtpUrl: config.SMTP_URL, dir: config.IDP_MAIL_DIR, timeoutMs: config.IDP_MAIL_TIMEOUT_MS });
    if (mailTransport.kind === 'file') {
      logger[config.NODE_ENV === 'production' ? 'warn' : 'info'](
        { dir: config.IDP_MAIL_DIR },
        'no SMTP_URL: mail is written as .eml files, nobody receives it',
      );
    }
    const mailer = createMailer({
      outbox: mailOutbox,
      transport: mailTransport,
      templates: loadMailTemplates(config.IDP_MAIL_TEMPLATES_DIR),
      from: config.MAIL_FROM,
      metrics: createMailMetrics(metrics.registry, { stats: () => mailOutbox.stats(), logger }),
      logger,
      pollMs: config.IDP_MAIL_POLL_MS,
      retryBaseMs: config.IDP_MAIL_RETRY_BASE_MS,
      retryMaxMs: config.IDP_MAIL_RETRY_MAX_MS,
      leaseMs: 4 * config.IDP_MAIL_TIMEOUT_MS + 5_000,
      development: config.NODE_ENV !== 'production',
      retentionMs: config.IDP_MAIL_RETENTION_DAYS * 86_400_000,
    });
    const app = express();
    app.disable('x-powered-by');
    // The same predicate as the gateway's, so both read TRUST_PROXY alike (express alone takes "true" for an address).
    app.set('trust proxy', compileTrust(config.TRUST_PROXY));
    app.get('/', (_req, res) => {
      res.json({ service: 'idp', issuer: config.IDP_ISSUER });
    });
    // The admin endpoints come first: the internal routers below refuse whatever lacks their own secret.
    const adminRoutes = express.Router();
    app.use(IDP_INTERNAL_API_BASE, adminRoutes);
    app.use(IDP_INTERNAL_API_BASE, loginCheckRouter(loginService, config.IDP_INTERNAL_SECRET, logger));
    app.use(IDP_INTERNAL_API_BASE, legacyIdentityRouter(users, config.IDP_INTERNAL_SECRET, logger));
    app.use(IDP_INTERNAL_API_BASE, importRouter(knex, config.IDP_INTERNAL_SECRET, logger));
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
      pages: { renderError, logoutSource, postLogoutSuccessSource, unavailable },
    });
    hooks.onOidc?.(oidc);
    if (config.IDP_ADMIN_TOKEN) adminRoutes.use(endSessionsRouter(oidc.endEverySession, config.IDP_ADMIN_TOKEN, logger));
    if (redis) {
      // Everything below needs Redis but discovery, the JWKS and the pages' stylesheet.
      const issuerPath = new URL(config.IDP_ISSUER).pathname.replace(/\/$/, '');
      app.use(redisGate(redis, [`${issuerPath}/.well-known/`, `${issuerPath}/jwks`, '/interaction/static/']));
    }
    const legacyWrite =
      relay && dualWriteMetrics
        ? {
            bcryptCost: config.IDP_DUAL_WRITE_BCRYPT_COST,
            queued: () => {
              dualWriteMetrics.written();
              relay.wake();
            },
          }
        : undefined;
    // Before the interaction routes: their /interaction/:uid would take /interaction/password-reset.
    const resetPolicy = { ...throttlePolicyFromConfig(config), accountFreeAttempts: config.IDP_PASSWORD_RESET_ACCOUNT_FREE_REQUESTS };
    const pendingRevocations = createPendingRevocations(knex);
    // A key of its own, or one derived from the interaction secret for this use alone.
    const resetTokens = createResetTokens(knex, {
      key: config.IDP_PASSWORD_RESET_SECRET ?? createHmac('sha256', config.IDP_INTERACTION_SECRET).update('password-reset-token-key').digest('base64url'),
      ttlMs: config.IDP_PASSWORD_RESET_TTL * 1000,
    });
    const reset = mountReset(app, {
      users,
      legacy,
      tokens: resetTokens,
      mailer,
      throttle: redis ? createRedisThrottle(redis, resetPolicy, { prefix: 'reset-throttle:' }) : createMemoryThrottle(resetPolicy),
      metrics: createResetMetrics(metrics.registry, { links: () => resetTokens.stats(), logger }),
      policy: passwordPolicy,
      revokeUserGrants: oidc.revokeUserGrants,
      pendingRevocations,
      ...(legacyWrite ? { legacyWrite } : {}),
      logger,
      publicOrigin: new URL(config.IDP_ISSUER).origin,
      ttlSeconds: config.IDP_PASSWORD_RESET_TTL,
    });
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
        // The idp's own reset unless ops point the link elsewhere.
        forgotPasswordUrl: config.IDP_FORGOT_PASSWORD_URL ?? RESET_PATH,
        ...(config.IDP_ACCEPT_LEGACY_SESSION
          ? {
              legacySession: {
                login: createLegacySessionLogin({ users, legacy, logger }),
                cookieName: legacySessionCookieName(legacy, config.LEGACY_SESSION_NAME),
                lifetimeSeconds: config.IDP_TTL_LEGACY_SESSION,
              },
            }
          : {}),
      });
    }
    // Revocations a password change or reset could not finish (Redis failed after the commit):
    // done at start, whenever Redis is back, and every half minute.
    const revocationRetrier = createRevocationRetrier({
      pending: pendingRevocations,
      revokeUserGrants: oidc.revokeUserGrants,
      metrics: createPasswordChangeMetrics(metrics.registry),
      logger,
    });
    redis?.on('ready', () => revocationRetrier.wake());
    mountAccount(app, {
      provider: oidc.provider,
      users,
      throttle,
      policy: passwordPolicy,
      revokeUserGrants: oidc.revokeUserGrants,
      pendingRevocations,
      csrfSecret: config.IDP_INTERACTION_SECRET,
      logger,
      registry: metrics.registry,
      ...(legacyWrite ? { legacyWrite } : {}),
    });
    relay?.start();
    revocationRetrier.start();
    mailer.start();
    mountProvider(app, oidc.provider, config.IDP_ISSUER);
    hooks.onApp?.(app);
    return {
      // oidc-provider's and express's body parsers answer early at their size limits.
      handler: closeIfBodyUnread(app),
      checks: [databaseCheck(knex), ...(redis ? [redisCheck(redis)] : [])],
      async close() {
        await reset.drain();
        await mailer.stop();
        await relay?.stop();
        await revocationRetrier.stop();
        await oidc.close();
        await knex.destroy();
        redis?.disconnect();
      },
    };
  });
}
