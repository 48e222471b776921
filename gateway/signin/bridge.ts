import type { z } from 'zod';
import { fillPath } from '../../contracts/endpoint.ts';
import { legacyIdentityEndpoint } from '../../contracts/idp-internal-api.ts';
import { createSessionEndpoint, deleteSessionEndpoint, sessionCookieEndpoint } from '../../contracts/session-bridge-api.ts';
import type { LegacySessionCookie } from '../../contracts/legacy-session-cookie.ts';

/** A fresh PHP session and the cookie that carries it, as the legacy-adapter says the monolith sets it. */
export interface BridgedSession {
  sessionId: string;
  cookie: LegacySessionCookie;
}

/** The internal calls of the session bridge: who the idp user is on the monolith, its PHP session and that session's cookie. */
export interface SessionBridgeClient {
  /** The legacy account of an idp user (`sub`), or undefined when there is none (or it is inactive). */
  legacyIdOf(sub: string): Promise<string | undefined>;
  /** A fresh PHP session for that legacy account; undefined when the monolith has no such active user. */
  createSession(legacyId: string): Promise<BridgedSession | undefined>;
  deleteSession(sessionId: string): Promise<void>;
  /** The monolith's session cookie (its name, to read it; its path and domain, to clear it). */
  cookie(): Promise<LegacySessionCookie>;
}

/** How long the announced cookie is trusted before it is asked again (a mapping change needs no gateway restart). */
const COOKIE_CACHE_MS = 60_000;

export class BridgeUnavailableError extends Error {
  constructor(what: string, status?: number) {
    super(`${what} unavailable${status === undefined ? '' : ` (HTTP ${status})`}`);
    this.name = 'BridgeUnavailableError';
  }
}

/**
 * `fallbackCookie` (from LEGACY_SESSION_NAME) is used only while the legacy-adapter announces no
 * cookie (one from before the cookie contract, during a rolling deploy).
 */
export function createSessionBridgeClient(options: {
  idpUrl: string;
  idpSecret: string;
  adapterUrl: string;
  adapterSecret: string;
  timeoutMs: number;
  fallbackCookie: LegacySessionCookie;
}): SessionBridgeClient {
  const idp = options.idpUrl.replace(/\/+$/, '');
  const adapter = options.adapterUrl.replace(/\/+$/, '');
  const call = async (what: string, url: string, secret: string, init: RequestInit = {}) => {
    try {
      return await fetch(url, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${secret}` },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch {
      throw new BridgeUnavailableError(what);
    }
  };
  let known: { cookie: LegacySessionCookie; at: number } | undefined;
  const announced = (value: LegacySessionCookie | undefined): LegacySessionCookie => {
    const cookie = value ?? options.fallbackCookie;
    known = { cookie, at: Date.now() };
    return cookie;
  };
  const parsed = async <S extends z.ZodType>(what: string, res: Response, schema: S): Promise<z.infer<S>> => {
    const answer = schema.safeParse(await res.json().catch(() => undefined));
    if (!answer.success) throw new BridgeUnavailableError(what);
    return answer.data;
  };
  return {
    async cookie() {
      if (known && Date.now() - known.at < COOKIE_CACHE_MS) return known.cookie;
      const res = await call('legacy-adapter', `${adapter}${sessionCookieEndpoint.path}`, options.adapterSecret);
      if (res.status === 404) {
        await res.body?.cancel();
        return announced(undefined);
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new BridgeUnavailableError('legacy-adapter', res.status);
      }
      return announced((await parsed('legacy-adapter', res, sessionCookieEndpoint.answer)).cookie);
    },
    async legacyIdOf(sub) {
      const res = await call('idp', `${idp}${fillPath(legacyIdentityEndpoint.path, { sub })}`, options.idpSecret);
      if (res.status === 404) return void (await res.body?.cancel());
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new BridgeUnavailableError('idp', res.status);
      }
      return (await parsed('idp', res, legacyIdentityEndpoint.answer)).legacyId;
    },
    async createSession(legacyId) {
      const res = await call('legacy-adapter', `${adapter}${createSessionEndpoint.path}`, options.adapterSecret, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ legacyId } satisfies z.input<typeof createSessionEndpoint.request>),
      });
      if (res.status === 404) return void (await res.body?.cancel());
      if (res.status !== 201) {
        await res.body?.cancel();
        throw new BridgeUnavailableError('legacy-adapter', res.status);
      }
      const body = await parsed('legacy-adapter', res, createSessionEndpoint.answer);
      return { sessionId: body.sessionId, cookie: announced(body.cookie) };
    },
    async deleteSession(sessionId) {
      const res = await call('legacy-adapter', `${adapter}${fillPath(deleteSessionEndpoint.path, { id: sessionId })}`, options.adapterSecret, {
        method: 'DELETE',
      });
      await res.body?.cancel();
      // 400: not a session id PHP could have made, so there is nothing to delete.
      if (res.status !== 204 && res.status !== 400) throw new BridgeUnavailableError('legacy-adapter', res.status);
    },
  };
}
