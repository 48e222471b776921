// Prometheus metrics from oidc-provider's events: what was issued, to whom, and what failed.
// Labels are bounded: grant types and error codes are fixed lists, client ids are the
// registered clients (dynamic registration could grow them, which is why it is access-guarded).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { KoaContextWithOIDC, Provider } from 'oidc-provider';

const ERROR_EVENTS = [
  'authorization.error',
  'backchannel.error',
  'discovery.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'jwks.error',
  'registration_create.error',
  'registration_read.error',
  'revocation.error',
  'userinfo.error',
  'server_error',
] as const;

function errorCode(error: unknown): string {
  const e = error as { error?: unknown; expose?: boolean };
  if (e && e.expose && typeof e.error === 'string' && /^[a-z_]{1,64}$/.test(e.error)) return e.error;
  return 'server_error';
}

function clientIdOf(ctx: KoaContextWithOIDC | undefined): string {
  return ctx?.oidc?.client?.clientId ?? 'unknown';
}

export interface OidcMetricsOptions {
  registry: Registry;
  /** Signed-in sessions not yet expired or ended; read at scrape time. */
  activeSessions?: () => Promise<number>;
}

export function instrumentProvider(provider: Provider, options: OidcMetricsOptions): void {
  const { registry } = options;
  const issued = new Counter({
    name: 'idp_tokens_issued_total',
    help: 'Successful token and authorization responses, by grant type (implicit/hybrid at the authorization endpoint) and client',
    labelNames: ['grant_type', 'client_id'] as const,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'idp_oidc_errors_total',
    help: 'OAuth/OIDC error responses, by endpoint event and error code',
    labelNames: ['event', 'error'] as const,
    registers: [registry],
  });
  const revoked = new Counter({
    name: 'idp_grants_revoked_total',
    help: 'Grants revoked (revocation, refresh token reuse, reused codes, logout)',
    registers: [registry],
  });
  const reuse = new Counter({
    name: 'idp_token_reuse_total',
    help: 'A rotated refresh token or a used authorization code presented again (the grant is revoked)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  if (options.activeSessions) {
    const read = options.activeSessions;
    new Gauge({
      name: 'idp_sessions_active',
      help: 'Signed-in sessions that have neither expired nor ended',
      registers: [registry],
      async collect() {
        this.set(await read());
      },
    });
  }

  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const grantType = ctx.oidc.params?.grant_type;
    issued.inc({ grant_type: typeof grantType === 'string' ? grantType : 'unknown', client_id: clientIdOf(ctx) });
  });
  provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
    const responseType = ctx.oidc.params?.response_type;
    // A code alone is not a token; only front-channel tokens are counted here.
    if (typeof responseType === 'string' && responseType !== 'code' && responseType !== 'none') {
      issued.inc({ grant_type: responseType.includes('code') ? 'hybrid' : 'implicit', client_id: clientIdOf(ctx) });
    }
  });
  for (const event of ERROR_EVENTS) {
    provider.on(event, (ctx: KoaContextWithOIDC, error: unknown) => {
      const code = event === 'server_error' ? 'server_error' : errorCode(error);
      failures.inc({ event: event.replace(/\.error$/, ''), error: code });
      // oidc-provider says why a grant is invalid in error_detail (never sent to the client).
      const detail = (error as { error_detail?: unknown })?.error_detail;
      if (code === 'invalid_grant' && detail === 'refresh token already used') reuse.inc({ kind: 'refresh_token' });
      if (code === 'invalid_grant' && detail === 'authorization code already consumed') reuse.inc({ kind: 'authorization_code' });
      void ctx;
    });
  }
  provider.on('grant.revoked', () => revoked.inc());
}
