import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { clusterMetricsSource, isClusterWorker } from './cluster.ts';
import { databaseCheck, openServiceDatabase } from '../lib/db.ts';
import { isWebSocketUpgrade } from '../lib/http-server.ts';
import { requestIdOf } from '../lib/request-context.ts';
import { startService, type RunningService } from '../lib/service.ts';
import { compileTrust } from '../lib/trust-proxy.ts';
import { upstreamCheck } from './upstream-check.ts';
import { watchDependencies } from './dependencies.ts';
import { createActionRunner } from './actions.ts';
import { createAdminApp } from './admin/app.ts';
import { createAccessTokenVerifier } from './api-auth/access-token.ts';
import { createBucketCookies } from './canary.ts';
import { GATEWAY_MIGRATIONS_TABLE, gatewayMigrations } from './audit/migrations.ts';
import { createAuditLog } from './audit/store.ts';
import type { GatewayConfig } from './config.ts';
import { createDispatcher, type LiveRoute } from './dispatch.ts';
import { createMemoryFlagStore } from './flags/memory-store.ts';
import { createRedisFlagStore } from './flags/redis-store.ts';
import { createFlagRestorer } from './flags/restore.ts';
import { FlagTable } from './flags/table.ts';
import { createFlipper } from './flips.ts';
import { createGatewayMetrics } from './metrics.ts';
import { rejectUpgrade } from './proxy/upgrade.ts';
import { createUpstream, type Upstream } from './proxy/upstream.ts';
import { createAutoRollback, RollbackWatch } from './rollback.ts';
import { loadRouteTable } from './routes/file.ts';
import { createBackchannelLogout } from './signin/backchannel-logout.ts';
import { createSessionBridgeClient } from './signin/bridge.ts';
import { createMemoryLogoutIndex, createRedisLogoutIndex } from './signin/logout-index.ts';
import { createLogoutTokenVerifier } from './signin/logout-token.ts';
import { createRelyingParty } from './signin/handler.ts';
import { fallbackLegacyCookie } from './signin/legacy-cookie.ts';
import { createProviderConfiguration } from './signin/provider.ts';
import { Shadow } from './shadow/shadow.ts';
import { compileHostCheck } from './proxy/allowed-hosts.ts';

