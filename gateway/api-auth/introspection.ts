// The gateway as an introspecting client of the idp (RFC 7662): what an opaque access token
// stands for. Only the idp's answer decides; an idp that cannot answer decides nothing.
import type { Logger } from '../../lib/logger.ts';

export interface IntrospectionOptions {
  /** The idp's introspection endpoint, reached directly (IDP_UPSTREAM_URL), not through the gateway. */
  url: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
  logger?: Logger;
}

export type Introspection = { active: true; fields: Record<string, unknown> } | { active: false } | { unavailable: string };

const REFUSAL_LOG_EVERY_MS = 60_000;

export type Introspect = (token: string) => Promise<Introspection>;

/** RFC 6749 2.3.1: client credentials in Basic are form-urlencoded first. */
function basic(id: string, secret: string): string {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

export function createIntrospection(options: IntrospectionOptions): Introspect {
  const authorization = basic(options.clientId, options.clientSecret);
  // Concurrent requests with one token share one question to the idp.
  const inFlight = new Map<string, Promise<Introspection>>();
  let refusalLoggedAt = -Infinity;

  async function ask(token: string): Promise<Introspection> {
    try {
      const res = await fetch(options.url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        // The idp refused the gateway's own client (GATEWAY_OIDC_CLIENT_ID/_SECRET): no opaque token
        // can be accepted, the same as a token it does not know; ops must hear of it, once a minute.
        if (res.status === 400 || res.status === 401) {
          if (performance.now() - refusalLoggedAt > REFUSAL_LOG_EVERY_MS) {
            refusalLoggedAt = performance.now();
            options.logger?.error(
              { status: res.status, clientId: options.clientId },
              "introspection: the idp refused the gateway's client credentials; opaque access tokens are refused",
            );
          }
          return { active: false };
        }
        return { unavailable: `introspection answered ${res.status}` };
      }
      const body = (await res.json()) as unknown;
      if (typeof body !== 'object' || body === null || typeof (body as { active?: unknown }).active !== 'boolean')
        return { unavailable: 'introspection answer is not RFC 7662' };
      const fields = body as Record<string, unknown>;
      return fields.active === true ? { active: true, fields } : { active: false };
    } catch (error) {
      return { unavailable: `introspection failed: ${(error as Error).name}` };
    }
  }

  return (token) => {
    const pending = inFlight.get(token);
    if (pending) return pending;
    const asked = ask(token).finally(() => inFlight.delete(token));
    inFlight.set(token, asked);
    return asked;
  };
}