export async function startGateway(config: GatewayConfig): Promise<RunningService> {
  // Checked before anything opens: a bad route file stops the start with its message (TRUST_PROXY was checked with the configuration).
  const table = loadRouteTable(config.GATEWAY_ROUTES_FILE, { legacy: config.LEGACY_UPSTREAM_URL, idp: config.IDP_UPSTREAM_URL });
  const trusted = compileTrust(config.TRUST_PROXY);
  let upgrades: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
  let closeUpgrades = () => {};

  const service = await startService(
    'gateway',
    config,
    { port: config.GATEWAY_PORT, opsPort: config.GATEWAY_OPS_PORT },
    async ({ logger, metrics: http, finished }) => {
      const metrics = createGatewayMetrics(http.registry);
      // A flip and its audit row wait at most GATEWAY_DATABASE_TIMEOUT_MS for the database.
      const { knex, applied } = await openServiceDatabase(config.DATABASE_URL, config.GATEWAY_DATABASE_TIMEOUT_MS, {
        list: gatewayMigrations,
        tableName: GATEWAY_MIGRATIONS_TABLE,
      });
      if (applied.length) logger.info({ applied }, 'gateway database migrated');
      // The audit log is the record of intent: the embedded store starts from it, and a Redis that
      // lost or changed flags is restored from it (flags/restore.ts).
      const audit = createAuditLog(knex);
      const store = config.REDIS_URL ? createRedisFlagStore(config.REDIS_URL, config.REDIS_KEY_PREFIX, logger) : createMemoryFlagStore(await audit.latest());

      // The idp builds its discovery, endpoint and redirect URLs from X-Forwarded-Host/-Proto: it gets its issuer's, never the client's Host.
      const publicUrlOf = (name: string) => (name === 'idp' ? { publicUrl: config.IDP_ISSUER } : {});
      const upstreams = new Map<string, Upstream>(Object.entries(table.upstreams).map(([name, url]) => [name, createUpstream(name, url, publicUrlOf(name))]));
      const routes: LiveRoute[] = table.routes.map((definition) => {
        const route: LiveRoute = {
          name: definition.name,
          definition,
          defaultState: definition.default,
          flag: { state: definition.default, source: 'default' },
          legacy: upstreams.get(definition.legacy)!,
          next: upstreams.get(definition.new)!,
          rollback: undefined,
          traffic: { legacy: 0, new: 0, legacy5xx: 0, new5xx: 0 },
        };
        if (definition.autoRollback) route.rollback = new RollbackWatch(route, definition.autoRollback);
        return route;
      });

      const flags = new FlagTable(routes, store, logger, metrics, () => audit.latest());
      flags.onApplied((route) => (route as LiveRoute).rollback?.reset());
      const flip = createFlipper({ knex, store, table: flags, audit, metrics, logger });
      const restorer = createFlagRestorer({
        table: flags,
        store,
        audited: (route) => audit.latest(route),
        flip,
        graceMs: config.GATEWAY_FLAG_UNAUDITED_GRACE_MS,
        metrics,
        logger,
      });
      await flags.reload();
      flags.startPeriodicReload(config.GATEWAY_FLAG_RELOAD_MS);
      const rollBack = createAutoRollback({ flip, metrics, logger });
      const shadow = new Shadow({
        timeoutMs: config.GATEWAY_SHADOW_TIMEOUT_MS,
        maxInFlight: config.GATEWAY_SHADOW_MAX_IN_FLIGHT,
        maxBodyBytes: config.GATEWAY_SHADOW_MAX_BODY_BYTES,
        internalSecret: config.IDP_INTERNAL_SECRET,
        loginDecisions: new Map(table.routes.flatMap((r) => (r.loginDecision ? [[r.name, r.loginDecision] as const] : []))),
        loginChecksPerSecond: config.GATEWAY_SHADOW_LOGIN_CHECKS_PER_SECOND,
        loginChecksPerClientPerMinute: config.GATEWAY_SHADOW_LOGIN_CHECKS_PER_CLIENT_PER_MINUTE,
        trusted,
        metrics,
        logger,
      });
      // One verifier (one cached key set, one token cache) for the admin API, canary stickiness and
      // API routes; keys and introspection come from the idp directly, not through the gateway's
      // own routes. The gateway introspects as its OIDC client (the resource's introspection_clients).
      const idpUpstream = config.IDP_UPSTREAM_URL.replace(/\/+$/, '');
      const accessTokens = createAccessTokenVerifier({
        jwksUrl: `${idpUpstream}/jwks`,
        issuer: config.GATEWAY_TOKEN_ISSUER,
        clockToleranceSeconds: config.GATEWAY_TOKEN_CLOCK_TOLERANCE_S,
        jwksCooldownMs: config.GATEWAY_JWKS_COOLDOWN_MS,
        cacheSize: config.GATEWAY_TOKEN_CACHE_SIZE,
        introspection: {
          url: `${idpUpstream}/token/introspection`,
          clientId: config.GATEWAY_OIDC_CLIENT_ID,
          clientSecret: config.GATEWAY_OIDC_CLIENT_SECRET,
          timeoutMs: Math.min(config.UPSTREAM_TIMEOUT_MS, 5_000),
          cacheSeconds: config.GATEWAY_INTROSPECTION_CACHE_S,
          logger,
        },
      });
      const admin = createAdminApp({
        token: config.GATEWAY_ADMIN_TOKEN,
        accessTokens: { verifier: accessTokens, audience: config.GATEWAY_ADMIN_AUDIENCE, scope: config.GATEWAY_ADMIN_SCOPE, logger },
        routes,
        flip,
        audit,
        trusted,
      });
      // The OpenID Connect relying party and PHP session bridge (/auth/login, /auth/callback, /auth/logout, /auth/backchannel-logout).
      const publicUrl = config.GATEWAY_PUBLIC_URL ?? new URL(config.IDP_ISSUER).origin;
      const bridge = createSessionBridgeClient({
        idpUrl: config.IDP_UPSTREAM_URL,
        idpSecret: config.IDP_INTERNAL_SECRET,
        adapterUrl: config.LEGACY_ADAPTER_URL,
        adapterSecret: config.LEGACY_SESSION_BRIDGE_SECRET,
        timeoutMs: config.UPSTREAM_TIMEOUT_MS,
        fallbackCookie: fallbackLegacyCookie(config.LEGACY_SESSION_NAME),
      });
      const logoutIndex = config.REDIS_URL ? createRedisLogoutIndex(config.REDIS_URL, config.REDIS_KEY_PREFIX) : createMemoryLogoutIndex();
      const relyingParty = createRelyingParty({
        publicUrl,
        issuer: config.IDP_ISSUER,
        clientId: config.GATEWAY_OIDC_CLIENT_ID,
        cookieSecret: config.GATEWAY_AUTH_COOKIE_SECRET,
        provider: createProviderConfiguration({
          issuer: config.IDP_ISSUER,
          upstream: config.IDP_UPSTREAM_URL,
          clientId: config.GATEWAY_OIDC_CLIENT_ID,
          clientSecret: config.GATEWAY_OIDC_CLIENT_SECRET,
          timeoutMs: config.UPSTREAM_TIMEOUT_MS,
        }),
        bridge,
        logoutIndex,
        legacySessionLifetimeSeconds: config.LEGACY_SESSION_LIFETIME,
        backchannelLogout: createBackchannelLogout({
          verifier: createLogoutTokenVerifier({
            jwksUrl: `${config.IDP_UPSTREAM_URL.replace(/\/+$/, '')}/jwks`,
            issuer: config.IDP_ISSUER,
            clientId: config.GATEWAY_OIDC_CLIENT_ID,
            clockToleranceSeconds: config.GATEWAY_TOKEN_CLOCK_TOLERANCE_S,
          }),
          index: logoutIndex,
          bridge,
          lifetimeSeconds: config.LEGACY_SESSION_LIFETIME,
          clockToleranceSeconds: config.GATEWAY_TOKEN_CLOCK_TOLERANCE_S,
          metrics,
          logger,
        }),
        trusted,
        logger,
      });
      const dispatcher = createDispatcher({
        routes,
        hostAllowed: compileHostCheck(config.GATEWAY_ALLOWED_HOSTS),
        scriptSuffixes: table.scriptSuffixes,
        timeoutMs: config.UPSTREAM_TIMEOUT_MS,
        trusted,
        metrics,
        shadow,
        logger,
        admin,
        auth: relyingParty.handler,
        runAction: createActionRunner({ publicUrl, signout: relyingParty.signout }),
        // The sign-in cookie's secret; the bucket's key is derived from it for this purpose alone.
        buckets: createBucketCookies(config.GATEWAY_AUTH_COOKIE_SECRET),
        accessTokens,
        onRollback(route, reason) {
          rollBack(route, reason).catch(() => route.rollback?.reset());
        },
        finished,
      });
      upgrades = dispatcher.onUpgrade;
      const dependencies = watchDependencies({
        probes: [
          upstreamCheck('legacy', new URL(config.LEGACY_HEALTH_PATH, config.LEGACY_UPSTREAM_URL).href),
          upstreamCheck('idp', new URL('/healthz', config.IDP_UPSTREAM_URL).href),
          upstreamCheck('legacy-adapter', new URL('/healthz', config.LEGACY_ADAPTER_URL).href),
          databaseCheck(knex),
          ...store.probes,
        ],
        everyMs: config.GATEWAY_DEPENDENCY_PROBE_MS,
        metrics,
        logger,
      });
      closeUpgrades = dispatcher.closeUpgrades;

      return {
        handler: dispatcher.handler,
        hotPath: dispatcher.hotPath,
        metricsText: isClusterWorker() ? clusterMetricsSource(http.registry) : undefined,
        // Whether this process can serve: its flags are loaded (draining is lib/service's). Upstreams,
        // the database and Redis are not its readiness: they are on gateway_dependency_up.
        checks: [flags.readinessCheck()],
        async close() {
          dependencies.stop();
          restorer.stop();
          flags.stop();
          closeUpgrades();
          shadow.close();
          for (const upstream of upstreams.values()) {
            upstream.agent.destroy();
            upstream.pool?.close();
          }
          await store.close();
          await logoutIndex.close();
          await knex.destroy();
        },
      };
    },
  );
  service.server.on('upgrade', (req, socket, head) => {
    if (service.draining) return rejectUpgrade(socket, 503, 'draining', requestIdOf(req));
    // lib/http-server makes only WebSocket upgrades upgrades; a node before 24.9 ignores that option.
    if (!isWebSocketUpgrade(req)) return rejectUpgrade(socket, 400, 'bad_upgrade', requestIdOf(req));
    upgrades?.(req, socket, head);
  });
  // Upgraded connections are no longer HTTP: the drain cannot wait for them (server.close would
  // wait forever), so they are closed when the drain starts; WebSocket clients reconnect.
  const stop = service.stop.bind(service);
  const drain = service.drain.bind(service);
  return Object.assign(service, {
    stop() {
      closeUpgrades();
      return stop();
    },
    drain() {
      closeUpgrades();
      return drain();
    },
  });
}
